// matmul_texture32.wgsl — matmul_texture.wgsl's four products with 32-row x 32-column blocks:
// each lane keeps 32 rows x 1 vec4 of C (VECS = 1) instead of 2, so the subgroup's 8 lanes
// cover 32 columns. For results of at most 32 columns (a 32-filter convolution's forward
// product and weight gradient): a 64-column block leaves half its lanes without a column there
// and still pays for them (measured on llvmpipe: the fashion_mnist_cnn's column matrix times its
// kernel, 25,088 x 32 x 12, 2.9-3.0 -> 1.5-1.6 ms; its weight gradient 1.4 -> 0.8-1.0 ms).
// Same code as the 64-column entries (matmul_tile.wgsl, appended; design in matmul_texture.wgsl's
// header): each element of C is summed over k in the same order.
// Grid: (ceil(N / 32), ceil(M / 32), batch). Launcher: crates/device/src/ops/matmul.rs.
// Bindings (every entry): 0 params, 1 a (texture), 2 b (texture), 3 bias (texture), 4 c.

// Vec4 columns per lane (matmul_tile.wgsl): a 32-row x 32-column block per subgroup.
const VECS: u32 = 1u;

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nn32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, false, wid, lane);
    store_vec4(&acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tn32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product(true, false, wid, lane);
    store_vec4(&acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_nt32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(false, true, wid, lane);
    store(&acc, wid, lane);
}

@compute @workgroup_size(8, 1, 1)
fn matmul_texture_tt32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    var acc = product_k4(true, true, wid, lane);
    store(&acc, wid, lane);
}
