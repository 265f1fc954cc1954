// wide.wgsl — f32 values moved through storage as 64-bit words, appended to the files whose
// kernels do (crates/device/src/kernels.rs). On llvmpipe (Mesa 22.3) a storage load or store is
// a loop over the SIMD lanes with a bounds check and a branch per component, whatever the
// component's width; a u64 component carries two f32s, so 8 values move in 4 such steps per lane
// instead of 8. The bits are unchanged (bit casts): a kernel gives the same results either way.
// Needs 64-bit integers in shaders (`DeviceInfo::shader_int64`, wgpu's SHADER_INT64); the
// launchers choose these kernels only where the device has them.
//
// Little-endian words: the f32 at the lower address is the low half.

fn unpack4(x: vec2<u64>) -> vec4<f32> {
    return vec4<f32>(
        bitcast<f32>(u32(x.x & 0xfffffffflu)),
        bitcast<f32>(u32(x.x >> 32u)),
        bitcast<f32>(u32(x.y & 0xfffffffflu)),
        bitcast<f32>(u32(x.y >> 32u)),
    );
}

fn pack4(a: vec4<f32>) -> vec2<u64> {
    let b = bitcast<vec4<u32>>(a);
    return vec2<u64>(u64(b.x) | (u64(b.y) << 32u), u64(b.z) | (u64(b.w) << 32u));
}

// 8 consecutive f32s as two vec4s, and back.
fn unpack8(x: vec4<u64>) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(unpack4(x.xy), unpack4(x.zw));
}

fn pack8(a: vec4<f32>, b: vec4<f32>) -> vec4<u64> {
    return vec4<u64>(pack4(a), pack4(b));
}
