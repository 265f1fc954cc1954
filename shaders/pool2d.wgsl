// pool2d.wgsl — max and average pooling in NHWC, with their backward passes.
//
// Padding is the top/left pad (Keras 'same' split computed by the launcher); padded cells never
// take part: max ignores them and average divides by the number of real cells, as TensorFlow does.
// Launcher: crates/device/src/ops/pool2d.rs. One invocation per element of the tensor written,
// 64 per workgroup, grid folded to 2-D past 65,535 workgroups. The max-pool forwards split their
// index with `udiv` (the prelude: f32 division where the launcher sets SMALL_DIV).
//   max_pool2d           0 params, 1 x, 2 y, 3 argmax (u32 flat index into x)
//   max_pool2d4          the same for 4 channels per invocation, when c % 4 == 0: vec4 loads
//                        and stores (a storage access is a per-lane loop on llvmpipe) and a
//                        quarter of the index divisions
//   max_pool2d_backward  0 params, 1 dy, 2 argmax, 3 dx    gather: each dx sums the dy of the
//                        windows whose recorded argmax is itself (deterministic, no atomics)
//   max_pool2d_backward_scatter  0 params, 1 dy, 2 argmax, 3 dx (zeroed by the launcher)
//                        one invocation per window: dx[argmax] = dy. Only for windows that do
//                        not overlap (stride >= window), where no two windows share an input;
//                        a quarter of the invocations of the gather at 2x2 and no divisions.
//   max_pool2d_backward_scatter4  the same for 4 channels per invocation, when c % 4 == 0: dy
//                        and argmax read as vec4s (one per-lane load loop each instead of 4,
//                        and 64-bit words in the wide flavour), 4 scalar stores. The CNN's
//                        32x28x28x32 gradient with its clear, alternating in one process,
//                        medians of 58 (2026-12-08, lavapipe): 1.14 -> 0.79 ms
//   avg_pool2d           0 params, 1 x, 2 y
//   avg_pool2d_backward  0 params, 1 dy, 2 dx              dx = sum over windows of dy / count

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct PoolParams {
    n: u32, h: u32, w: u32, c: u32,
    oh: u32, ow: u32, ph: u32, pw: u32,
    sh: u32, sw: u32, pt: u32, pl: u32,
}

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> arg: array<u32>;

// Window of output (oy, ox) clipped to the input: [y0, y1) x [x0, x1).
fn window(oy: u32, ox: u32) -> vec4<u32> {
    let ty = i32(oy * p.sh) - i32(p.pt);
    let tx = i32(ox * p.sw) - i32(p.pl);
    let y0 = u32(max(ty, 0));
    let x0 = u32(max(tx, 0));
    let y1 = u32(clamp(ty + i32(p.ph), 0, i32(p.h)));
    let x1 = u32(clamp(tx + i32(p.pw), 0, i32(p.w)));
    return vec4<u32>(y0, y1, x0, x1);
}

@compute @workgroup_size(64)
fn max_pool2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n * p.oh * p.ow * p.c { return; }
    let pos = split_nhwc(i, p.c, p.ow, p.oh);
    let n = pos.x;
    let oy = pos.y;
    let ox = pos.z;
    let ch = pos.w;
    let win = window(oy, ox);
    var best = -3.4028235e38;
    var best_i = 0xffffffffu;
    for (var yy = win.x; yy < win.y; yy++) {
        for (var xx = win.z; xx < win.w; xx++) {
            let xi = ((n * p.h + yy) * p.w + xx) * p.c + ch;
            let v = x[xi];
            if best_i == 0xffffffffu || v > best {
                best = v;
                best_i = xi;
            }
        }
    }
    y[i] = best;
    arg[i] = best_i;
}

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> arg4: array<vec4<u32>>;

@compute @workgroup_size(64)
fn max_pool2d4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    let c4 = p.c / 4u;
    if i >= p.n * p.oh * p.ow * c4 { return; }
    let pos = split_nhwc(i, c4, p.ow, p.oh);
    let n = pos.x;
    let oy = pos.y;
    let ox = pos.z;
    let ch4 = pos.w;
    let win = window(oy, ox);
    var best = vec4<f32>(-3.4028235e38);
    var best_i = vec4<u32>(0xffffffffu);
    for (var yy = win.x; yy < win.y; yy++) {
        for (var xx = win.z; xx < win.w; xx++) {
            let x4i = ((n * p.h + yy) * p.w + xx) * c4 + ch4;
            let v = x4[x4i];
            // Per channel, as max_pool2d: the first cell, then strictly greater values.
            let take = (best_i == vec4<u32>(0xffffffffu)) | (v > best);
            best = select(best, v, take);
            best_i = select(best_i, vec4<u32>(4u * x4i) + vec4<u32>(0u, 1u, 2u, 3u), take);
        }
    }
    y4[i] = best;
    arg4[i] = best_i;
}

