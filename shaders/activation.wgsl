// activation.wgsl — the activations a kernel's epilogue can apply before its store, shared by
// matmul.wgsl, matmul_texture.wgsl, conv2d.wgsl and conv2d_texture.wgsl (kernels.rs appends this
// file to their source; WGSL has no includes). Codes (mirrored by `Act` in ops/matmul.rs):
// 0 linear, 1 relu, 2 sigmoid, 3 tanh.

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
