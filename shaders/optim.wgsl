// optim.wgsl — in-place optimizer updates, following Keras 3's formulas exactly.
//
// Every entry updates the parameter p in place from its gradient g and its state buffers; the
// host passes step-dependent scalars (learning rate, Adam's bias corrections) in the params, so
// a schedule costs nothing on the GPU. Decoupled weight decay (Keras `weight_decay`, AdamW) is
// applied first: p -= lr * wd * p. Launcher: crates/device/src/ops/optim.rs.
// One element per invocation, 64 per workgroup, grid folded to 2-D past 65,535 workgroups.
//   sgd_step      0 params, 1 g, 2 p, 3 velocity
//   adam_step     0 params, 1 g, 2 p, 3 m, 4 v
//   adam_step4    0 params, 1 g, 2 p, 3 m, 4 v (as vec4: 4 elements per invocation)
//   rmsprop_step  0 params, 1 g, 2 p, 3 velocity, 4 momentum, 5 average_gradient
//
// State that decays geometrically (momentum, Adam's m and v, RMSprop's averages) is flushed to
// zero once it falls below the smallest normal f32 instead of going on into the denormals. A
// weight whose gradient is exactly zero step after step (a dead ReLU unit, an input pixel that
// is 0 in every image, as Fashion-MNIST's borders are) has its m multiplied by 0.9 per step: a
// denormal within ~800 steps, and stuck there (its decrement rounds to zero). llvmpipe does
// not flush denormals (shaderDenormFlushToZeroFloat32 = false) and every x86 operation on one
// takes a microcode assist: Adam over the MLP's 101,770 weights ran 790 us per step instead of
// 300 from then on. TensorFlow's CPU kernels run with FTZ/DAZ set, so Keras's state never holds
// a denormal either; GPUs flush in shaders anyway. `ftz` / `ftz4` come from the prelude
// (crates/device/src/codes.rs), shared with optim_texture.wgsl and batchnorm.wgsl.

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct SgdParams { n: u32, lr: f32, momentum: f32, nesterov: u32, weight_decay: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> sp: SgdParams;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> param: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;
@group(0) @binding(5) var<storage, read_write> s3: array<f32>;

// Keras SGD: v = momentum * v - lr * g;  p += nesterov ? momentum * v - lr * g : v.
// Without momentum: p -= lr * g (v untouched).
@compute @workgroup_size(64)
fn sgd_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= sp.n { return; }
    var w = param[i];
    w -= sp.lr * sp.weight_decay * w;
    let gi = g[i];
    if sp.momentum == 0.0 {
        param[i] = w - sp.lr * gi;
        return;
    }
    let v = ftz(sp.momentum * s1[i] - sp.lr * gi);
    s1[i] = v;
    if sp.nesterov == 1u {
        param[i] = w + sp.momentum * v - sp.lr * gi;
    } else {
        param[i] = w + v;
    }
}

// lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t) is computed on the host (bias correction).
struct AdamParams { n: u32, lr: f32, beta1: f32, beta2: f32, eps: f32, lr_t: f32, weight_decay: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> ap: AdamParams;

// Keras Adam: m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  p -= lr_t m / (sqrt(v) + eps)
@compute @workgroup_size(64)
fn adam_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= ap.n { return; }
    var w = param[i];
    w -= ap.lr * ap.weight_decay * w;
    let gi = g[i];
    let m = ftz(s1[i] + (gi - s1[i]) * (1.0 - ap.beta1));
    let v = ftz(s2[i] + (gi * gi - s2[i]) * (1.0 - ap.beta2));
    s1[i] = m;
    s2[i] = v;
    param[i] = w - ap.lr_t * m / (sqrt(v) + ap.eps);
}

// adam_step on vec4s, its arithmetic in adam.wgsl (appended to this file): on llvmpipe every
// storage access is a per-lane loop (see matmul_texture.wgsl), so 4 loads and 3 stores of vec4
// replace 16 and 12 scalar ones, with no staging copies (adam_step_texture's cost). The last vec4 may run past n: every pool buffer
// is a power of two of at least 16 bytes (or a multiple of 16 MiB) and bound whole, and the
// launcher checks that each binding holds ceil(n / 4) vec4s, so it stays in padding nothing
// reads.
@group(0) @binding(1) var<storage, read> g4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> p4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn adam_step4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid);
    if 4u * t >= ap.n { return; }
    let s = AdamScalars(ap.lr, ap.beta1, ap.beta2, ap.eps, ap.lr_t, ap.weight_decay, 0u, 0u);
    let u = adam4(s, g4[t], p4[t], m4[t], v4[t]);
    m4[t] = u.m;
    v4[t] = u.v;
    p4[t] = u.p;
}

struct RmspropParams { n: u32, lr: f32, rho: f32, momentum: f32, eps: f32, centered: u32, weight_decay: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> rp: RmspropParams;

// Keras RMSprop: v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g, denom = v - a^2 + eps,
// else denom = v + eps; inc = lr g / sqrt(denom); momentum > 0: m = momentum m + inc, p -= m;
// else p -= inc.
@compute @workgroup_size(64)
fn rmsprop_step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= rp.n { return; }
    var w = param[i];
    w -= rp.lr * rp.weight_decay * w;
    let gi = g[i];
    let v = ftz(rp.rho * s1[i] + (1.0 - rp.rho) * gi * gi);
    s1[i] = v;
    var denom = v + rp.eps;
    if rp.centered == 1u {
        let a = ftz(rp.rho * s3[i] + (1.0 - rp.rho) * gi);
        s3[i] = a;
        denom = v - a * a + rp.eps;
    }
    let inc = rp.lr * gi / sqrt(denom);
    if rp.momentum > 0.0 {
        let m = ftz(rp.momentum * s2[i] + inc);
        s2[i] = m;
        param[i] = w - m;
    } else {
        param[i] = w - inc;
    }
}
