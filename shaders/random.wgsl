// random.wgsl — counter-based random numbers for dropout.
//
// dropout: u = hash(i, seed) in [0, 1); keep when u >= rate; mask = keep ? 1 / (1 - rate) : 0;
// y = x * mask. The mask is written so the backward pass is dx = dy * mask. The same hash is
// mirrored on the host (`reference::pcg_hash`), so a seed gives the same mask on every adapter.
// Launcher: crates/device/src/ops/random.rs. Bindings: 0 params, 1 x, 2 y, 3 mask.
// One element per invocation, 64 per workgroup, grid folded to 2-D past 65,535 workgroups.

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

// PCG-RXS-M-XS 32-bit hash (Jarzynski & Olano, "Hash Functions for GPU Rendering", 2020).
fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

struct DropoutParams { n: u32, seed: u32, rate: f32, scale: f32 }

@group(0) @binding(0) var<uniform> p: DropoutParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

@compute @workgroup_size(64)
fn dropout(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n { return; }
    let h = pcg_hash(i + pcg_hash(p.seed));
    let u = f32(h >> 8u) * (1.0 / 16777216.0);
    let m = select(0.0, p.scale, u >= p.rate);
    mask[i] = m;
    y[i] = x[i] * m;
}
