// activation.wgsl — the activations a kernel's epilogue can apply before its store, shared by
// matmul.wgsl, matmul_texture.wgsl, conv2d.wgsl and conv2d_texture.wgsl (kernels.rs appends this
// file to their source; WGSL has no includes). Codes (mirrored by `Act` in ops/matmul.rs):
// 0 linear, 1 relu, 2 sigmoid, 3 tanh. Kernels apply it to whole vec4 accumulators, once, with
// the linear case skipped by a uniform branch: a call per stored scalar inside an unrolled store
// loop measured 70% slower on the batch-32 conv forward (llvmpipe).

fn activate(x: f32, act: u32) -> f32 {
    switch act {
        case 1u: { return max(x, 0.0); }
        case 2u: {
            // Split by sign so exp never overflows (as elementwise.wgsl's sigmoid).
            if x >= 0.0 {
                return 1.0 / (1.0 + exp(-x));
            }
            let e = exp(x);
            return e / (1.0 + e);
        }
        case 3u: { return tanh(x); }
        default: { return x; }
    }
}

fn activate4(v: vec4<f32>, act: u32) -> vec4<f32> {
    switch act {
        case 1u: { return max(v, vec4<f32>(0.0)); }
        case 2u: {
            return vec4<f32>(activate(v.x, 2u), activate(v.y, 2u), activate(v.z, 2u), activate(v.w, 2u));
        }
        case 3u: { return tanh(v); }
        default: { return v; }
    }
}
