// dense_backward.wgsl — a narrow Dense layer's whole backward pass in one dispatch, for CPU-type
// adapters with subgroups (lavapipe), like matmul_texture.wgsl's narrow design.
//
// A Dense layer y = act(z), z = x w + b, with x [rows, k], w [k, n], b [n], has, from the
// upstream gradient g = dL/dy,
//   dz[r, c] = g[r, c] act'(z[r, c])           (act' from y alone: activation.wgsl's activate_grad)
//   dw[i, c] = sum over r of x[r, i] dz[r, c]  (x^T dz)
//   db[c]    = sum over r of dz[r, c]          (the same sum with x[r, i] replaced by 1)
//   dx[r, i] = sum over c of dz[r, c] w[i, c]  (dz w^T)
// Apart, that is three or four dispatches for a classifier head (dz with db, dw, dx): at batch
// 32 each costs llvmpipe about 20 us of fixed fork and join, more than its arithmetic (a 32x128
// by 128x10 product is 41k multiply-adds). Here lane l of workgroup g owns input feature
// i = 8g + l: row i of dw and column i of dx, walking the rows once; the lane with i = k owns db
// (its x is 1). dz is computed where it is read and never stored.
//
// Per row r each lane fetches x[r, i], and dz[r, 2l] and dz[r, 2l + 1]; the row's (up to 16)
// dz values then reach every lane by subgroupShuffle, so a value is fetched once per
// workgroup, not once per lane (a texel fetch costs llvmpipe far more than a shuffle). Each lane
// keeps its 16 sums and w's row i as 4 vec4s in registers (n <= 16, the launcher checks); the
// loops over them have constant trip counts, which Mesa unrolls into register indices.
// Inputs are staged textures read element by element (texel i / 4, component i % 4), so no row
// needs to start on a texel.
//
// Where x is itself the output of a Dense layer x = act_p(z_p), z_p = x_p w_p + b_p, used by
// nothing else (a hidden layer before the head; `fold` set), the lane also takes that layer's
// activation and bias gradients, from the x values it already holds:
//   dz_p[r, i] = dx[r, i] act_p'(z_p[r, i])    (stored in dx's place)
//   db_p[i]    = sum over r of dz_p[r, i]
// which saves that layer its own activation-and-bias pass (bias_grad.wgsl).
//
//   dense_backward   0 params, 1 x, 2 w, 3 y, 4 g (textures), 5 dw [k, n], 6 db [n],
//                    7 dx (or dz_p) [rows, k], 8 db_p [k] (written only when fold is set)
//     y may be g itself when act is linear (then never read).
//
// In-place mode (`adam` set, crates/device/src/ops/dense_backward.rs): instead of storing dw,
// db and db_p, the kernel applies Keras Adam (adam.wgsl's adam1) to w, b and b_p with them, so
// the optimizer's own dispatch skips those weights. Bindings 5, 6 and 8 are then one view each
// of the packed weights, Adam's m and Adam's v covering the three (one layout, so one word
// offset each: w_at, b_at, bp_at); 7 is dx as before. w is read from its staged texture, the
// value before the update.
// Grid: (ceil((k + 1) / 8), 1, 1); a workgroup is one subgroup of 8 (the launcher checks the
// adapter's subgroups). Launcher: crates/device/src/ops/dense_backward.rs.

struct DenseBackwardParams {
    rows: u32, k: u32, n: u32, act: u32, prev_act: u32, fold: u32, adam: u32, w_at: u32,
    b_at: u32, bp_at: u32, _p0: u32, _p1: u32,
    step: AdamScalars,
}

