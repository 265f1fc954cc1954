// softmax.wgsl — softmax / log_softmax over the last axis, and fused softmax-cross-entropy.
//
// Tensors are [rows, cols]; one invocation per row (rows folded to a 2-D grid past 65,535
// workgroups of 64). All forms subtract the row maximum first, so exp never overflows.
// Launcher: crates/device/src/ops/softmax.rs.
//   softmax                      0 params, 1 x, 2 y               y = softmax(x) or log_softmax(x)
//   softmax_backward             0 params, 1 y, 2 dy, 3 dx
//   softmax_xent_sparse          0 params, 1 logits, 2 labels (u32), 3 probs, 4 loss[rows]
//   softmax_xent_dense           0 params, 1 logits, 2 target, 3 probs, 4 loss[rows]
//   softmax_xent_sparse_backward 0 params, 1 probs, 2 labels (u32), 3 dloss[rows], 4 dlogits
//   softmax_xent_dense_backward  0 params, 1 probs, 2 target, 3 dloss[rows], 4 dlogits
//   softmax_xent_mean_sparse     0 params, 1 logits, 2 labels (u32), 3 preds, 4 grad, 5 loss[1],
//                                6 loss acc [2], 7 hits acc [2]
//   softmax_xent_mean_dense      the same with 2 target
// The two `mean` kernels run as one workgroup: the row losses' mean (Keras's default reduction)
// and, when the params ask, its gradient with respect to the logits, so a classifier's training
// step spends one dispatch on its loss instead of three (forward, mean, backward). They also
// make a training step's tracker updates when the params ask (`track`): the loss tracker's
// [sum, count] += [weight * mean, weight] (what `accumulate_mean` adds for one value), and the
// accuracy's [hits, rows] from preds (what `correct_sparse` / `correct_dense` add with
// `accumulate`: the same rows per invocation, the same in-order sum), so those two updates cost
// no dispatch of their own. preds are what the metric scores: the logits, or the softmax
// output of a softmax head.
// The backward kernels take every row's upstream gradient from dloss, or, when the params say
// `uniform`, the constant `scale` (the mean of the row losses fused in: 1 / rows; dloss is
// then not read).
// A label >= cols has no class to pick: its row loss is NaN, so a bad label cannot pass silently
// (the nn crate rejects such labels on the host before they get here).

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct SoftmaxParams { rows: u32, cols: u32, log: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: SoftmaxParams;
@group(0) @binding(1) var<storage, read> s_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> s_y: array<f32>;

// log(sum(exp(x - max))) + max over the `cols` values of one row (each entry passes its own
// params' column count).
fn row_logsumexp(base: u32, cols: u32) -> f32 {
    var m = s_x[base];
    for (var j = 1u; j < cols; j++) {
        m = max(m, s_x[base + j]);
    }
    var s = 0.0;
    for (var j = 0u; j < cols; j++) {
        s += exp(s_x[base + j] - m);
    }
    return log(s) + m;
}

@compute @workgroup_size(64)
fn softmax(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if r >= p.rows { return; }
    let base = r * p.cols;
    let lse = row_logsumexp(base, p.cols);
    for (var j = 0u; j < p.cols; j++) {
        let ls = s_x[base + j] - lse;
        s_y[base + j] = select(exp(ls), ls, p.log == 1u);
    }
}

@group(0) @binding(1) var<storage, read> sb_y: array<f32>;
@group(0) @binding(2) var<storage, read> sb_dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> sb_dx: array<f32>;

// softmax:     dy_j/dx_i = y_j (delta_ij - y_i)  =>  dx_i = y_i (dy_i - sum_j dy_j y_j)
// log_softmax: dy_j/dx_i = delta_ij - softmax_i  =>  dx_i = dy_i - exp(y_i) sum_j dy_j
@compute @workgroup_size(64)
fn softmax_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if r >= p.rows { return; }
    let base = r * p.cols;
    var dot = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        if p.log == 1u {
            dot += sb_dy[base + j];
        } else {
            dot += sb_dy[base + j] * sb_y[base + j];
        }
    }
    for (var j = 0u; j < p.cols; j++) {
        let y = sb_y[base + j];
        if p.log == 1u {
            sb_dx[base + j] = sb_dy[base + j] - exp(y) * dot;
        } else {
            sb_dx[base + j] = y * (sb_dy[base + j] - dot);
        }
    }
}

