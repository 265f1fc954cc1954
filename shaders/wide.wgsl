// wide.wgsl — f32 (and u32) values moved through storage as 64-bit words, appended to the files
// whose kernels do (crates/device/src/shader_files.rs) and to every file's wide flavour
// (crates/device/src/wide_flavor.rs, which rewrites vec4 storage arrays as vec2<u64>). On
// llvmpipe (Mesa 22.3) a storage load or store is a loop over the SIMD lanes with a bounds check
// and a branch per component, whatever the component's width; a u64 component carries two f32s,
// so a vec4 moves in 2 such steps per lane instead of 4, and 8 values in 4 instead of 8.
// Measured 2026-12-08 on lavapipe (2-core EPYC VM), a raw-wgpu Adam-shaped update over 1.6M
// weights (4 loads, 3 stores per invocation), 5 alternating rounds: vec4<f32> 7.0-8.9 ms,
// vec2<u64> 5.2-6.5, vec4<u64> 4.9-5.7. The bits are unchanged (bit casts): a kernel gives the
// same results either way. Needs 64-bit integers in shaders (`DeviceInfo::shader_int64`, wgpu's
// SHADER_INT64); kiln runs these kernels only where the device has them.
//
// Little-endian words: the f32 at the lower address is the low half.

fn unpack4(x: vec2<u64>) -> vec4<f32> {
    return bitcast<vec4<f32>>(unpack4u(x));
}

fn pack4(a: vec4<f32>) -> vec2<u64> {
    return pack4u(bitcast<vec4<u32>>(a));
}

fn unpack4u(x: vec2<u64>) -> vec4<u32> {
    return vec4<u32>(u32(x.x & 0xfffffffflu), u32(x.x >> 32u), u32(x.y & 0xfffffffflu), u32(x.y >> 32u));
}

fn pack4u(b: vec4<u32>) -> vec2<u64> {
    return vec2<u64>(u64(b.x) | (u64(b.y) << 32u), u64(b.z) | (u64(b.w) << 32u));
}

// 8 consecutive f32s as two vec4s, and back.
fn unpack8(x: vec4<u64>) -> array<vec4<f32>, 2> {
    return array<vec4<f32>, 2>(unpack4(x.xy), unpack4(x.zw));
}

fn pack8(a: vec4<f32>, b: vec4<f32>) -> vec4<u64> {
    return vec4<u64>(pack4(a), pack4(b));
}