@group(0) @binding(0) var<uniform> dbp: DenseBackwardParams;
@group(0) @binding(1) var dbx_tex: texture_2d<f32>;
@group(0) @binding(2) var dbw_tex: texture_2d<f32>;
@group(0) @binding(3) var dby_tex: texture_2d<f32>;
@group(0) @binding(4) var dbg_tex: texture_2d<f32>;
@group(0) @binding(5) var<storage, read_write> db_dw: array<f32>;
@group(0) @binding(6) var<storage, read_write> db_db: array<f32>;
@group(0) @binding(7) var<storage, read_write> db_dx: array<f32>;
@group(0) @binding(8) var<storage, read_write> db_dbp: array<f32>;

const DB_WIDTH: u32 = 256u;

fn db_elem(t: texture_2d<f32>, i: u32) -> f32 {
    let texel = i / 4u;
    return textureLoad(t, vec2<i32>(i32(texel % DB_WIDTH), i32(texel / DB_WIDTH)), 0)[i % 4u];
}

// dz[r, c] for a column c < n.
fn db_dz(r: u32, c: u32) -> f32 {
    let at = r * dbp.n + c;
    var dz = db_elem(dbg_tex, at);
    if dbp.act != ACT_LINEAR {
        let y = db_elem(dby_tex, at);
        dz *= activate_grad(y, y, dbp.act);
    }
    return dz;
}

// Parameter word j's gradient gr: in in-place mode its Adam step (weight, m, v in bindings 5, 6
// and 8 at word j); the callers store gr plainly otherwise.
fn db_adam(j: u32, gr: f32) {
    let u = adam1(dbp.step, gr, db_dw[j], db_db[j], db_dbp[j]);
    db_dw[j] = u.p;
    db_db[j] = u.m;
    db_dbp[j] = u.v;
}

@compute @workgroup_size(8, 1, 1)
fn dense_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let k = dbp.k;
    let n = dbp.n;
    let i = wid.x * 8u + lane;
    // The bias lane (i = k) and lanes past it read feature k - 1's x and w and discard them.
    let f = min(i, k - 1u);
    let is_bias = i == k;
    var w: array<vec4<f32>, 4>;
    for (var c = 0u; c < 16u; c++) {
        if c < n {
            w[c / 4u][c % 4u] = db_elem(dbw_tex, f * n + c);
        }
    }
    let c0 = 2u * lane;
    let c1 = 2u * lane + 1u;
    var acc: array<vec4<f32>, 4>;
    var prev_sum = 0.0;
    for (var r = 0u; r < dbp.rows; r++) {
        let xr = db_elem(dbx_tex, r * k + f);
        let xv = vec4<f32>(select(xr, 1.0, is_bias));
        var d0 = 0.0;
        var d1 = 0.0;
        if c0 < n {
            d0 = db_dz(r, c0);
        }
        if c1 < n {
            d1 = db_dz(r, c1);
        }
        var dxv = 0.0;
        for (var j = 0u; j < 4u; j++) {
            let dv = vec4<f32>(subgroupShuffle(d0, 2u * j), subgroupShuffle(d1, 2u * j),
                               subgroupShuffle(d0, 2u * j + 1u), subgroupShuffle(d1, 2u * j + 1u));
            acc[j] = fma(xv, dv, acc[j]);
            dxv += dot(dv, w[j]);
        }
        if i < k {
            if dbp.fold != 0u {
                dxv *= activate_grad(xr, xr, dbp.prev_act);
                prev_sum += dxv;
            }
            db_dx[r * k + i] = dxv;
        }
    }
    if dbp.fold != 0u && i < k {
        if dbp.adam != 0u {
            db_adam(dbp.bp_at + i, prev_sum);
        } else {
            db_dbp[i] = prev_sum;
        }
    }
    for (var c = 0u; c < 16u; c++) {
        if c < n {
            let v = acc[c / 4u][c % 4u];
            if dbp.adam != 0u {
                if is_bias {
                    db_adam(dbp.b_at + c, v);
                } else if i < k {
                    db_adam(dbp.w_at + i * n + c, v);
                }
            } else if is_bias {
                db_db[c] = v;
            } else if i < k {
                db_dw[i * n + c] = v;
            }
        }
    }
}