@group(0) @binding(2) var<storage, read> x_labels: array<u32>;
@group(0) @binding(2) var<storage, read> x_target: array<f32>;
@group(0) @binding(3) var<storage, read_write> x_probs: array<f32>;
@group(0) @binding(4) var<storage, read_write> x_loss: array<f32>;

// Writes probs for the row and returns log-sum-exp.
fn row_probs(base: u32) -> f32 {
    let lse = row_logsumexp(base, p.cols);
    for (var j = 0u; j < p.cols; j++) {
        x_probs[base + j] = exp(s_x[base + j] - lse);
    }
    return lse;
}

// loss_r = -log softmax(z)_label = lse(z) - z_label
@compute @workgroup_size(64)
fn softmax_xent_sparse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                       @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if r >= p.rows { return; }
    let base = r * p.cols;
    let lse = row_probs(base);
    let label = x_labels[r];
    if label < p.cols {
        x_loss[r] = lse - s_x[base + label];
    } else {
        x_loss[r] = bitcast<f32>(0x7fc00000u);
    }
}

// loss_r = -sum_j t_j log softmax(z)_j = sum_j t_j (lse - z_j)
@compute @workgroup_size(64)
fn softmax_xent_dense(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if r >= p.rows { return; }
    let base = r * p.cols;
    let lse = row_probs(base);
    var loss = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        loss += x_target[base + j] * (lse - s_x[base + j]);
    }
    x_loss[r] = loss;
}

struct XentBackParams { rows: u32, cols: u32, uniform: u32, scale: f32 }

@group(0) @binding(0) var<uniform> xp: XentBackParams;
@group(0) @binding(1) var<storage, read> xb_probs: array<f32>;
@group(0) @binding(3) var<storage, read> xb_dloss: array<f32>;
@group(0) @binding(4) var<storage, read_write> xb_dlogits: array<f32>;

// d loss_r / d z_j = softmax_j - [j == label]
@compute @workgroup_size(64)
fn softmax_xent_sparse_backward(@builtin(workgroup_id) wid: vec3<u32>,
                                @builtin(num_workgroups) nwg: vec3<u32>,
                                @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if r >= xp.rows { return; }
    let base = r * xp.cols;
    let label = x_labels[r];
    var g = xp.scale;
    if xp.uniform == 0u { g = xb_dloss[r]; }
    for (var j = 0u; j < xp.cols; j++) {
        let hot = select(0.0, 1.0, j == label);
        xb_dlogits[base + j] = (xb_probs[base + j] - hot) * g;
    }
}

// d loss_r / d z_j = softmax_j * sum_i t_i - t_j   (sum_i t_i = 1 for a distribution)
@compute @workgroup_size(64)
fn softmax_xent_dense_backward(@builtin(workgroup_id) wid: vec3<u32>,
                               @builtin(num_workgroups) nwg: vec3<u32>,
                               @builtin(local_invocation_index) lid: u32) {
    let r = linear_id(wid, nwg, lid);
    if r >= xp.rows { return; }
    let base = r * xp.cols;
    var tsum = 0.0;
    for (var j = 0u; j < xp.cols; j++) {
        tsum += x_target[base + j];
    }
    var g = xp.scale;
    if xp.uniform == 0u { g = xb_dloss[r]; }
    for (var j = 0u; j < xp.cols; j++) {
        xb_dlogits[base + j] = (xb_probs[base + j] * tsum - x_target[base + j]) * g;
    }
}

struct XentMeanParams {
    rows: u32, cols: u32, grad: u32, track: u32, weight: f32, k: u32, _p0: u32, _p1: u32,
}

// `track` bits: the loss tracker, the accuracy's hits.
const TRACK_LOSS: u32 = 1u;
const TRACK_HITS: u32 = 2u;

@group(0) @binding(0) var<uniform> mp: XentMeanParams;
@group(0) @binding(3) var<storage, read> m_preds: array<f32>;
@group(0) @binding(4) var<storage, read_write> m_grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> m_loss: array<f32>;
@group(0) @binding(6) var<storage, read_write> m_loss_acc: array<f32>;
@group(0) @binding(7) var<storage, read_write> m_hits_acc: array<f32>;

var<workgroup> m_partial: array<f32, 64>;
var<workgroup> m_hits: array<f32, 64>;

