// optim_texture.wgsl — Adam/AdamW step for CPU-type adapters, inputs read from textures.
//
// Same formulas as adam_step in optim.wgsl (Keras 3). The difference is where the four inputs
// come from: on llvmpipe every storage-buffer load is a per-lane loop with a stall per value
// (see matmul_texture.wgsl), which made adam_step about a third of an MLP training step. The
// launcher copies g, p, m and v into flat rgba32float staging textures (texel t at
// (t % 256, t / 256) holds elements 4t..4t+3) and each invocation updates one texel's 4
// elements and stores them as one vec4 per buffer: a storage access is a per-lane loop on
// llvmpipe, so 3 vec4 stores instead of 12 scalar ones (measured over the CNN's 1.6M dense
// weights, alternating runs: 12.2-15.3 ms before, 7.2-10.8 ms after). The last vec4 may run
// past n: every pool buffer is a power of two of at least 16 bytes (or a multiple of 16 MiB)
// and is bound whole, so it stays inside the buffer, in padding nothing reads.
// 64 invocations per workgroup, grid folded to 2-D past 65,535 workgroups.
// Bindings: 0 params, 1 g, 2 p, 3 m, 4 v (textures), 5 p, 6 m, 7 v (buffers, updated).
// Launcher: crates/device/src/ops/optim.rs.

struct AdamParams { n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, lr_t: f32, weight_decay: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> ap: AdamParams;
@group(0) @binding(1) var g_tex: texture_2d<f32>;
@group(0) @binding(2) var p_tex: texture_2d<f32>;
@group(0) @binding(3) var m_tex: texture_2d<f32>;
@group(0) @binding(4) var v_tex: texture_2d<f32>;
@group(0) @binding(5) var<storage, read_write> p_out: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> m_out: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> v_out: array<vec4<f32>>;

// m and v are flushed to zero below the smallest normal f32 (the prelude's `ftz4`), as in
// optim.wgsl (why there).
// Keras Adam: m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  p -= lr_t m / (sqrt(v) + eps)
@compute @workgroup_size(64)
fn adam_step_texture(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
    let t = (wid.y * nwg.x + wid.x) * 64u + lid;
    if 4u * t >= ap.n { return; }
    let xy = vec2<i32>(i32(t % 256u), i32(t / 256u));
    let g = textureLoad(g_tex, xy, 0);
    var w = textureLoad(p_tex, xy, 0);
    w -= ap.lr * ap.weight_decay * w;
    let m0 = textureLoad(m_tex, xy, 0);
    let v0 = textureLoad(v_tex, xy, 0);
    let m = ftz4(m0 + (g - m0) * (1.0 - ap.beta1));
    let v = ftz4(v0 + (g * g - v0) * (1.0 - ap.beta2));
    let p = w - ap.lr_t * m / (sqrt(v) + ap.eps);
    p_out[t] = p;
    m_out[t] = m;
    v_out[t] = v;
}
