// activation.wgsl — the elementwise activations, shared by the unary kernels (elementwise.wgsl)
// and the epilogues of matmul.wgsl, matmul_texture.wgsl, conv2d.wgsl and conv2d_texture.wgsl
// (shader_files.rs appends this file to their source; WGSL has no includes). Codes: the `ACT_*`
// constants of the prelude generated from crates/device/src/codes.rs (`Activation::code`); an
// unknown code gives NaN. Epilogues apply it to whole vec4 accumulators, once, with the linear
// case skipped by a uniform branch: a call per stored scalar inside an unrolled store loop
// measured 70% slower on the batch-32 conv forward (llvmpipe).

fn activate(x: f32, act: u32) -> f32 {
    switch act {
        case ACT_LINEAR: { return x; }
        case ACT_RELU: { return max(x, 0.0); }
        case ACT_SIGMOID: {
            // Split by sign so exp never overflows (as elementwise.wgsl's sigmoid).
            if x >= 0.0 {
                return 1.0 / (1.0 + exp(-x));
            }
            let e = exp(x);
            return e / (1.0 + e);
        }
        case ACT_TANH: { return tanh(x); }
        default: { return poison(); }
    }
}

fn activate4(v: vec4<f32>, act: u32) -> vec4<f32> {
    switch act {
        case ACT_LINEAR: { return v; }
        case ACT_RELU: { return max(v, vec4<f32>(0.0)); }
        case ACT_SIGMOID: {
            return vec4<f32>(activate(v.x, ACT_SIGMOID), activate(v.y, ACT_SIGMOID),
                             activate(v.z, ACT_SIGMOID), activate(v.w, ACT_SIGMOID));
        }
        case ACT_TANH: { return tanh(v); }
        default: { return vec4<f32>(poison()); }
    }
}

// d act(z) / dz, from z = x or from the output y alone (the fused epilogues keep no z and pass
// y for both): relu' = [x > 0] (y > 0 exactly when z > 0), sigmoid' = y (1 - y),
// tanh' = 1 - y^2, linear' = 1.
fn activate_grad(x: f32, y: f32, act: u32) -> f32 {
    switch act {
        case ACT_LINEAR: { return 1.0; }
        case ACT_RELU: { return select(0.0, 1.0, x > 0.0); }
        case ACT_SIGMOID: { return y * (1.0 - y); }
        case ACT_TANH: { return 1.0 - y * y; }
        default: { return poison(); }
    }
}
