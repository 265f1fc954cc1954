// im2col.wgsl — the column matrix of a convolution and its adjoint, for conv2d as a matmul.
//
// The column matrix has one row per output position (n, oy, ox) of the convolution, M = N*OH*OW
// rows, and one column per kernel tap (ky, kx, c), K = KH*KW*C columns, padded to K4 (K rounded
// up to 4, so rows start on texel boundaries for matmul_texture.wgsl) with zero columns:
//   col[(n, oy, ox), (ky, kx, c)] = x[n, oy*sh + ky - pt, ox*sw + kx - pl, c]   (0 outside x)
// Then with the kernel as a [K, F] matrix (it is stored [kh, kw, c, f] row-major, exactly that),
//   y = col w,   dw = col^T dy,   dcol = dy w^T,   dx = col2im(dcol)
// and each product runs on the matmul kernels, which on llvmpipe reach 20-35 GFLOP/s against
// 1-6 for the direct convolution kernels on a layer with 32 input channels (benches/conv2d.rs).
//
// Entries (params: ConvParams as in conv2d.wgsl, with the `chunk` slot holding K4):
//   im2col    0 params, 1 x, 2 col (vec4)         4 consecutive columns of a row
//   im2col4   0 params, 1 x (vec4), 2 col (vec4)  the same when C % 4 == 0: the 4 columns are 4
//                                                 channels of one pixel, one vec4 load
//   col2im    0 params, 1 col, 2 dx               one dx value: the sum of <= KH*KW entries
//   col2im4   0 params, 1 col (vec4), 2 dx (vec4) 4 channels of one dx pixel when C % 4 == 0
// On llvmpipe every storage access is a per-lane loop, so the vec4 entries move 4 values per
// access (K4 = K then, and every 4-column group starts a channel group).
// 64 invocations per workgroup, grid folded to 2-D past 65,535 workgroups.
// Launcher: crates/device/src/ops/conv2d_gemm.rs.

struct ConvParams {
    n: u32, h: u32, w: u32, c: u32,
    oh: u32, ow: u32, f: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, pt: u32,
    pl: u32, has_bias: u32, k4: u32, act: u32,
}

@group(0) @binding(0) var<uniform> p: ConvParams;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

@group(0) @binding(1) var<storage, read> ic_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ic_col: array<vec4<f32>>;

// A vec4 store per invocation: on llvmpipe a storage access is a per-lane loop, so one store of
// 4 values instead of 4 stores. The tap (ky, kx, ch) of column j (= (ky*kw + kx)*c + ch) is
// found by division once and then stepped: AVX2 has no vector integer division, so on llvmpipe
// every `/` or `%` by a params value is a loop over the 8 lanes. Measured on the
// fashion_mnist_cnn's 25,088 x 12 column matrix (lavapipe, 3 alternating pairs): 1.8-2.3 ms
// with the divisions per tap, 1.06-1.15 ms stepped; and with the divisions left in f32 where
// the launcher allows (`udiv`, the prelude), 0.95-1.05 -> 0.71-0.75 ms.
@compute @workgroup_size(64)
fn im2col(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid);
    let per_row = p.k4 / 4u;
    if t >= p.n * p.oh * p.ow * per_row { return; }
    let pos = split_nhwc(t, per_row, p.ow, p.oh);
    let n = pos.x;
    let oy = pos.y;
    let ox = pos.z;
    let j = pos.w * 4u;
    let taps = p.kh * p.kw * p.c;
    let kc = udiv(j, p.c);
    var ch = j - kc * p.c;
    var ky = udiv(kc, p.kw);
    var kx = kc - ky * p.kw;
    var v = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
        // x at tap j + q of output position (n, oy, ox); 0 in the padding and in the K..K4
        // filler columns.
        let iy = i32(oy * p.sh + ky) - i32(p.pt);
        let ix = i32(ox * p.sw + kx) - i32(p.pl);
        if j + q < taps && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w) {
            v[q] = ic_x[((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch];
        }
        ch += 1u;
        if ch == p.c {
            ch = 0u;
            kx += 1u;
            if kx == p.kw {
                kx = 0u;
                ky += 1u;
            }
        }
    }
    ic_col[t] = v;
}

@group(0) @binding(1) var<storage, read> ci_col: array<f32>;
@group(0) @binding(2) var<storage, read_write> ci_dx: array<f32>;

// dx[n, iy, ix, c] = sum over (ky, kx) with iy = oy*sh + ky - pt, ix = ox*sw + kx - pl in range
//                    of dcol[(n, oy, ox), (ky, kx, c)]
// (the adjoint of im2col: every column entry that copied x[n, iy, ix, c] sends its gradient back).
@compute @workgroup_size(64)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
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
            acc += ci_col[((n * p.oh + oy) * p.ow + ox) * p.k4 + (ky * p.kw + kx) * p.c + ch];
        }
    }
    ci_dx[i] = acc;
}

@group(0) @binding(1) var<storage, read> ic4_x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ic4_col: array<vec4<f32>>;

@compute @workgroup_size(64)
fn im2col4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid);
    let per_row = p.k4 / 4u;
    if t >= p.n * p.oh * p.ow * per_row { return; }
    let pos = split_nhwc(t, per_row, p.ow, p.oh);
    let n = pos.x;
    let oy = pos.y;
    let ox = pos.z;
    let j = pos.w * 4u;
    let kc = udiv(j, p.c);
    let ch = j - kc * p.c;
    let ky = udiv(kc, p.kw);
    let kx = kc - ky * p.kw;
    let iy = i32(oy * p.sh + ky) - i32(p.pt);
    let ix = i32(ox * p.sw + kx) - i32(p.pl);
    var v = vec4<f32>(0.0);
    if iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w) {
        v = ic4_x[(((n * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch) / 4u];
    }
    ic4_col[t] = v;
}

@group(0) @binding(1) var<storage, read> ci4_col: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> ci4_dx: array<vec4<f32>>;

@compute @workgroup_size(64)
fn col2im4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if 4u * i >= p.n * p.h * p.w * p.c { return; }
    let ch = (4u * i) % p.c;
    let ix = (4u * i / p.c) % p.w;
    let iy = (4u * i / (p.c * p.w)) % p.h;
    let n = 4u * i / (p.c * p.w * p.h);
    var acc = vec4<f32>(0.0);
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
            acc += ci4_col[(((n * p.oh + oy) * p.ow + ox) * p.k4 + (ky * p.kw + kx) * p.c + ch) / 4u];
        }
    }
    ci4_dx[i] = acc;
}
