// matmul_texture.wgsl — C = op(A) x op(B) for CPU-type adapters with subgroups (lavapipe).
//
// Why textures: llvmpipe turns a storage-buffer load whose address differs per lane into a
// loop over the 8 lanes that inserts each value into the vector through the stack, a
// store-forwarding stall of ~20 cycles per value (seen in the JIT code with perf). Texel
// fetches are compiled as real gathers instead (8 x 128-bit loads and a transpose for
// rgba32float), so the launcher copies both operands into flat rgba32float textures first
// (a plain memcpy on this adapter) and the kernel reads them with textureLoad. The README's
// matmul table has the measured effect.
//
// Flat texture layout: texel t sits at (t % 256, t / 256) and holds words 4t..4t+3 of the
// operand's buffer, so an operand whose contiguous dimension is a multiple of 4 has its rows
// on texel boundaries (the launcher checks; other shapes use matmul.wgsl).
//
// Work split: workgroup = 8 invocations = one subgroup (one 256-bit vector on llvmpipe). It
// owns a 32-row x 64-column block of C; each lane keeps 32 rows x 2 vec4 columns of it in
// registers. Per step k every lane fetches the A values of 4 rows (rows 4*lane .. 4*lane+3 of
// the block) and its own 8 B values; row i of the block is then read from lane i / 4 with
// subgroupShuffle, so each A value is fetched once per workgroup, not once per lane.
// Where an operand is stored k-contiguous (A not transposed, B transposed) its texel holds 4
// consecutive k values: those entries take k in steps of 4 and fetch each texel once, not four
// times for one component each (measured: 1024^3 from 33 to 38-41 GFLOP/s, the dense input
// gradient 32x128 . (784x128)^T from 11 to 19-20). The k-major entry (tn) keeps one k per step.
// C is stored as vec4s where N % 4 == 0 (B not transposed): a storage access is a per-lane loop
// on llvmpipe, so one per 4 values instead of four matters when K is small.
// The tile loops have constant trip counts; Mesa unrolls them, which turns the shuffle lane and
// every array index into constants (the accumulators then live in registers, not memory).
//
// Stored layouts as in matmul.wgsl: A [M, K] (or [K, M] when transposed), B [K, N] (or [N, K]),
// C [M, N]; batch b adds b * stride (in words, a multiple of 4) to an operand.
// Grid: (ceil(N / 64), ceil(M / 32), batch). Launcher: crates/device/src/ops/matmul.rs.
// matmul_texture_tn_adam is the tn entry with Adam applied to the result instead of storing it;
// the last entry, matmul_texture_narrow, is its own design for results of at most 16 columns
// (see their comments).
// Bindings (every entry): 0 params, 1 a (texture), 2 b (texture), 3 bias (texture, any one when
// has_bias = 0), 4 c.
// Epilogue (every entry): C = act(op(A) x op(B) + bias) with bias[N] added when has_bias = 1
// and act one of activation.wgsl's codes (appended to this file): a Dense layer in one dispatch
// instead of three (matmul, bias add, activation), so its output is written once.

// `adam`: the update matmul_texture_tn_adam applies (adam.wgsl, appended); unused elsewhere.
struct MatmulParams {
    m: u32, n: u32, k: u32, batch: u32,
    trans_a: u32, trans_b: u32, a_batch_stride: u32, b_batch_stride: u32,
    c_batch_stride: u32, has_bias: u32, act: u32, _p2: u32,
    adam: AdamScalars,
}

@group(0) @binding(0) var<uniform> p: MatmulParams;
@group(0) @binding(1) var a_tex: texture_2d<f32>;
@group(0) @binding(2) var b_tex: texture_2d<f32>;
@group(0) @binding(3) var bias_tex: texture_2d<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// The same binding seen as vec4s, for the entries whose N is a multiple of 4 (B not transposed):
// one store per 4 values instead of four, which matters when K is small.
@group(0) @binding(4) var<storage, read_write> c4: array<vec4<f32>>;

const ROWS: u32 = 32u;
const VECS: u32 = 2u;
const WIDTH: u32 = 256u;

// The lane's block of C: rows row0 + i, columns col0 + 4 * j + q as tile[i][j][q].
alias Tile = array<array<vec4<f32>, VECS>, ROWS>;

fn row0_of(wid: vec3<u32>) -> u32 {
    return wid.y * ROWS;
}

fn col0_of(wid: vec3<u32>, lane: u32) -> u32 {
    return wid.x * (32u * VECS) + lane * (4u * VECS);
}

fn texel(t: u32) -> vec2<i32> {
    return vec2<i32>(i32(t % WIDTH), i32(t / WIDTH));
}

