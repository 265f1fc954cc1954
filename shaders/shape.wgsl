// shape.wgsl — data movement for reshape-free layout ops: transpose/permute, slice, concat.
//
// strided_copy walks every element of a rank <= 8 index space `shape` (row-major) and copies
//   dst[dst_offset + sum(c_d * dst_strides_d)] = src[src_offset + sum(c_d * src_strides_d)]
// which covers permute (permuted source strides), slice (source offset and strides), concat and
// slice-backward (destination offset and strides into a larger tensor). Launcher:
// crates/device/src/ops/shape.rs. Bindings: 0 params, 1 src, 2 dst. One element per invocation,
// 64 per workgroup, grid folded to 2-D past 65,535 workgroups.

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct CopyParams {
    n: u32, rank: u32, src_offset: u32, dst_offset: u32,
    shape: array<vec4<u32>, 2>,
    src_strides: array<vec4<u32>, 2>,
    dst_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn strided_copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.n { return; }
    var rem = i;
    var s = p.src_offset;
    var d = p.dst_offset;
    for (var k = i32(p.rank) - 1; k >= 0; k--) {
        let q = u32(k) / 4u;
        let r = u32(k) % 4u;
        let c = rem % p.shape[q][r];
        rem = rem / p.shape[q][r];
        s += c * p.src_strides[q][r];
        d += c * p.dst_strides[q][r];
    }
    dst[d] = src[s];
}
