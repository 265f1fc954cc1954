// batchnorm.wgsl — batch normalization over the rows of an [rows, channels] view (NHWC tensors:
// rows = N*H*W), training mode: the batch statistics, the normalization, and its gradient.
//
// Entry points (launcher: crates/device/src/ops/batchnorm.rs):
//   bn_stats            stats[c] = mean, stats[C + c] = 1 / sqrt(var + eps), stats[2C + c] = var
//                       (biased, as Keras) of channel c
//                                           bindings: 0 params, 1 x, 2 stats
//     Geometry: one workgroup of 64 per channel (grid folded to 2-D past 65,535); each
//     invocation strides over the rows, a shared-memory tree combines the partials; a second
//     sweep sums the squared deviations from the mean (two passes: no cancellation).
//   bn_normalize        y = (x - mean) * inv * gamma + beta
//                                           bindings: 0 params, 1 x, 2 stats, 3 gamma, 4 beta, 5 y
//     Geometry: one element per invocation, 64 per workgroup, grid folded to 2-D.
//   bn_backward_reduce  sums[c] = dbeta[c] = sum of dy, sums[C + c] = dgamma[c] = sum of dy * xhat,
//                       xhat = (x - mean) * inv (one output: dbeta and dgamma may be views of
//                       one packed gradient buffer, which a dispatch cannot write twice)
//                                           bindings: 0 params, 1 x, 2 dy, 3 stats, 4 sums
//     Geometry: as bn_stats.
//   bn_backward_dx      dx = gamma * inv / M * (M dy - dbeta - xhat dgamma), M = rows
//                                           bindings: 0 params, 1 x, 2 dy, 3 stats, 4 gamma,
//                                           5 sums, 6 dx
//     Geometry: as bn_normalize.
//   bn_moving_update    moving[c] = moving[c] * momentum + batch[c] * (1 - momentum), in place, for
//                       one statistic (row `row` of stats: 0 the mean, 2 the variance); flushed to
//                       zero below the smallest normal f32 (a dead channel's moving variance
//                       decays by 0.99 per step into the denormals otherwise: optim.wgsl says why
//                       that matters on llvmpipe)
//                                           bindings: 0 moving params, 1 stats, 2 moving
//     Geometry: one channel per invocation, 64 per workgroup, grid folded to 2-D.
//
// Derivation of dx: y = gamma xhat + beta, xhat_i = (x_i - mean) s, s = (var + eps)^(-1/2),
// mean = sum x / M, var = sum (x - mean)^2 / M. Then d xhat_j / d x_i = s (delta_ij - 1/M -
// xhat_i xhat_j / M), so dL/dx_i = gamma s / M (M g_i - sum_j g_j - xhat_i sum_j g_j xhat_j).

struct BnParams { rows: u32, channels: u32, eps: f32, inv_rows: f32 }

@group(0) @binding(0) var<uniform> p: BnParams;

var<workgroup> part: array<f32, 64>;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

// The sum over the workgroup of each invocation's `v` (every invocation gets it).
fn workgroup_sum(lid: u32, v: f32) -> f32 {
    part[lid] = v;
    workgroupBarrier();
    for (var half = 32u; half > 0u; half = half / 2u) {
        if lid < half {
            part[lid] += part[lid + half];
        }
        workgroupBarrier();
    }
    let total = part[0];
    workgroupBarrier();
    return total;
}

@group(0) @binding(1) var<storage, read> st_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_out: array<f32>;

@compute @workgroup_size(64)
fn bn_stats(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let c = wid.y * nwg.x + wid.x;
    if c >= p.channels { return; }
    var acc = 0.0;
    for (var r = lid; r < p.rows; r += 64u) {
        acc += st_x[r * p.channels + c];
    }
    let mean = workgroup_sum(lid, acc) * p.inv_rows;
    var dev = 0.0;
    for (var r = lid; r < p.rows; r += 64u) {
        let d = st_x[r * p.channels + c] - mean;
        dev += d * d;
    }
    let variance = workgroup_sum(lid, dev) * p.inv_rows;
    if lid == 0u {
        st_out[c] = mean;
        st_out[p.channels + c] = inverseSqrt(variance + p.eps);
        st_out[2u * p.channels + c] = variance;
    }
}

@group(0) @binding(1) var<storage, read> n_x: array<f32>;
@group(0) @binding(2) var<storage, read> n_stats: array<f32>;
@group(0) @binding(3) var<storage, read> n_gamma: array<f32>;
@group(0) @binding(4) var<storage, read> n_beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> n_y: array<f32>;

@compute @workgroup_size(64)
fn bn_normalize(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.rows * p.channels { return; }
    let c = i % p.channels;
    let xhat = (n_x[i] - n_stats[c]) * n_stats[p.channels + c];
    n_y[i] = xhat * n_gamma[c] + n_beta[c];
}

@group(0) @binding(1) var<storage, read> r_x: array<f32>;
@group(0) @binding(2) var<storage, read> r_dy: array<f32>;
@group(0) @binding(3) var<storage, read> r_stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> r_sums: array<f32>;

@compute @workgroup_size(64)
fn bn_backward_reduce(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let c = wid.y * nwg.x + wid.x;
    if c >= p.channels { return; }
    let mean = r_stats[c];
    let inv = r_stats[p.channels + c];
    var sg = 0.0;
    var sgx = 0.0;
    for (var r = lid; r < p.rows; r += 64u) {
        let i = r * p.channels + c;
        let g = r_dy[i];
        sg += g;
        sgx += g * (r_x[i] - mean) * inv;
    }
    let dbeta = workgroup_sum(lid, sg);
    let dgamma = workgroup_sum(lid, sgx);
    if lid == 0u {
        r_sums[c] = dbeta;
        r_sums[p.channels + c] = dgamma;
    }
}

@group(0) @binding(1) var<storage, read> d_x: array<f32>;
@group(0) @binding(2) var<storage, read> d_dy: array<f32>;
@group(0) @binding(3) var<storage, read> d_stats: array<f32>;
@group(0) @binding(4) var<storage, read> d_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> d_sums: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_dx: array<f32>;

@compute @workgroup_size(64)
fn bn_backward_dx(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.rows * p.channels { return; }
    let c = i % p.channels;
    let inv = d_stats[p.channels + c];
    let xhat = (d_x[i] - d_stats[c]) * inv;
    let m = f32(p.rows);
    d_dx[i] = d_gamma[c] * inv * p.inv_rows * (m * d_dy[i] - d_sums[c] - xhat * d_sums[p.channels + c]);
}

struct MovingParams { channels: u32, row: u32, momentum: f32, keep: f32 }

@group(0) @binding(0) var<uniform> mp: MovingParams;

@compute @workgroup_size(64)
fn bn_moving_update(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let c = linear_id(wid, nwg, lid);
    if c >= mp.channels { return; }
    let m = st_out[c] * mp.momentum + st_x[mp.row * mp.channels + c] * mp.keep;
    st_out[c] = ftz(m);
}
