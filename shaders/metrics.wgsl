// metrics.wgsl — metric bookkeeping on the GPU, so training reads metrics back only at log points.
//
// Launcher: crates/device/src/ops/metrics.rs.
//   correct_sparse   0 params, 1 preds [rows, cols], 2 labels u32 [rows], 3 out f32 [rows]
//                    out = 1 when the label is among the k largest predictions (k = 1: argmax;
//                    ties count against the label, as Keras's in_top_k does not promise more)
//   correct_dense    0 params, 1 preds [rows, cols], 2 target [rows, cols], 3 out [rows]
//                    out = 1 when argmax(preds) == argmax(target)
//   correct_binary   0 params, 1 preds [n], 2 target [n], 3 out [n]
//                    out = 1 when (pred > threshold) == (target > 0.5)
//     Geometry of the three: one invocation per row (or element), 64 per workgroup, 2-D fold;
//     or, with `accumulate`, one workgroup that adds the hits into out = acc [2] instead
//     (acc[0] += hits, acc[1] += rows: a metric update in one dispatch instead of two).
//   accumulate_mean  0 params, 1 values [n], 2 acc [2] (read-write)
//                    acc[0] += weight * sum(values); acc[1] += count. One workgroup of 64.
//   confusion_update 0 params, 1 preds [rows, cols], 2 labels u32 [rows], 3 matrix u32 [cols, cols]
//                    matrix[label, argmax] += 1. One workgroup of 64 looping over rows in order
//                    (deterministic, no atomics).

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct CorrectParams { rows: u32, cols: u32, k: u32, threshold: f32, accumulate: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: CorrectParams;
@group(0) @binding(1) var<storage, read> preds: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> tgt: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> hits: array<f32, 64>;

// The per-row form writes out[r]; the accumulating form (one workgroup) adds this invocation's
// rows lid, lid + 64, ... and then out[0] += all hits, out[1] += rows: the metric's running
// [sum, count] updated in the dispatch that scores the batch. Invocation 0 adds the 64
// partial sums in order (deterministic).
fn add_hits(lid: u32, s: f32) {
    hits[lid] = s;
    workgroupBarrier();
    if lid == 0u {
        var total = 0.0;
        for (var i = 0u; i < 64u; i++) {
            total += hits[i];
        }
        out[0] = out[0] + total;
        out[1] = out[1] + f32(p.rows);
    }
}

// 1 when the label is among the k highest: how many classes score strictly higher, or equal
// with a lower index, must be under k. A label out of range is a miss.
fn sparse_hit(r: u32) -> f32 {
    let base = r * p.cols;
    let label = labels[r];
    if label >= p.cols {
        return 0.0;
    }
    let v = preds[base + label];
    var above = 0u;
    for (var j = 0u; j < p.cols; j++) {
        let o = preds[base + j];
        if o > v || (o == v && j < label) {
            above++;
        }
    }
    return select(0.0, 1.0, above < p.k);
}

@compute @workgroup_size(64)
fn correct_sparse(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    if p.accumulate == 0u {
        let r = linear_id(wid, nwg, lid);
        if r < p.rows {
            out[r] = sparse_hit(r);
        }
        return;
    }
    var s = 0.0;
    for (var r = lid; r < p.rows; r += 64u) {
        s += sparse_hit(r);
    }
    add_hits(lid, s);
}

// First index of the row maximum (two copies: an entry point may only touch its own bindings).
fn preds_argmax(base: u32) -> u32 {
    var best = 0u;
    for (var j = 1u; j < p.cols; j++) {
        if preds[base + j] > preds[base + best] {
            best = j;
        }
    }
    return best;
}

fn target_argmax(base: u32) -> u32 {
    var best = 0u;
    for (var j = 1u; j < p.cols; j++) {
        if tgt[base + j] > tgt[base + best] {
            best = j;
        }
    }
    return best;
}

fn dense_hit(r: u32) -> f32 {
    let base = r * p.cols;
    return select(0.0, 1.0, preds_argmax(base) == target_argmax(base));
}

@compute @workgroup_size(64)
fn correct_dense(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
    if p.accumulate == 0u {
        let r = linear_id(wid, nwg, lid);
        if r < p.rows {
            out[r] = dense_hit(r);
        }
        return;
    }
    var s = 0.0;
    for (var r = lid; r < p.rows; r += 64u) {
        s += dense_hit(r);
    }
    add_hits(lid, s);
}

fn binary_hit(i: u32) -> f32 {
    return select(0.0, 1.0, (preds[i] > p.threshold) == (tgt[i] > 0.5));
}

@compute @workgroup_size(64)
fn correct_binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    if p.accumulate == 0u {
        let i = linear_id(wid, nwg, lid);
        if i < p.rows {
            out[i] = binary_hit(i);
        }
        return;
    }
    var s = 0.0;
    for (var i = lid; i < p.rows; i += 64u) {
        s += binary_hit(i);
    }
    add_hits(lid, s);
}

struct AccParams { n: u32, weight: f32, count: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> ap: AccParams;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc: array<f32>;

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn accumulate_mean(@builtin(local_invocation_index) lid: u32) {
    var s = 0.0;
    for (var i = lid; i < ap.n; i += 64u) {
        s += values[i];
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var w = 32u; w > 0u; w >>= 1u) {
        if lid < w {
            partial[lid] += partial[lid + w];
        }
        workgroupBarrier();
    }
    if lid == 0u {
        acc[0] = acc[0] + ap.weight * partial[0];
        acc[1] = acc[1] + ap.count;
    }
}

@group(0) @binding(3) var<storage, read_write> matrix: array<u32>;

@compute @workgroup_size(64)
fn confusion_update(@builtin(local_invocation_index) lid: u32) {
    // Each invocation owns the matrix rows (true labels) congruent to lid mod 64, so no two
    // invocations write the same cell.
    for (var r = 0u; r < p.rows; r++) {
        let label = labels[r];
        if label >= p.cols || label % 64u != lid { continue; }
        let pred = preds_argmax(r * p.cols);
        matrix[label * p.cols + pred] = matrix[label * p.cols + pred] + 1u;
    }
}
