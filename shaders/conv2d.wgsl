// conv2d.wgsl — 2-D convolution in NHWC with kernels [kh, kw, in, out] (Keras channels_last).
//
// Padding is given as the top/left pad in pixels (the launcher computes Keras's 'valid'/'same'
// split); bottom/right padding is implied by the output size. Launcher:
// crates/device/src/ops/conv2d.rs. 64 invocations per workgroup, grid folded to 2-D past 65,535
// workgroups; each entry's comment gives what one invocation computes.
//   conv2d                  0 params, 1 x, 2 w, 3 bias, 4 y     y = act(x * w (+ bias if has_bias))
//   conv2d_backward_input   0 params, 1 dy, 2 w, 3 dx
//   conv2d_backward_weight  0 params, 1 x, 2 dy, 3 partial [chunks, kh, kw, in, out]
// The bias gradient is a plain sum of dy over N, H, W (reduce.wgsl). act is one of
// activation.wgsl's codes (appended to this file): a Conv2D layer with relu is one dispatch.

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct ConvParams {
    n: u32, h: u32, w: u32, c: u32,
    oh: u32, ow: u32, f: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, pt: u32,
    pl: u32, has_bias: u32, chunk: u32, act: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> c_x: array<f32>;
@group(0) @binding(2) var<storage, read> c_w: array<f32>;
@group(0) @binding(3) var<storage, read> c_bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c_y: array<f32>;

// y[n, oy, ox, f] = b[f] + sum_{ky, kx, c} x[n, oy*sh + ky - pt, ox*sw + kx - pl, c] w[ky, kx, c, f]
// Register tile: each invocation computes 4 neighbouring output pixels x 8 filters (two vec4
// accumulators per pixel), so a (ky, kx, c) step is 8 + 4 loads for 32 multiply-adds.
// Invocation i -> filter block (fastest), pixel block, then output row (n, oy).
@compute @workgroup_size(64)
fn conv2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    let fb = (p.f + 7u) / 8u;
    let xb = (p.ow + 3u) / 4u;
    if i >= p.n * p.oh * xb * fb { return; }
    let f0 = (i % fb) * 8u;
    let ox0 = ((i / fb) % xb) * 4u;
    let row = i / (fb * xb);
    let oy = row % p.oh;
    let n = row / p.oh;
    let wlast = p.kh * p.kw * p.c * p.f - 1u;
    var acc: array<vec4<f32>, 8>;
    if p.has_bias == 1u {
        let blast = p.f - 1u;
        let b0 = vec4<f32>(c_bias[min(f0, blast)], c_bias[min(f0 + 1u, blast)], c_bias[min(f0 + 2u, blast)], c_bias[min(f0 + 3u, blast)]);
        let b1 = vec4<f32>(c_bias[min(f0 + 4u, blast)], c_bias[min(f0 + 5u, blast)], c_bias[min(f0 + 6u, blast)], c_bias[min(f0 + 7u, blast)]);
        for (var j = 0u; j < 4u; j++) {
            acc[2u * j] = b0;
            acc[2u * j + 1u] = b1;
        }
    }
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = i32(oy * p.sh + ky) - i32(p.pt);
        if iy < 0 || iy >= i32(p.h) { continue; }
        for (var kx = 0u; kx < p.kw; kx++) {
            for (var ch = 0u; ch < p.c; ch++) {
                let wb = ((ky * p.kw + kx) * p.c + ch) * p.f + f0;
                let w0 = vec4<f32>(c_w[min(wb, wlast)], c_w[min(wb + 1u, wlast)], c_w[min(wb + 2u, wlast)], c_w[min(wb + 3u, wlast)]);
                let w1 = vec4<f32>(c_w[min(wb + 4u, wlast)], c_w[min(wb + 5u, wlast)], c_w[min(wb + 6u, wlast)], c_w[min(wb + 7u, wlast)]);
                for (var j = 0u; j < 4u; j++) {
                    let ix = i32((ox0 + j) * p.sw + kx) - i32(p.pl);
                    if ix < 0 || ix >= i32(p.w) || ox0 + j >= p.ow { continue; }
                    let xv = vec4<f32>(c_x[((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch]);
                    acc[2u * j] = fma(xv, w0, acc[2u * j]);
                    acc[2u * j + 1u] = fma(xv, w1, acc[2u * j + 1u]);
                }
            }
        }
    }
    if p.act != ACT_LINEAR {
        for (var q = 0u; q < 8u; q++) {
            acc[q] = activate4(acc[q], p.act);
        }
    }
    for (var j = 0u; j < 4u; j++) {
        let ox = ox0 + j;
        if ox >= p.ow { break; }
        let yb = ((n * p.oh + oy) * p.ow + ox) * p.f;
        for (var k = 0u; k < 8u; k++) {
            if f0 + k < p.f {
                c_y[yb + f0 + k] = acc[2u * j + k / 4u][k % 4u];
            }
        }
    }
}

@group(0) @binding(1) var<storage, read> bi_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bi_w: array<f32>;
@group(0) @binding(3) var<storage, read_write> bi_dx: array<f32>;

// dx[n, iy, ix, c] = sum over (ky, kx, f) with iy = oy*sh + ky - pt, ix = ox*sw + kx - pl in range
//                    of dy[n, oy, ox, f] w[ky, kx, c, f]
@compute @workgroup_size(64)
fn conv2d_backward_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                         @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n * p.h * p.w * p.c { return; }
    let ch = i % p.c;
    let ix = (i / p.c) % p.w;
    let iy = (i / (p.c * p.w)) % p.h;
    let n = i / (p.c * p.w * p.h);
    var acc = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let ty = i32(iy + p.pt) - i32(ky);
        if ty < 0 || ty % i32(p.sh) != 0 { continue; }
        let oy = u32(ty) / p.sh;
        if oy >= p.oh { continue; }
        for (var kx = 0u; kx < p.kw; kx++) {
            let tx = i32(ix + p.pl) - i32(kx);
            if tx < 0 || tx % i32(p.sw) != 0 { continue; }
            let ox = u32(tx) / p.sw;
            if ox >= p.ow { continue; }
            let db = ((n * p.oh + oy) * p.ow + ox) * p.f;
            let wb = ((ky * p.kw + kx) * p.c + ch) * p.f;
            for (var f = 0u; f < p.f; f++) {
                acc = fma(bi_dy[db + f], bi_w[wb + f], acc);
            }
        }
    }
    bi_dx[i] = acc;
}