@group(0) @binding(1) var<storage, read> b_dy: array<f32>;
@group(0) @binding(2) var<storage, read> b_arg: array<u32>;
@group(0) @binding(3) var<storage, read_write> b_dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> ab_dx: array<f32>;

@compute @workgroup_size(64)
fn max_pool2d_backward_scatter(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if o >= p.n * p.oh * p.ow * p.c { return; }
    b_dx[b_arg[o]] = b_dy[o];
}

@group(0) @binding(1) var<storage, read> b4_dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4_arg: array<vec4<u32>>;

@compute @workgroup_size(64)
fn max_pool2d_backward_scatter4(@builtin(workgroup_id) wid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>,
                                @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if 4u * o >= p.n * p.oh * p.ow * p.c { return; }
    let dy = b4_dy[o];
    let arg = b4_arg[o];
    for (var q = 0u; q < 4u; q++) {
        b_dx[arg[q]] = dy[q];
    }
}

// Output rows whose window contains input row `v` (kernel k, stride s, pad pd, out size o).
fn covering(v: u32, k: u32, s: u32, pd: u32, o: u32) -> vec2<u32> {
    let t = i32(v + pd);
    let lo = max(t - i32(k) + i32(s), 0) / i32(s); // ceil((t - k + 1) / s), clamped at 0
    let hi = min(t / i32(s) + 1, i32(o));          // floor(t / s) + 1, clamped at o
    return vec2<u32>(u32(lo), u32(max(hi, lo)));
}

@compute @workgroup_size(64)
fn max_pool2d_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n * p.h * p.w * p.c { return; }
    let ch = i % p.c;
    let ix = (i / p.c) % p.w;
    let iy = (i / (p.c * p.w)) % p.h;
    let n = i / (p.c * p.w * p.h);
    let ry = covering(iy, p.ph, p.sh, p.pt, p.oh);
    let rx = covering(ix, p.pw, p.sw, p.pl, p.ow);
    var acc = 0.0;
    for (var oy = ry.x; oy < ry.y; oy++) {
        for (var ox = rx.x; ox < rx.y; ox++) {
            let o = ((n * p.oh + oy) * p.ow + ox) * p.c + ch;
            if b_arg[o] == i {
                acc += b_dy[o];
            }
        }
    }
    b_dx[i] = acc;
}

@compute @workgroup_size(64)
fn avg_pool2d(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n * p.oh * p.ow * p.c { return; }
    let ch = i % p.c;
    let ox = (i / p.c) % p.ow;
    let oy = (i / (p.c * p.ow)) % p.oh;
    let n = i / (p.c * p.ow * p.oh);
    let win = window(oy, ox);
    var acc = 0.0;
    for (var yy = win.x; yy < win.y; yy++) {
        for (var xx = win.z; xx < win.w; xx++) {
            acc += x[((n * p.h + yy) * p.w + xx) * p.c + ch];
        }
    }
    y[i] = acc / f32((win.y - win.x) * (win.w - win.z));
}

@compute @workgroup_size(64)
fn avg_pool2d_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n * p.h * p.w * p.c { return; }
    let ch = i % p.c;
    let ix = (i / p.c) % p.w;
    let iy = (i / (p.c * p.w)) % p.h;
    let n = i / (p.c * p.w * p.h);
    let ry = covering(iy, p.ph, p.sh, p.pt, p.oh);
    let rx = covering(ix, p.pw, p.sw, p.pl, p.ow);
    var acc = 0.0;
    for (var oy = ry.x; oy < ry.y; oy++) {
        for (var ox = rx.x; ox < rx.y; ox++) {
            let win = window(oy, ox);
            let count = f32((win.y - win.x) * (win.w - win.z));
            acc += b_dy[((n * p.oh + oy) * p.ow + ox) * p.c + ch] / count;
        }
    }
    ab_dx[i] = acc;
}
