// matmul.wgsl — batched C = op(A) x op(B), f32, row-major, op = identity or transpose.
//
// Stored layouts: A is [M, K] (or [K, M] when trans_a = 1), B is [K, N] (or [N, K] when
// trans_b = 1), C is [M, N]; batch b adds b * *_batch_stride to every index (stride 0 = the
// operand is shared by all batches). Launcher: crates/device/src/ops/matmul.rs.
// Bindings (both entries): 0 params, 1 a, 2 b, 3 bias (any buffer when has_bias = 0), 4 c.
// Epilogue (every entry): C = act(op(A) x op(B) + bias) with bias[N] added when has_bias = 1
// and act one of activation.wgsl's codes (appended to this file): a Dense layer in one dispatch
// instead of three (matmul, bias add, activation), so its output is written once.
//
// Two designs, chosen by adapter type (see the README's matmul figures):
//   matmul_regtile  CPU-type adapters (lavapipe). Workgroup = 8 invocations = one 256-bit vector
//                   on llvmpipe; each invocation keeps a 16x8 register tile of C (16 rows of
//                   two vec4 accumulators, so a k step is 32 vector FMAs). Per-lane
//                   storage loads are the cost on llvmpipe, not FMAs, so a large tile that reuses
//                   every loaded value 8-16 times wins even though it spills.
//                   Grid: (ceil(N / 64), ceil(M / 16), batch).
//   matmul_tiled    GPUs. Workgroup 16x16; a 64x64 block of C staged through 64x16 shared-memory
//                   panels of A and B, 4x4 outputs per invocation.
//                   Grid: (ceil(N / 64), ceil(M / 64), batch).
// Loads clamp their row/column to the matrix so no access leaves the operand, whatever the
// module's bounds-check mode; only in-range outputs are stored.

struct MatmulParams {
    m: u32, n: u32, k: u32, batch: u32,
    trans_a: u32, trans_b: u32, a_batch_stride: u32, b_batch_stride: u32,
    c_batch_stride: u32, has_bias: u32, act: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// The epilogue of output column `col`.
fn finish(v: f32, col: u32) -> f32 {
    var x = v;
    if p.has_bias != 0u {
        x += bias[col];
    }
    return activate(x, p.act);
}

// Element (row, col) of op(A) in batch `bo` (bo = element offset of the batch).
fn load_a(bo: u32, row: u32, col: u32) -> f32 {
    let r = min(row, p.m - 1u);
    if p.trans_a == 0u {
        return a[bo + r * p.k + col];
    }
    return a[bo + col * p.m + r];
}

fn load_b(bo: u32, row: u32, col: u32) -> f32 {
    let cc = min(col, p.n - 1u);
    if p.trans_b == 0u {
        return b[bo + row * p.n + cc];
    }
    return b[bo + cc * p.k + row];
}

const RT_M: u32 = 16u;
const RT_N: u32 = 8u;

@compute @workgroup_size(8, 1, 1)
fn matmul_regtile(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wid.y * RT_M;
    let col0 = wid.x * (8u * RT_N) + lid.x * RT_N;
    let ao = wid.z * p.a_batch_stride;
    let bo = wid.z * p.b_batch_stride;
    // The 16x8 tile as 16 rows of two vec4s: each k step is 32 vector FMAs.
    var acc0: array<vec4<f32>, 16>;
    var acc1: array<vec4<f32>, 16>;
    for (var kk = 0u; kk < p.k; kk++) {
        let b0 = vec4<f32>(load_b(bo, kk, col0), load_b(bo, kk, col0 + 1u), load_b(bo, kk, col0 + 2u), load_b(bo, kk, col0 + 3u));
        let b1 = vec4<f32>(load_b(bo, kk, col0 + 4u), load_b(bo, kk, col0 + 5u), load_b(bo, kk, col0 + 6u), load_b(bo, kk, col0 + 7u));
        for (var i = 0u; i < RT_M; i++) {
            let av = vec4<f32>(load_a(ao, row0 + i, kk));
            acc0[i] = fma(av, b0, acc0[i]);
            acc1[i] = fma(av, b1, acc1[i]);
        }
    }
    let co = wid.z * p.c_batch_stride;
    for (var i = 0u; i < RT_M; i++) {
        let r = row0 + i;
        if r >= p.m { break; }
        for (var j = 0u; j < RT_N; j++) {
            let cc = col0 + j;
            if cc < p.n {
                c[co + r * p.n + cc] = finish(select(acc1[i][j % 4u], acc0[i][j % 4u], j < 4u), cc);
            }
        }
    }
}

const TILE: u32 = 64u;
const DEPTH: u32 = 16u;
var<workgroup> sa: array<f32, 1024>; // [DEPTH][TILE]: sa[k * 64 + row]
var<workgroup> sb: array<f32, 1024>; // [DEPTH][TILE]: sb[k * 64 + col]

@compute @workgroup_size(16, 16, 1)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
                @builtin(local_invocation_index) li: u32) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let ao = wid.z * p.a_batch_stride;
    let bo = wid.z * p.b_batch_stride;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i++) {
        acc[i] = 0.0;
    }
    for (var k0 = 0u; k0 < p.k; k0 += DEPTH) {
        // 256 invocations load 1024 values of each panel: 4 each; out-of-range depth loads 0.
        for (var t = 0u; t < 4u; t++) {
            let e = li + t * 256u;
            let kk = e / TILE;
            let x = e % TILE;
            let inside = k0 + kk < p.k;
            let kc = min(k0 + kk, p.k - 1u);
            sa[e] = select(0.0, load_a(ao, row0 + x, kc), inside);
            sb[e] = select(0.0, load_b(bo, kc, col0 + x), inside);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < DEPTH; kk++) {
            var av: array<f32, 4>;
            var bv: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                av[i] = sa[kk * TILE + lid.y * 4u + i];
                bv[i] = sb[kk * TILE + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    let co = wid.z * p.c_batch_stride;
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j++) {
            let cc = col0 + lid.x * 4u + j;
            if r < p.m && cc < p.n {
                c[co + r * p.n + cc] = finish(acc[i * 4u + j], cc);
            }
        }
    }
}
