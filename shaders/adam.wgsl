// adam.wgsl — Keras Adam's update of 4 elements (and of 1), appended to optim.wgsl (adam_step4),
// matmul_texture.wgsl (matmul_texture_tn_adam) and dense_backward.wgsl (its in-place mode), the
// last two updating weights where their gradients are made, so that all compute the same bits
// from the same gradient (crates/device/src/shader_files.rs).
//
// Keras Adam: p -= lr wd p (decoupled weight decay, AdamW, first); m += (g - m)(1 - b1);
// v += (g^2 - v)(1 - b2); p -= lr_t m / (sqrt(v) + eps), where the host computes the bias
// correction lr_t = lr sqrt(1 - b2^t) / (1 - b1^t). m and v are flushed to zero below the
// smallest normal f32 (optim.wgsl says why).

struct AdamScalars { lr: f32, beta1: f32, beta2: f32, eps: f32, lr_t: f32, weight_decay: f32, _p0: u32, _p1: u32 }

// The updated weight, first and second moment.
struct Adam4 { p: vec4<f32>, m: vec4<f32>, v: vec4<f32> }

// (`grad`, not `g`: optim.wgsl's texture flavour rewrites its input `g` wherever it is named.)
fn adam4(s: AdamScalars, grad: vec4<f32>, p0: vec4<f32>, m0: vec4<f32>, v0: vec4<f32>) -> Adam4 {
    var w = p0;
    w -= s.lr * s.weight_decay * w;
    let m = ftz4(m0 + (grad - m0) * (1.0 - s.beta1));
    let v = ftz4(v0 + (grad * grad - v0) * (1.0 - s.beta2));
    return Adam4(w - s.lr_t * m / (sqrt(v) + s.eps), m, v);
}

// The same update of one element (dense_backward.wgsl's in-place mode): adam4 on splats, so
// the value is the same bits as that element's in a vec4 update.
struct Adam1 { p: f32, m: f32, v: f32 }

fn adam1(s: AdamScalars, grad: f32, p0: f32, m0: f32, v0: f32) -> Adam1 {
    let u = adam4(s, vec4<f32>(grad), vec4<f32>(p0), vec4<f32>(m0), vec4<f32>(v0));
    return Adam1(u.p.x, u.m.x, u.v.x);
}
