// matmul_texture_wide.wgsl — matmul_texture_tn_adam (matmul_texture.wgsl) with its weight and
// moments read and written as 64-bit words (wide.wgsl, appended with matmul_tile.wgsl,
// activation.wgsl and adam.wgsl; crates/device/src/shader_files.rs). A separate file because a module
// that names u64 does not validate on a device without 64-bit integers, where the other entries
// must still run.
//
// The product is matmul_texture_tn's tile and the update adam4 on the same vec4s, so the results
// are the same bits as matmul_texture_tn_adam's (a test pins it). A lane's 2 vec4 columns are 8
// consecutive weights of a row (col0 is a multiple of 8), so each of the weight, m and v moves as
// one vec4<u64> per row: 6 per-lane storage accesses of 4 words per 8 weights where the f32 entry
// makes 12 of 4 words. N % 8 == 0, so a lane's 8 columns are wholly inside the weight or wholly
// outside. Measured on lavapipe (2026-12-08, 2-core EPYC VM, alternating single dispatches in one
// process, medians of 38): the CNN's 6272x256 kernel 13.1 -> 11.1 ms (minimums 9.0 -> 8.6), the
// MLP's 784x128 0.87 -> 0.72 ms.
// Bindings: 0 params (with `adam`), 1 x (texture), 2 dz (texture), 3 the weight, 4 m, 5 v (each
// [K_in, N], 8 values per element). Launcher: crates/device/src/ops/matmul_adam.rs.

// Vec4 columns per lane (matmul_tile.wgsl): a 32-row x 64-column block per subgroup, as in
// matmul_texture.wgsl.
const VECS: u32 = 2u;

@group(0) @binding(3) var<storage, read_write> w8: array<vec4<u64>>;
@group(0) @binding(4) var<storage, read_write> m8: array<vec4<u64>>;
@group(0) @binding(5) var<storage, read_write> v8: array<vec4<u64>>;

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tn_adam_wide(@builtin(workgroup_id) wid: vec3<u32>,
                               @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product(true, false, wid, lane);
    let row0 = row0_of(wid);
    let col0 = col0_of(wid, lane);
    let rows = block_rows();
    for (var i = 0u; i < rows; i++) {
        let r = row0 + i;
        if r < p.m && col0 < p.n {
            let e = (r * p.n + col0) / 8u;
            let w = unpack8(w8[e]);
            let m = unpack8(m8[e]);
            let v = unpack8(v8[e]);
            let a = adam4(p.adam, acc[i][0], w[0], m[0], v[0]);
            let b = adam4(p.adam, acc[i][1], w[1], m[1], v[1]);
            m8[e] = pack8(a.m, b.m);
            v8[e] = pack8(a.v, b.v);
            w8[e] = pack8(a.p, b.p);
        }
    }
}
