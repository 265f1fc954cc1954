// elementwise.wgsl — pointwise math on f32 buffers.
//
// Entry points (launcher: crates/device/src/ops/elementwise.rs):
//   unary            y[i] = f(x[i])                      bindings: 0 params, 1 x, 2 y
//   unary_backward   dx[i] = dy[i] * f'(x[i])            bindings: 0 params, 1 x, 2 y, 3 dy, 4 dx
//   binary           out = a (op) b with broadcasting    bindings: 0 params, 1 a, 2 b, 3 out
//   binary_backward  full-shape gradient w.r.t. a or b   bindings: 0 params, 1 a, 2 b, 3 dy, 4 g
//   accumulate       y[i] += x[i] (gradient fan-in)      bindings: 0 params, 1 x, 2 y
// Geometry: 64 invocations per workgroup, one element each; the workgroup grid is folded into
// 2-D when it passes 65,535 (see grid.rs), so every entry rebuilds its linear index the same way
// and starts with the bounds guard.
//
// Unary op codes (mirrored by `UnaryOp` in Rust): 0 neg, 1 exp, 2 log, 3 sqrt, 4 relu,
// 5 leaky_relu(alpha), 6 sigmoid, 7 tanh, 8 clamp(alpha, beta), 9 pow(alpha), 10 affine
// (alpha * x + beta), 11 abs.
// Binary op codes (mirrored by `BinaryOp`): 0 add, 1 sub, 2 mul, 3 div, 4 maximum, 5 minimum.

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct UnaryParams { n: u32, op: u32, alpha: f32, beta: f32 }

@group(0) @binding(0) var<uniform> up: UnaryParams;
@group(0) @binding(1) var<storage, read> u_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> u_y: array<f32>;

fn sigmoid(x: f32) -> f32 {
    // Split by sign so exp never overflows.
    if x >= 0.0 {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// x^a as powf does it: WGSL's pow is exp2(a log2 x), NaN for any negative x, so negative bases
// with integer exponents take the sign from the exponent's parity; other negative bases give NaN.
fn powf(x: f32, a: f32) -> f32 {
    let r = pow(abs(x), a);
    if x >= 0.0 {
        return r;
    }
    if fract(a) != 0.0 {
        return bitcast<f32>(0x7fc00000u);
    }
    return select(r, -r, fract(a * 0.5) != 0.0);
}

fn unary_fn(op: u32, x: f32, a: f32, b: f32) -> f32 {
    switch op {
        case 0u: { return -x; }
        case 1u: { return exp(x); }
        case 2u: { return log(x); }
        case 3u: { return sqrt(x); }
        case 4u: { return max(x, 0.0); }
        case 5u: { return select(a * x, x, x > 0.0); }
        case 6u: { return sigmoid(x); }
        case 7u: { return tanh(x); }
        case 8u: { return clamp(x, a, b); }
        case 9u: { return powf(x, a); }
        case 10u: { return a * x + b; }
        default: { return abs(x); }
    }
}

@compute @workgroup_size(64)
fn unary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= up.n { return; }
    u_y[i] = unary_fn(up.op, u_x[i], up.alpha, up.beta);
}

// unary4: the same over vec4s, for n % 4 == 0 (up.n then counts vec4s): one load and one store
// per 4 elements, since a storage access is a per-lane loop on llvmpipe.
@group(0) @binding(1) var<storage, read> u4_x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> u4_y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn unary4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= up.n { return; }
    let x = u4_x[i];
    var y: vec4<f32>;
    for (var q = 0u; q < 4u; q++) {
        y[q] = unary_fn(up.op, x[q], up.alpha, up.beta);
    }
    u4_y[i] = y;
}

@group(0) @binding(0) var<uniform> ubp: UnaryParams;
@group(0) @binding(1) var<storage, read> ub_x: array<f32>;
@group(0) @binding(2) var<storage, read> ub_y: array<f32>;
@group(0) @binding(3) var<storage, read> ub_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> ub_dx: array<f32>;

// Derivatives, written with the forward output y where that is cheaper and more accurate:
// exp' = y, log' = 1/x, sqrt' = 1/(2y), sigmoid' = y(1-y), tanh' = 1-y^2, pow' = a x^(a-1).
// relu, leaky_relu, clamp and abs use the subgradient 0 (or alpha) at the kink.
fn unary_grad(op: u32, x: f32, y: f32, a: f32, b: f32) -> f32 {
    switch op {
        case 0u: { return -1.0; }
        case 1u: { return y; }
        case 2u: { return 1.0 / x; }
        case 3u: { return 0.5 / y; }
        case 4u: { return select(0.0, 1.0, x > 0.0); }
        case 5u: { return select(a, 1.0, x > 0.0); }
        case 6u: { return y * (1.0 - y); }
        case 7u: { return 1.0 - y * y; }
        case 8u: { return select(0.0, 1.0, x >= a && x <= b); }
        case 9u: { return a * powf(x, a - 1.0); }
        case 10u: { return a; }
        default: { return sign(x); }
    }
}

