// fill.wgsl — set every 32-bit word of a buffer to one bit pattern (f32 or u32 alike).
//
// Launcher: crates/device/src/ops/fill.rs. Bindings: 0 params, 1 out. One word per invocation,
// 64 per workgroup, grid folded to 2-D past 65,535 workgroups. (Zeroing uses the encoder's
// clear_buffer instead; copies use copy_buffer_to_buffer.)

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct FillParams { n: u32, bits: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: FillParams;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n { return; }
    out[i] = p.bits;
}
