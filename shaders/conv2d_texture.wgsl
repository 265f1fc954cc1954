// conv2d_texture.wgsl — conv2d forward and weight gradient for CPU-type adapters, inputs read
// from staging textures (flat rgba32float: texel t at (t % 256, t / 256) holds elements
// 4t..4t+3). Same maths and work split as conv2d.wgsl; only the loads differ: per-lane
// storage loads stall on llvmpipe (see matmul_texture.wgsl), texel fetches are gathers, and a
// block of 8 filters is two texel fetches instead of 8 loads. Needs F % 4 == 0 (the launcher
// checks), so every 8-filter block starts on a texel boundary.
// Launcher: crates/device/src/ops/conv2d.rs. 64 invocations per workgroup, grid folded to 2-D.
//   conv2d_texture                  0 params, 1 x, 2 w, 3 bias (textures), 4 y, with the
//                                   activation epilogue of conv2d.wgsl (activation.wgsl)
//   conv2d_backward_weight_texture  0 params, 1 x, 2 dy (textures), 3 partial

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
@group(0) @binding(1) var t1: texture_2d<f32>;
@group(0) @binding(2) var t2: texture_2d<f32>;
@group(0) @binding(3) var t3: texture_2d<f32>;
@group(0) @binding(4) var<storage, read_write> c_y: array<f32>;

fn texel(t: u32) -> vec2<i32> {
    return vec2<i32>(i32(t % 256u), i32(t / 256u));
}

// Element i of the first input.
fn first(i: u32) -> f32 {
    return textureLoad(t1, texel(i / 4u), 0)[i % 4u];
}

// y[n, oy, ox, f] = b[f] + sum_{ky, kx, c} x[n, oy*sh + ky - pt, ox*sw + kx - pl, c] w[ky, kx, c, f]
// 4 output pixels x 8 filters per invocation, as in conv2d.wgsl.
@compute @workgroup_size(64)
fn conv2d_texture(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
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
    let wlast = (p.kh * p.kw * p.c * p.f) / 4u - 1u;
    var acc: array<vec4<f32>, 8>;
    if p.has_bias == 1u {
        let blast = p.f / 4u - 1u;
        let b0 = textureLoad(t3, texel(f0 / 4u), 0);
        let b1 = textureLoad(t3, texel(min(f0 / 4u + 1u, blast)), 0);
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
                let wb = (((ky * p.kw + kx) * p.c + ch) * p.f + f0) / 4u;
                let w0 = textureLoad(t2, texel(wb), 0);
                let w1 = textureLoad(t2, texel(min(wb + 1u, wlast)), 0);
                for (var j = 0u; j < 4u; j++) {
                    let ix = i32((ox0 + j) * p.sw + kx) - i32(p.pl);
                    if ix < 0 || ix >= i32(p.w) || ox0 + j >= p.ow { continue; }
                    let xv = vec4<f32>(first(((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch));
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

@group(0) @binding(3) var<storage, read_write> bw_dw: array<f32>;

// dw[ky, kx, c, f] = sum_{n, oy, ox} x[n, oy*sh + ky - pt, ox*sw + kx - pl, c] dy[n, oy, ox, f]
// Chunked partial sums over output positions, summed by the launcher, as in conv2d.wgsl.
@compute @workgroup_size(64)
fn conv2d_backward_weight_texture(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
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
    let dlast = (positions * p.f) / 4u - 1u;
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
        let xv = vec4<f32>(first(((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch));
        let db = (m * p.f + f0) / 4u;
        a0 = fma(xv, textureLoad(t2, texel(db), 0), a0);
        a1 = fma(xv, textureLoad(t2, texel(min(db + 1u, dlast)), 0), a1);
    }
    let ob = ci * taps * p.f + tap * p.f;
    for (var k = 0u; k < 8u; k++) {
        if f0 + k < p.f {
            bw_dw[ob + f0 + k] = select(a1[k % 4u], a0[k % 4u], k < 4u);
        }
    }
}
