// reduce.wgsl — reductions over one axis, and the gradient helpers that undo them.
//
// A reduced tensor is viewed as [outer, len, inner] with the axis in the middle (reducing "all"
// is outer = inner = 1). Launcher: crates/device/src/ops/reduce.rs.
//   reduce           out[o, i] = sum | mean | max over the axis     0 params, 1 x, 2 out (f32)
//   argmax           out[o, i] = first index of the maximum          0 params, 1 x, 2 out (u32)
//     Geometry: one workgroup of 64 per output (grid folded to 2-D past 65,535); each invocation
//     strides over the axis, then a shared-memory tree combines the 64 partials.
//   reduce_rows      the same for short axes (len <= 256: bias gradients, per-row losses):
//     one invocation per output walks the whole axis; no shared memory, no barriers (a
//     barrier-heavy tree over 32 values cost 344 us per bias gradient on lavapipe).
//                                                                    0 params, 1 x, 2 out (f32)
//   reduce_backward  dx[o, a, i] from dy[o, i]                       0 params, 1 dy, 2 idx, 3 dx
//     sum: dy, mean: dy / len, max: dy at the recorded argmax, 0 elsewhere. One element each.
//   sum_to_shape     sums a broadcast gradient back to an operand's shape
//                                                                    0 params, 1 src, 2 dst
//     One invocation per destination element; it loops over the `red_count` source elements
//     that broadcast from it.
// Op codes: the prelude's `REDUCE_SUM`, `REDUCE_MEAN`, `REDUCE_MAX` (crates/device/src/codes.rs).

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct ReduceParams { outer: u32, len: u32, inner: u32, op: u32, scale: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> rp: ReduceParams;
@group(0) @binding(1) var<storage, read> r_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> r_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> r_idx: array<u32>;

var<workgroup> sh_val: array<f32, 64>;
var<workgroup> sh_idx: array<u32, 64>;

// Reduces output `o` into sh_val[0] / sh_idx[0]. `o` is uniform across the workgroup.
fn reduce_core(o: u32, lid: u32, op: u32) {
    let base = (o / rp.inner) * rp.len * rp.inner + o % rp.inner;
    var acc = 0.0;
    var best = 0u;
    if op == REDUCE_MAX {
        acc = -3.4028235e38;
    }
    var first = true;
    for (var a = lid; a < rp.len; a += 64u) {
        let v = r_x[base + a * rp.inner];
        if op == REDUCE_MAX {
            if first || v > acc {
                acc = v;
                best = a;
            }
            first = false;
        } else {
            acc += v;
        }
    }
    if op == REDUCE_MAX && first {
        best = 0xffffffffu; // this invocation saw no element
    }
    sh_val[lid] = acc;
    sh_idx[lid] = best;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if lid < s {
            if op == REDUCE_MAX {
                let vo = sh_val[lid + s];
                let io = sh_idx[lid + s];
                let take = io != 0xffffffffu && (sh_idx[lid] == 0xffffffffu || vo > sh_val[lid]
                    || (vo == sh_val[lid] && io < sh_idx[lid]));
                if take {
                    sh_val[lid] = vo;
                    sh_idx[lid] = io;
                }
            } else {
                sh_val[lid] += sh_val[lid + s];
            }
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(64)
fn reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let o = wid.y * nwg.x + wid.x;
    if o >= rp.outer * rp.inner { return; }
    reduce_core(o, lid, rp.op);
    if lid == 0u {
        var v = sh_val[0];
        if rp.op == REDUCE_MEAN {
            v = v / f32(rp.len);
        }
        r_out[o] = v;
    }
}

@compute @workgroup_size(64)
fn reduce_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let o = linear_id(wid, nwg, lid);
    if o >= rp.outer * rp.inner { return; }
    let base = (o / rp.inner) * rp.len * rp.inner + o % rp.inner;
    var acc = 0.0;
    if rp.op == REDUCE_MAX {
        acc = -3.4028235e38;
    }
    var first = true;
    for (var a = 0u; a < rp.len; a++) {
        let v = r_x[base + a * rp.inner];
        if rp.op == REDUCE_MAX {
            if first || v > acc {
                acc = v;
            }
            first = false;
        } else {
            acc += v;
        }
    }
    if rp.op == REDUCE_MEAN {
        acc = acc / f32(rp.len);
    }
    r_out[o] = acc;
}

@compute @workgroup_size(64)
fn argmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let o = wid.y * nwg.x + wid.x;
    if o >= rp.outer * rp.inner { return; }
    reduce_core(o, lid, 2u);
    if lid == 0u {
        r_idx[o] = sh_idx[0];
    }
}

@group(0) @binding(1) var<storage, read> rb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> rb_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> rb_dx: array<f32>;

// d sum / dx = 1, d mean / dx = 1/len (rp.scale), d max / dx = 1 at the argmax only.
@compute @workgroup_size(64)
fn reduce_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= rp.outer * rp.len * rp.inner { return; }
    let ii = i % rp.inner;
    let a = (i / rp.inner) % rp.len;
    let o = i / (rp.inner * rp.len);
    let j = o * rp.inner + ii;
    if rp.op == REDUCE_MAX {
        rb_dx[i] = select(0.0, rb_dy[j], rb_idx[j] == a);
    } else {
        rb_dx[i] = rb_dy[j] * rp.scale;
    }
}

// Destination element (coords over `shape`) starts at source offset sum(c * src_strides); the
// broadcast dims (`red_shape`, `red_strides`) are walked from there.
struct SumToShapeParams {
    n: u32, rank: u32, red_rank: u32, red_count: u32,
    shape: array<vec4<u32>, 2>,
    src_strides: array<vec4<u32>, 2>,
    red_shape: array<vec4<u32>, 2>,
    red_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> sp: SumToShapeParams;
@group(0) @binding(1) var<storage, read> s_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> s_dst: array<f32>;

@compute @workgroup_size(64)
fn sum_to_shape(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= sp.n { return; }
    var rem = i;
    var base = 0u;
    for (var d = i32(sp.rank) - 1; d >= 0; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        base += (rem % sp.shape[q][r]) * sp.src_strides[q][r];
        rem = rem / sp.shape[q][r];
    }
    var acc = 0.0;
    for (var j = 0u; j < sp.red_count; j++) {
        var jr = j;
        var off = base;
        for (var d = i32(sp.red_rank) - 1; d >= 0; d--) {
            let q = u32(d) / 4u;
            let r = u32(d) % 4u;
            off += (jr % sp.red_shape[q][r]) * sp.red_strides[q][r];
            jr = jr / sp.red_shape[q][r];
        }
        acc += s_src[off];
    }
    s_dst[i] = acc;
}
