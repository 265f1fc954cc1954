// bias_grad.wgsl — a layer's activation gradient and its bias gradient in one pass.
//
// A Dense or Conv2D layer y = act(z), z = x w + b (rows = batch positions, cols = units or
// filters) has, from the upstream gradient g = dL/dy,
//   dz[r, c] = g[r, c] act'(z[r, c])     (act' from y alone: activation.wgsl's activate_grad)
//   db[c]    = sum over r of dz[r, c]
// Computed apart, that is two dispatches and a second read of dz; here each invocation takes 4
// columns (a vec4) over a chunk of rows, writes their dz and the chunk's partial sums, so db is
// complete in the same pass when one chunk covers every row, and otherwise the launcher sums the
// [chunks, cols] partials with reduce_rows (a few values per column instead of every row).
// On llvmpipe each dispatch costs about 30-50 us of fixed hand-off, about as much as the two
// kernels' work at batch 32, so the pass saves one of them per layer.
//
//   act_bias_backward4   0 params, 1 y (vec4), 2 g (vec4), 3 dz (vec4), 4 partial (vec4)
//     invocation i: column group i % cols4 of row chunk i / cols4; partial is [chunks, cols].
// cols % 4 == 0 (the launcher checks); 64 invocations per workgroup, grid folded to 2-D past
// 65,535 workgroups. Launcher: crates/device/src/ops/bias_grad.rs.

struct BiasGradParams { rows: u32, cols4: u32, chunk: u32, act: u32 }

@group(0) @binding(0) var<uniform> bg: BiasGradParams;
@group(0) @binding(1) var<storage, read> bg_y: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bg_g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> bg_dz: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> bg_partial: array<vec4<f32>>;

@compute @workgroup_size(64)
fn act_bias_backward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 64u + lid;
    let chunks = (bg.rows + bg.chunk - 1u) / bg.chunk;
    if i >= chunks * bg.cols4 { return; }
    let c = i % bg.cols4;
    let r0 = (i / bg.cols4) * bg.chunk;
    let r1 = min(r0 + bg.chunk, bg.rows);
    var sum = vec4<f32>(0.0);
    for (var r = r0; r < r1; r++) {
        let k = r * bg.cols4 + c;
        let y = bg_y[k];
        var d: vec4<f32>;
        for (var q = 0u; q < 4u; q++) {
            d[q] = activate_grad(y[q], y[q], bg.act);
        }
        let dz = bg_g[k] * d;
        bg_dz[k] = dz;
        sum += dz;
    }
    bg_partial[i] = sum;
}