@group(0) @binding(1) var<storage, read> bw_x: array<f32>;
@group(0) @binding(2) var<storage, read> bw_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> bw_dw: array<f32>;

// dw[ky, kx, c, f] = sum_{n, oy, ox} x[n, oy*sh + ky - pt, ox*sw + kx - pl, c] dy[n, oy, ox, f]
// Split reduction: the N*OH*OW output positions are cut into chunks of `p.chunk` positions; each
// invocation sums one chunk for one (ky, kx, c) and 8 filters, writing partial[chunk][ky, kx, c, f].
// The launcher then sums the partials over chunks (reduce.wgsl), so thousands of short loops run
// in parallel instead of KH*KW*C*F long ones. Invocation i -> filter block (fastest), (ky, kx, c),
// then chunk.
@compute @workgroup_size(64)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    let fb = (p.f + 7u) / 8u;
    let taps = p.kh * p.kw * p.c;
    let positions = p.n * p.oh * p.ow;
    let chunk = p.chunk;
    let chunks = (positions + chunk - 1u) / chunk;
    if i >= chunks * taps * fb { return; }
    let f0 = (i % fb) * 8u;
    let tap = (i / fb) % taps;
    let ci = i / (fb * taps);
    let ch = tap % p.c;
    let kx = (tap / p.c) % p.kw;
    let ky = tap / (p.c * p.kw);
    let dlast = positions * p.f - 1u;
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    let end = min((ci + 1u) * chunk, positions);
    for (var m = ci * chunk; m < end; m++) {
        let ox = m % p.ow;
        let oy = (m / p.ow) % p.oh;
        let n = m / (p.ow * p.oh);
        let iy = i32(oy * p.sh + ky) - i32(p.pt);
        let ix = i32(ox * p.sw + kx) - i32(p.pl);
        if iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w) { continue; }
        let xv = vec4<f32>(bw_x[((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch]);
        let db = m * p.f + f0;
        let d0 = vec4<f32>(bw_dy[min(db, dlast)], bw_dy[min(db + 1u, dlast)], bw_dy[min(db + 2u, dlast)], bw_dy[min(db + 3u, dlast)]);
        let d1 = vec4<f32>(bw_dy[min(db + 4u, dlast)], bw_dy[min(db + 5u, dlast)], bw_dy[min(db + 6u, dlast)], bw_dy[min(db + 7u, dlast)]);
        a0 = fma(xv, d0, a0);
        a1 = fma(xv, d1, a1);
    }
    let ob = ci * taps * p.f + tap * p.f;
    for (var k = 0u; k < 8u; k++) {
        if f0 + k < p.f {
            bw_dw[ob + f0 + k] = select(a1[k % 4u], a0[k % 4u], k < 4u);
        }
    }
}