// The epilogue over the lane's whole tile, before any store: a bias texel per column vec4
// (col a multiple of 4; a block past the last column reads the last texel and is not stored),
// then the activation, in place. The entries call it only when there is an epilogue, so a plain
// product's stores are the same code as without one (measured: a check per store cost the
// small-K products of the training step up to a third of their speed on llvmpipe, and passing
// the tile through a function by value about a fifth).
fn epilogue(acc: ptr<function, Tile>, wid: vec3<u32>, lane: u32) {
    let col0 = col0_of(wid, lane);
    for (var j = 0u; j < VECS; j++) {
        var b = vec4<f32>(0.0);
        if p.has_bias != 0u {
            b = textureLoad(bias_tex, texel(min(col0 + 4u * j, p.n - 1u) / 4u), 0);
        }
        for (var i = 0u; i < ROWS; i++) {
            (*acc)[i][j] = activate4((*acc)[i][j] + b, p.act);
        }
    }
}

// A[row0 + 4 * lane + q][kk] for q = 0..3 (rows clamped to the matrix).
fn a_rows(trans: bool, kk: u32, row0: u32, lane: u32, base: u32) -> vec4<f32> {
    if trans {
        // Stored [K, M]: one texel holds the 4 rows.
        let m4 = p.m / 4u;
        return textureLoad(a_tex, texel(base + kk * m4 + min(row0 / 4u + lane, m4 - 1u)), 0);
    }
    // Stored [M, K]: component kk % 4 of one texel per row.
    let k4 = p.k / 4u;
    var v: vec4<f32>;
    for (var q = 0u; q < 4u; q++) {
        let r = min(row0 + 4u * lane + q, p.m - 1u);
        v[q] = textureLoad(a_tex, texel(base + r * k4 + kk / 4u), 0)[kk % 4u];
    }
    return v;
}

// B[kk][col0 + 4 * j + q] as b[j][q] (columns clamped to the matrix).
fn b_cols(trans: bool, kk: u32, col0: u32, base: u32) -> array<vec4<f32>, VECS> {
    var v: array<vec4<f32>, VECS>;
    if trans {
        // Stored [N, K]: component kk % 4 of one texel per column.
        let k4 = p.k / 4u;
        for (var j = 0u; j < VECS; j++) {
            for (var q = 0u; q < 4u; q++) {
                let col = min(col0 + 4u * j + q, p.n - 1u);
                v[j][q] = textureLoad(b_tex, texel(base + col * k4 + kk / 4u), 0)[kk % 4u];
            }
        }
        return v;
    }
    // Stored [K, N]: one texel holds 4 columns.
    let n4 = p.n / 4u;
    for (var j = 0u; j < VECS; j++) {
        v[j] = textureLoad(b_tex, texel(base + kk * n4 + min(col0 / 4u + j, n4 - 1u)), 0);
    }
    return v;
}

// One k step over the lane's tile: row i of the block comes from lane i / 4 by shuffle.
fn step(acc: ptr<function, Tile>, av: vec4<f32>, b: array<vec4<f32>, VECS>) {
    for (var i = 0u; i < ROWS; i++) {
        let a = vec4<f32>(subgroupShuffle(av[i % 4u], i / 4u));
        for (var j = 0u; j < VECS; j++) {
            (*acc)[i][j] = fma(a, b[j], (*acc)[i][j]);
        }
    }
}

// Four k steps over the lane's tile, one accumulator vec4 after another (4 chained FMAs each,
// row by row) rather than one step over the whole tile after another: the tile does not fit in
// registers on llvmpipe, so each pass over it loads and stores every accumulator, and one pass
// per 4 steps stores a quarter as much (measured: square products from 27-44 to 52-60 GFLOP/s).
// at[q][s]: block row 4 * lane + q at step s; bs[s][j]: the lane's columns 4j..4j+3 at step s.
fn step4(acc: ptr<function, Tile>, at: array<vec4<f32>, 4>, bs: array<array<vec4<f32>, VECS>, 4>) {
    for (var i = 0u; i < ROWS; i++) {
        // Row i's four k values, from lane i / 4.
        let ar = subgroupShuffle(at[i % 4u], i / 4u);
        for (var j = 0u; j < VECS; j++) {
            var t = (*acc)[i][j];
            t = fma(vec4<f32>(ar[0]), bs[0][j], t);
            t = fma(vec4<f32>(ar[1]), bs[1][j], t);
            t = fma(vec4<f32>(ar[2]), bs[2][j], t);
            t = fma(vec4<f32>(ar[3]), bs[3][j], t);
            (*acc)[i][j] = t;
        }
    }
}