@compute @workgroup_size(64)
fn unary_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= ubp.n { return; }
    ub_dx[i] = ub_dy[i] * unary_grad(ubp.op, ub_x[i], ub_y[i], ubp.alpha, ubp.beta);
}

// unary_backward4: the same over vec4s, for n % 4 == 0 (ubp.n then counts vec4s).
@group(0) @binding(1) var<storage, read> ub4_x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> ub4_y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> ub4_dy: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> ub4_dx: array<vec4<f32>>;

@compute @workgroup_size(64)
fn unary_backward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= ubp.n { return; }
    let x = ub4_x[i];
    let y = ub4_y[i];
    var d: vec4<f32>;
    for (var q = 0u; q < 4u; q++) {
        d[q] = unary_grad(ubp.op, x[q], y[q], ubp.alpha, ubp.beta);
    }
    ub4_dx[i] = ub4_dy[i] * d;
}

// Broadcasting: `shape` is the output shape (rank <= 8, row-major); `a_strides`/`b_strides` are
// each operand's element strides aligned to the output dims, 0 along broadcast dims.
struct BinaryParams {
    n: u32, op: u32, rank: u32, wrt: u32,
    shape: array<vec4<u32>, 2>,
    a_strides: array<vec4<u32>, 2>,
    b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> bp: BinaryParams;
@group(0) @binding(1) var<storage, read> b_a: array<f32>;
@group(0) @binding(2) var<storage, read> b_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_out: array<f32>;

fn binary_fn(op: u32, a: f32, b: f32) -> f32 {
    switch op {
        case 0u: { return a + b; }
        case 1u: { return a - b; }
        case 2u: { return a * b; }
        case 3u: { return a / b; }
        case 4u: { return max(a, b); }
        default: { return min(a, b); }
    }
}

// Maps output index i to the (a, b) element offsets.
fn operand_offsets(i: u32) -> vec2<u32> {
    var rem = i;
    var off = vec2<u32>(0u, 0u);
    // Inner dimensions by division; the outermost takes what is left (rem < shape[0] there), so
    // a coalesced same-shape op (rank 1) divides nothing.
    for (var d = i32(bp.rank) - 1; d >= 1; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let c = rem % bp.shape[q][r];
        rem = rem / bp.shape[q][r];
        off += c * vec2<u32>(bp.a_strides[q][r], bp.b_strides[q][r]);
    }
    if bp.rank > 0u {
        off += rem * vec2<u32>(bp.a_strides[0][0], bp.b_strides[0][0]);
    }
    return off;
}

@compute @workgroup_size(64)
fn binary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= bp.n { return; }
    let off = operand_offsets(i);
    b_out[i] = binary_fn(bp.op, b_a[off.x], b_b[off.y]);
}

@group(0) @binding(3) var<storage, read> bb_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> bb_g: array<f32>;

// d(a op b)/da and /db; ties of maximum/minimum send the gradient to a.
fn binary_grad(op: u32, wrt: u32, a: f32, b: f32) -> f32 {
    if wrt == 0u {
        switch op {
            case 0u, 1u: { return 1.0; }
            case 2u: { return b; }
            case 3u: { return 1.0 / b; }
            case 4u: { return select(0.0, 1.0, a >= b); }
            default: { return select(0.0, 1.0, a <= b); }
        }
    }
    switch op {
        case 0u: { return 1.0; }
        case 1u: { return -1.0; }
        case 2u: { return a; }
        case 3u: { return -a / (b * b); }
        case 4u: { return select(0.0, 1.0, b > a); }
        default: { return select(0.0, 1.0, b < a); }
    }
}

// Writes the gradient at full output shape; the launcher's caller sums it down to the operand's
// shape (reduce.wgsl `sum_to_shape`) when the operand was broadcast.
@compute @workgroup_size(64)
fn binary_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= bp.n { return; }
    let off = operand_offsets(i);
    bb_g[i] = bb_dy[i] * binary_grad(bp.op, bp.wrt, b_a[off.x], b_b[off.y]);
}

struct AccumulateParams { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> ap: AccumulateParams;
@group(0) @binding(1) var<storage, read> acc_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> acc_y: array<f32>;

@compute @workgroup_size(64)
fn accumulate(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= ap.n { return; }
    acc_y[i] = acc_y[i] + acc_x[i];
}
