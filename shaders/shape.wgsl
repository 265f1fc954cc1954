// shape.wgsl — data movement for reshape-free layout ops: transpose/permute, slice, concat.
//
// strided_copy walks every element of a rank <= 8 index space `shape` (row-major) and copies
//   dst[dst_offset + sum(c_d * dst_strides_d)] = src[src_offset + sum(c_d * src_strides_d)]
// which covers permute (permuted source strides), slice (source offset and strides), concat and
// slice-backward (destination offset and strides into a larger tensor). Launcher:
// crates/device/src/ops/shape.rs. Bindings: 0 params, 1 src, 2 dst. One element per invocation,
// 64 per workgroup, grid folded to 2-D past 65,535 workgroups.
//
// gather_rows copies whole rows picked by an index buffer, the batch gather from a dataset kept
// on the GPU: dst[r * row_words + j] = row idx[idx_offset + r] of the dataset, word j. Rows are
// 32-bit words of any type (f32 pixels, u32 labels). The dataset may be split into up to 4
// chunk buffers of chunk_rows rows each (the last may be shorter), because one binding is
// limited (128 MiB on lavapipe, less than Fashion-MNIST's 188 MB of f32 pixels): row s lives
// in chunk s / chunk_rows. Bindings: 0 params, 1-4 chunks (unused ones repeat the last), 5 idx,
// 6 dst. Grid: (ceil(row_words / 64), rows): the row comes from the workgroup id. An index past
// src_rows gives a row of zeros (the launcher's caller checks the indices it uploads; this only
// keeps a bad index from reading another buffer). gather_rows4 is the same over vec4 words, for
// rows whose word count is a multiple of 4 (the launcher passes row_words / 4): a storage access
// is a per-lane loop on llvmpipe, so moving 16 bytes per access instead of 4 matters there.

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

struct GatherParams {
    rows: u32, row_words: u32, idx_offset: u32, src_rows: u32,
    chunk_rows: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> g: GatherParams;
@group(0) @binding(1) var<storage, read> g_src0: array<u32>;
@group(0) @binding(2) var<storage, read> g_src1: array<u32>;
@group(0) @binding(3) var<storage, read> g_src2: array<u32>;
@group(0) @binding(4) var<storage, read> g_src3: array<u32>;
@group(0) @binding(5) var<storage, read> g_idx: array<u32>;
@group(0) @binding(6) var<storage, read_write> g_dst: array<u32>;

@compute @workgroup_size(64)
fn gather_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = wid.x * 64u + lid;
    let r = wid.y;
    if j >= g.row_words || r >= g.rows { return; }
    let s = g_idx[g.idx_offset + r];
    var v = 0u;
    if s < g.src_rows {
        let o = (s % g.chunk_rows) * g.row_words + j;
        switch s / g.chunk_rows {
            case 0u: { v = g_src0[o]; }
            case 1u: { v = g_src1[o]; }
            case 2u: { v = g_src2[o]; }
            default: { v = g_src3[o]; }
        }
    }
    g_dst[r * g.row_words + j] = v;
}

@group(0) @binding(1) var<storage, read> g4_src0: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> g4_src1: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> g4_src2: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> g4_src3: array<vec4<u32>>;
@group(0) @binding(6) var<storage, read_write> g4_dst: array<vec4<u32>>;

@compute @workgroup_size(64)
fn gather_rows4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let j = wid.x * 64u + lid;
    let r = wid.y;
    if j >= g.row_words || r >= g.rows { return; }
    let s = g_idx[g.idx_offset + r];
    var v = vec4<u32>(0u);
    if s < g.src_rows {
        let o = (s % g.chunk_rows) * g.row_words + j;
        switch s / g.chunk_rows {
            case 0u: { v = g4_src0[o]; }
            case 1u: { v = g4_src1[o]; }
            case 2u: { v = g4_src2[o]; }
            default: { v = g4_src3[o]; }
        }
    }
    g4_dst[r * g.row_words + j] = v;
}