// Op(A) x op(B) for the entry whose operands are both k-major (A transposed, B not), where every
// texel fetched is used whole: four k steps at a time (`step4`), then the last K % 4 one by one.
fn product(trans_a: bool, trans_b: bool, wid: vec3<u32>, lane: u32) -> Tile {
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let a_base = wid.z * (p.a_batch_stride / 4u);
    let b_base = wid.z * (p.b_batch_stride / 4u);
    var acc: Tile;
    let k_whole = p.k - p.k % 4u;
    for (var k0 = 0u; k0 < k_whole; k0 += 4u) {
        var at: array<vec4<f32>, 4>;
        var bs: array<array<vec4<f32>, VECS>, 4>;
        for (var s = 0u; s < 4u; s++) {
            let av = a_rows(trans_a, k0 + s, row0, lane, a_base);
            for (var q = 0u; q < 4u; q++) {
                at[q][s] = av[q];
            }
            bs[s] = b_cols(trans_b, k0 + s, col0, b_base);
        }
        step4(&acc, at, bs);
    }
    for (var kk = k_whole; kk < p.k; kk++) {
        step(&acc, a_rows(trans_a, kk, row0, lane, a_base), b_cols(trans_b, kk, col0, b_base));
    }
    return acc;
}

// The same four k steps at a time, for the entries where an operand is stored k-contiguous (A
// not transposed or B transposed; the launcher then has K % 4 == 0): one texel holds a row's (or
// a column's) next 4 k values, so it is fetched once for four steps instead of once per step.
// The four steps then update the tile in one pass (`step4`).
fn product_k4(trans_a: bool, trans_b: bool, wid: vec3<u32>, lane: u32) -> Tile {
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let a_base = wid.z * (p.a_batch_stride / 4u);
    let b_base = wid.z * (p.b_batch_stride / 4u);
    let k4 = p.k / 4u;
    var acc: Tile;
    for (var k0 = 0u; k0 < p.k; k0 += 4u) {
        // at[q]: for block row 4 * lane + q, its values at k0..k0+3 (one texel when A is not
        // transposed; component s from step s's fetch when it is).
        var at: array<vec4<f32>, 4>;
        if trans_a {
            for (var s = 0u; s < 4u; s++) {
                let av = a_rows(true, k0 + s, row0, lane, a_base);
                for (var q = 0u; q < 4u; q++) {
                    at[q][s] = av[q];
                }
            }
        } else {
            for (var q = 0u; q < 4u; q++) {
                let r = min(row0 + 4u * lane + q, p.m - 1u);
                at[q] = textureLoad(a_tex, texel(a_base + r * k4 + k0 / 4u), 0);
            }
        }
        // bs[s][j]: the lane's columns 4j..4j+3 at step k0 + s.
        var bs: array<array<vec4<f32>, VECS>, 4>;
        if trans_b {
            var bt: array<array<vec4<f32>, 4>, VECS>;
            for (var j = 0u; j < VECS; j++) {
                for (var q = 0u; q < 4u; q++) {
                    let col = min(col0 + 4u * j + q, p.n - 1u);
                    bt[j][q] = textureLoad(b_tex, texel(b_base + col * k4 + k0 / 4u), 0);
                }
            }
            for (var s = 0u; s < 4u; s++) {
                for (var j = 0u; j < VECS; j++) {
                    bs[s][j] = vec4<f32>(bt[j][0][s], bt[j][1][s], bt[j][2][s], bt[j][3][s]);
                }
            }
        } else {
            for (var s = 0u; s < 4u; s++) {
                bs[s] = b_cols(false, k0 + s, col0, b_base);
            }
        }
        step4(&acc, at, bs);
    }
    return acc;
}

fn store(acc: Tile, wid: vec3<u32>, lane: u32) {
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let c_base = wid.z * p.c_batch_stride;
    for (var i = 0u; i < ROWS; i++) {
        let r = row0 + i;
        for (var j = 0u; j < VECS; j++) {
            for (var q = 0u; q < 4u; q++) {
                let col = col0 + 4u * j + q;
                if r < p.m && col < p.n {
                    c[c_base + r * p.n + col] = acc[i][j][q];
                }
            }
        }
    }
}

