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
// C is stored as vec4s where N % 4 == 0 (B not transposed, and matmul_texture_nt4): a storage
// access is a per-lane loop on llvmpipe, so one per 4 values instead of four matters when K is
// small.
// The k-step loops have constant trip counts; Mesa unrolls them, which turns the shuffle lane and
// every array index into constants. The store loops take a runtime bound instead, which keeps
// them rolled (matmul_tile.wgsl says why).
//
// Stored layouts as in matmul.wgsl: A [M, K] (or [K, M] when transposed), B [K, N] (or [N, K]),
// C [M, N]; batch b adds b * stride (in words, a multiple of 4) to an operand.
// Grid: (ceil(N / 64), ceil(M / 32), batch). Launcher: crates/device/src/ops/matmul.rs.
// The machinery is in matmul_tile.wgsl (appended); matmul_texture32.wgsl has the same four
// products with 32-column blocks, for results of at most 32 columns (a 32-filter convolution),
// where a 64-column block would leave half its lanes without a column.
// matmul_texture_tn_adam is the tn entry with Adam applied to the result instead of storing it;
// the last entry, matmul_texture_narrow, is its own design for results of at most 16 columns
// (see their comments).
// Bindings (every entry): 0 params, 1 a (texture), 2 b (texture), 3 bias (texture, any one when
// has_bias = 0), 4 c.
// Epilogue (every entry but the fused update): C = act(op(A) x op(B) + bias), with bias[N] and
// act one of activation.wgsl's codes (appended to this file): a Dense layer in one dispatch
// instead of three (matmul, bias add, activation), so its output is written once. The four
// block entries take it as pipeline constants (EPI_ACT, EPI_BIAS: matmul_tile.wgsl), the narrow
// one from the params (has_bias, act).

// Vec4 columns per lane (matmul_tile.wgsl, appended): a 32-row x 64-column block per subgroup.
const VECS: u32 = 2u;

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, false, wid, lane);
    store_vec4(&acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tn(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product(true, false, wid, lane);
    store_vec4(&acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, true, wid, lane);
    store(&acc, wid, lane);
}

// The nt product storing C as vec4s, for N % 4 == 0 (the launcher's choice; any N is K-major
// here, so the plain entry stores scalars). With 64-bit storage words (the wide flavour) a vec4
// store is 2 per-lane steps where 4 scalar stores are 4 loops of 1: the CNN's 32x6272 input
// gradient (K = 256) 2.2 -> 1.85 ms (first quartiles of 38, alternating builds, 2026-12-08).
// Without them the two measured alike (986-1,248 against 1,172-1,250 us, README).
@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nt4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, true, wid, lane);
    store_vec4(&acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tt(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(true, true, wid, lane);
    store(&acc, wid, lane);
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
    var acc = product(true, false, wid, lane);
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let rows = block_rows();
    for (var i = 0u; i < rows; i++) {
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
