// matmul_tile.wgsl — the texture matmul's machinery, appended to matmul_texture.wgsl and
// matmul_texture32.wgsl (shader_files.rs; WGSL has no includes): the params, the bindings, a lane's
// tile of C in registers, the operand fetches, the k steps, the epilogue and the stores. The
// design and its measurements are in matmul_texture.wgsl's header. Each file that appends this
// one declares `VECS`, the vec4 columns a lane keeps: 2 there (a 32-row x 64-column block per
// subgroup), 1 in matmul_texture32.wgsl (32 x 32, for results of at most 32 columns).

// `adam`: the update matmul_texture_tn_adam applies (adam.wgsl, appended); unused elsewhere.
struct MatmulParams {
    m: u32, n: u32, k: u32, batch: u32,
    trans_a: u32, trans_b: u32, a_batch_stride: u32, b_batch_stride: u32,
    c_batch_stride: u32, has_bias: u32, act: u32, tile_rows: u32,
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

// The epilogue, fixed per pipeline (crates/device/src/overrides.rs): C = act(op(A) x op(B) +
// bias) with EPI_ACT an activation.wgsl code and EPI_BIAS 1 when there is a bias (the params'
// `act` and `has_bias` are matmul.wgsl's). On llvmpipe every branch of an `if` or `switch` runs
// under a lane mask whatever its condition, so with the activation read from the params every
// product computed each activation (sigmoid and tanh included) for every value it stored, and
// a plain product its skipped epilogue; a constant lets Mesa drop them.
override EPI_ACT: u32 = 0u;
override EPI_BIAS: u32 = 0u;

// The epilogue's bias for the lane's columns: one texel per column vec4 (col a multiple of 4;
// a block past the last column reads the last texel and is not stored); zeros without a bias.
fn bias_cols(col0: u32) -> array<vec4<f32>, VECS> {
    var b: array<vec4<f32>, VECS>;
    if EPI_BIAS != 0u {
        for (var j = 0u; j < VECS; j++) {
            b[j] = textureLoad(bias_tex, texel(min(col0 + 4u * j, p.n - 1u) / 4u), 0);
        }
    }
    return b;
}

// One vec4 of the tile as stored: with the epilogue when the pipeline has one, else as computed
// (so a plain product keeps its bits, -0.0 included).
fn finish(v: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    if EPI_BIAS != 0u || EPI_ACT != ACT_LINEAR {
        return activate4(v + b, EPI_ACT);
    }
    return v;
}

// A[row0 + 4 * lane + q][kk] for q = 0..3 (rows clamped to the matrix).
fn a_rows(trans: bool, kk: u32, row0: u32, lane: u32, base: u32) -> vec4<f32> {
    if trans {
        // Stored [K, M]: one texel holds the 4 rows.
        let row_texels = p.m / 4u;
        return textureLoad(a_tex, texel(base + kk * row_texels + min(row0 / 4u + lane, row_texels - 1u)), 0);
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

// The stores apply the epilogue as they go (`finish`). Their loops, and the fused update's, take
// their row count from `tile_rows` (ROWS, set by the launcher), a bound Mesa cannot see, so it
// keeps them rolled: a storage access is a per-lane loop on llvmpipe, and the fused update's 64
// unrolled vec4 updates per lane (6 such loops each) ran slower than the rolled loop (measured
// 2026-12-07 on the CNN's 6272x256 kernel: 10.6-10.8 against 7.7-8.4 ms; the plain stores even,
// 3.3-3.6 against 3.1-3.6). A bound Mesa can see to be at most 32 (`min(ROWS, m)`) made that
// update take 34 ms. The tile is then indexed at run time, so it is passed by pointer: a
// by-value array indexed at run time was copied whole per access (naga; 46 ms).
fn block_rows() -> u32 {
    return p.tile_rows;
}

fn store(acc: ptr<function, Tile>, wid: vec3<u32>, lane: u32) {
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let c_base = wid.z * p.c_batch_stride;
    let bias = bias_cols(col0);
    let rows = block_rows();
    for (var i = 0u; i < rows; i++) {
        let r = row0 + i;
        for (var j = 0u; j < VECS; j++) {
            let v = finish((*acc)[i][j], bias[j]);
            for (var q = 0u; q < 4u; q++) {
                let col = col0 + 4u * j + q;
                if r < p.m && col < p.n {
                    c[c_base + r * p.n + col] = v[q];
                }
            }
        }
    }
}

// N % 4 == 0, so a vec4 of columns is either wholly inside C or wholly outside.
fn store_vec4(acc: ptr<function, Tile>, wid: vec3<u32>, lane: u32) {
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let c_base = wid.z * p.c_batch_stride;
    let bias = bias_cols(col0);
    let rows = block_rows();
    for (var i = 0u; i < rows; i++) {
        let r = row0 + i;
        for (var j = 0u; j < VECS; j++) {
            let col = col0 + 4u * j;
            if r < p.m && col < p.n {
                c4[(c_base + r * p.n + col) / 4u] = finish((*acc)[i][j], bias[j]);
            }
        }
    }
}