// loss[0] = the mean of the row losses: invocation lid's partial sums in (loss, hits), the 64
// sums added in order by invocation 0 (deterministic); then the trackers the params name.
fn write_mean(lid: u32, sum: f32, hits: f32) {
    m_partial[lid] = sum;
    m_hits[lid] = hits;
    workgroupBarrier();
    if lid == 0u {
        var total = 0.0;
        for (var i = 0u; i < 64u; i++) {
            total += m_partial[i];
        }
        let mean = total / f32(mp.rows);
        m_loss[0] = mean;
        if (mp.track & TRACK_LOSS) != 0u {
            m_loss_acc[0] = m_loss_acc[0] + mp.weight * mean;
            m_loss_acc[1] = m_loss_acc[1] + mp.weight;
        }
        if (mp.track & TRACK_HITS) != 0u {
            var h = 0.0;
            for (var i = 0u; i < 64u; i++) {
                h += m_hits[i];
            }
            m_hits_acc[0] = m_hits_acc[0] + h;
            m_hits_acc[1] = m_hits_acc[1] + f32(mp.rows);
        }
    }
}

// 1 when the label is among the k highest preds of row r (ties count against the label), as
// metrics.wgsl's `sparse_hit`; a label out of range is a miss.
fn preds_sparse_hit(r: u32, label: u32) -> f32 {
    if label >= mp.cols {
        return 0.0;
    }
    let base = r * mp.cols;
    let v = m_preds[base + label];
    var above = 0u;
    for (var j = 0u; j < mp.cols; j++) {
        let o = m_preds[base + j];
        if o > v || (o == v && j < label) {
            above++;
        }
    }
    return select(0.0, 1.0, above < mp.k);
}

// 1 when the first maximum of preds and of the target share an index (metrics.wgsl's
// `dense_hit`).
fn preds_dense_hit(base: u32) -> f32 {
    var bp = 0u;
    var bt = 0u;
    for (var j = 1u; j < mp.cols; j++) {
        if m_preds[base + j] > m_preds[base + bp] {
            bp = j;
        }
        if x_target[base + j] > x_target[base + bt] {
            bt = j;
        }
    }
    return select(0.0, 1.0, bp == bt);
}

// The mean of the row losses in one workgroup, and with `grad` its gradient: mean = sum_r
// loss_r / rows, so d mean / d z_rj = (softmax_rj - [j == label_r]) / rows. Invocation i takes
// rows i, i + 64, ... (`write_mean` adds the partial sums).
@compute @workgroup_size(64)
fn softmax_xent_mean_sparse(@builtin(local_invocation_index) lid: u32) {
    let scale = 1.0 / f32(mp.rows);
    var sum = 0.0;
    var hits = 0.0;
    for (var r = lid; r < mp.rows; r += 64u) {
        let base = r * mp.cols;
        let lse = row_logsumexp(base, mp.cols);
        let label = x_labels[r];
        if label < mp.cols {
            sum += lse - s_x[base + label];
        } else {
            sum += bitcast<f32>(0x7fc00000u);
        }
        if mp.grad == 1u {
            for (var j = 0u; j < mp.cols; j++) {
                let hot = select(0.0, 1.0, j == label);
                m_grad[base + j] = (exp(s_x[base + j] - lse) - hot) * scale;
            }
        }
        if (mp.track & TRACK_HITS) != 0u {
            hits += preds_sparse_hit(r, label);
        }
    }
    write_mean(lid, sum, hits);
}

// Dense targets: loss_r = sum_j t_rj (lse_r - z_rj), d mean / d z_rj = (softmax_rj sum_i t_ri -
// t_rj) / rows.
@compute @workgroup_size(64)
fn softmax_xent_mean_dense(@builtin(local_invocation_index) lid: u32) {
    let scale = 1.0 / f32(mp.rows);
    var sum = 0.0;
    var hits = 0.0;
    for (var r = lid; r < mp.rows; r += 64u) {
        let base = r * mp.cols;
        let lse = row_logsumexp(base, mp.cols);
        var tsum = 0.0;
        for (var j = 0u; j < mp.cols; j++) {
            let t = x_target[base + j];
            sum += t * (lse - s_x[base + j]);
            tsum += t;
        }
        if mp.grad == 1u {
            for (var j = 0u; j < mp.cols; j++) {
                let pj = exp(s_x[base + j] - lse);
                m_grad[base + j] = (pj * tsum - x_target[base + j]) * scale;
            }
        }
        if (mp.track & TRACK_HITS) != 0u {
            hits += preds_dense_hit(base);
        }
    }
    write_mean(lid, sum, hits);
}