// N % 4 == 0, so a vec4 of columns is either wholly inside C or wholly outside.
fn store_vec4(acc: Tile, wid: vec3<u32>, lane: u32) {
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let c_base = wid.z * p.c_batch_stride;
    for (var i = 0u; i < ROWS; i++) {
        let r = row0 + i;
        for (var j = 0u; j < VECS; j++) {
            let col = col0 + 4u * j;
            if r < p.m && col < p.n {
                c4[(c_base + r * p.n + col) / 4u] = acc[i][j];
            }
        }
    }
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, false, wid, lane);
    if p.has_bias != 0u || p.act != ACT_LINEAR {
        epilogue(&acc, wid, lane);
    }
    store_vec4(acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product(true, false, wid, lane);
    if p.has_bias != 0u || p.act != ACT_LINEAR {
        epilogue(&acc, wid, lane);
    }
    store_vec4(acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, true, wid, lane);
    if p.has_bias != 0u || p.act != ACT_LINEAR {
        epilogue(&acc, wid, lane);
    }
    store(acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(true, true, wid, lane);
    if p.has_bias != 0u || p.act != ACT_LINEAR {
        epilogue(&acc, wid, lane);
    }
    store(acc, wid, lane);
}

// matmul_texture_tn_adam: a Dense kernel's gradient dW = x^T dz (the tn product, batch 1, N % 4
// == 0) updated by Adam where it is made: each lane applies adam4 to its tile's vec4s instead of
// storing them, so dW is never written to memory nor read back by the optimizer, whose packed
// update then skips this weight (crates/device/src/ops/matmul_adam.rs). On llvmpipe, where every
// storage access is a per-lane loop, that is 2 of the 8 vec4 accesses per 4 weights. The gradient
// is the same tile as matmul_texture_tn's, and adam4 the same code as adam_step4's, so the result
// is the same bits as the two dispatches. Bindings: 0 params (with `adam`), 1 x (texture), 2 dz
// (texture), 3 the weight, 4 m, 5 v (each [K_in, N] as vec4s).
@group(0) @binding(3) var<storage, read_write> w4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> v4: array<vec4<f32>>;

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tn_adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let acc = product(true, false, wid, lane);
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    for (var i = 0u; i < ROWS; i++) {
        let r = row0 + i;
        for (var j = 0u; j < VECS; j++) {
            let col = col0 + 4u * j;
            if r < p.m && col < p.n {
                let e = (r * p.n + col) / 4u;
                let u = adam4(p.adam, acc[i][j], w4[e], m4[e], v4[e]);
                m4[e] = u.m;
                v4[e] = u.v;
                w4[e] = u.p;
            }
        }
    }
}

// matmul_texture_narrow: C with at most 16 columns (a classifier head, its weight gradient), any
// layout and alignment. The 32x64 block above would leave 6 of 8 lanes without a column there;
// here lane l owns row wid.y * 8 + l and all (up to 16) columns, kept as 4 vec4s in registers.
// Per k step each lane fetches its own A value and 2 of the row's B values, and the 16 B values
// reach every lane by subgroupShuffle. Elements are fetched one by one (texel i / 4, component
// i % 4), so no row needs to start on a texel. Grid: (1, ceil(M / 8), batch).
const NARROW: u32 = 16u;

fn elem_a(i: u32) -> f32 {
    return textureLoad(a_tex, texel(i / 4u), 0)[i % 4u];
}

fn elem_b(i: u32) -> f32 {
    return textureLoad(b_tex, texel(i / 4u), 0)[i % 4u];
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_narrow(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    let row = wid.y * 8u + lane;
    let r = min(row, p.m - 1u);
    let a_base = wid.z * p.a_batch_stride;
    let b_base = wid.z * p.b_batch_stride;
    // Element (r, kk) of op(A) is at a_base + r * a_r + kk * a_k; (kk, col) of op(B) likewise.
    var a_r = p.k;
    var a_k = 1u;
    if p.trans_a != 0u {
        a_r = 1u;
        a_k = p.m;
    }
    var b_k = p.n;
    var b_c = 1u;
    if p.trans_b != 0u {
        b_k = 1u;
        b_c = p.k;
    }
    let c0 = min(2u * lane, p.n - 1u);
    let c1 = min(2u * lane + 1u, p.n - 1u);
    var acc: array<vec4<f32>, 4>;
    for (var kk = 0u; kk < p.k; kk++) {
        let a = elem_a(a_base + r * a_r + kk * a_k);
        let b0 = elem_b(b_base + kk * b_k + c0 * b_c);
        let b1 = elem_b(b_base + kk * b_k + c1 * b_c);
        for (var j = 0u; j < 4u; j++) {
            let bv = vec4<f32>(subgroupShuffle(b0, 2u * j), subgroupShuffle(b1, 2u * j),
                               subgroupShuffle(b0, 2u * j + 1u), subgroupShuffle(b1, 2u * j + 1u));
            acc[j] = fma(vec4<f32>(a), bv, acc[j]);
        }
    }
    if row >= p.m {
        return;
    }
    let c_base = wid.z * p.c_batch_stride + row * p.n;
    for (var col = 0u; col < NARROW; col++) {
        if col < p.n {
            var v = acc[col / 4u][col % 4u];
            if p.has_bias != 0u {
                v += textureLoad(bias_tex, texel(col / 4u), 0)[col % 4u];
            }
            c[c_base + col] = activate(v, p.act);
        }
    }
}
