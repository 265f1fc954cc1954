// conv2d.wgsl — 2-D convolution in NHWC with kernels [kh, kw, in, out] (Keras channels_last).
//
// Padding is given as the top/left pad in pixels (the launcher computes Keras's 'valid'/'same'
// split); bottom/right padding is implied by the output size. Launcher:
// crates/device/src/ops/conv2d.rs. One invocation per output element, 64 per workgroup, grid
// folded to 2-D past 65,535 workgroups.
//   conv2d                  0 params, 1 x, 2 w, 3 bias, 4 y     y = x * w (+ bias if has_bias)
//   conv2d_backward_input   0 params, 1 dy, 2 w, 3 dx
//   conv2d_backward_weight  0 params, 1 x, 2 dy, 3 dw
// The bias gradient is a plain sum of dy over N, H, W (reduce.wgsl).

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct ConvParams {
    n: u32, h: u32, w: u32, c: u32,
    oh: u32, ow: u32, f: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, pt: u32,
    pl: u32, has_bias: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> c_x: array<f32>;
@group(0) @binding(2) var<storage, read> c_w: array<f32>;
@group(0) @binding(3) var<storage, read> c_bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c_y: array<f32>;

// y[n, oy, ox, f] = b[f] + sum_{ky, kx, c} x[n, oy*sh + ky - pt, ox*sw + kx - pl, c] w[ky, kx, c, f]
@compute @workgroup_size(64)
fn conv2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n * p.oh * p.ow * p.f { return; }
    let f = i % p.f;
    let ox = (i / p.f) % p.ow;
    let oy = (i / (p.f * p.ow)) % p.oh;
    let n = i / (p.f * p.ow * p.oh);
    var acc = 0.0;
    if p.has_bias == 1u {
        acc = c_bias[f];
    }
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = i32(oy * p.sh + ky) - i32(p.pt);
        if iy < 0 || iy >= i32(p.h) { continue; }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = i32(ox * p.sw + kx) - i32(p.pl);
            if ix < 0 || ix >= i32(p.w) { continue; }
            let xb = ((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c;
            let wb = (ky * p.kw + kx) * p.c * p.f + f;
            for (var ch = 0u; ch < p.c; ch++) {
                acc = fma(c_x[xb + ch], c_w[wb + ch * p.f], acc);
            }
        }
    }
    c_y[i] = acc;
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
@compute @workgroup_size(64)
fn conv2d_backward_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.kh * p.kw * p.c * p.f { return; }
    let f = i % p.f;
    let ch = (i / p.f) % p.c;
    let kx = (i / (p.f * p.c)) % p.kw;
    let ky = i / (p.f * p.c * p.kw);
    var acc = 0.0;
    for (var n = 0u; n < p.n; n++) {
        for (var oy = 0u; oy < p.oh; oy++) {
            let iy = i32(oy * p.sh + ky) - i32(p.pt);
            if iy < 0 || iy >= i32(p.h) { continue; }
            for (var ox = 0u; ox < p.ow; ox++) {
                let ix = i32(ox * p.sw + kx) - i32(p.pl);
                if ix < 0 || ix >= i32(p.w) { continue; }
                let xv = bw_x[((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch];
                acc = fma(xv, bw_dy[((n * p.oh + oy) * p.ow + ox) * p.f + f], acc);
            }
        }
    }
    bw_dw[i] = acc;
}
