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
// Op codes: the activations `ACT_*` (computed by activation.wgsl's `activate`) and `UNARY_*`
// for the other unary functions; `BINARY_*` for the binary ones. They are constants of the
// prelude generated from crates/device/src/codes.rs, so Rust and WGSL cannot disagree; a code a
// switch does not list returns NaN (`poison()`). The unary entries take their op code as a
// pipeline constant (UNARY_OP; crates/device/src/overrides.rs), not from the params: llvmpipe
// runs every case of a switch under a lane mask, so a runtime code computed every function
// (exp, log, pow, sigmoid, tanh, ...) for every element (measured 2026-12-07 on 4M values:
// relu 17.6-20.5 -> 5.3-8.0 ms, its gradient 16.9-18.5 -> 8.0-10.0 ms). The binary entries
// keep theirs in the params: their few cases are cheap next to the broadcast index arithmetic,
// and a constant measured no gain (a broadcast bias add 105-123 ms either way).

override UNARY_OP: u32 = 0u;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

struct UnaryParams { n: u32, op: u32, alpha: f32, beta: f32 }

@group(0) @binding(0) var<uniform> up: UnaryParams;
@group(0) @binding(1) var<storage, read> u_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> u_y: array<f32>;

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
        case ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH: { return activate(x, op); }
        case UNARY_NEG: { return -x; }
        case UNARY_EXP: { return exp(x); }
        case UNARY_LOG: { return log(x); }
        case UNARY_SQRT: { return sqrt(x); }
        case UNARY_LEAKY_RELU: { return select(a * x, x, x > 0.0); }
        case UNARY_CLAMP: { return clamp(x, a, b); }
        case UNARY_POW: { return powf(x, a); }
        case UNARY_AFFINE: { return a * x + b; }
        case UNARY_ABS: { return abs(x); }
        default: { return poison(); }
    }
}

@compute @workgroup_size(64)
fn unary(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
         @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= up.n { return; }
    u_y[i] = unary_fn(UNARY_OP, u_x[i], up.alpha, up.beta);
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
        y[q] = unary_fn(UNARY_OP, x[q], up.alpha, up.beta);
    }
    u4_y[i] = y;
}

@group(0) @binding(0) var<uniform> ubp: UnaryParams;
@group(0) @binding(1) var<storage, read> ub_x: array<f32>;
@group(0) @binding(2) var<storage, read> ub_y: array<f32>;
@group(0) @binding(3) var<storage, read> ub_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> ub_dx: array<f32>;

// Derivatives, written with the forward output y where that is cheaper and more accurate:
// exp' = y, log' = 1/x, sqrt' = 1/(2y), pow' = a x^(a-1); the activations' are activation.wgsl's
// `activate_grad`. leaky_relu, clamp and abs use the subgradient alpha (or 0) at the kink.
fn unary_grad(op: u32, x: f32, y: f32, a: f32, b: f32) -> f32 {
    switch op {
        case ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH: { return activate_grad(x, y, op); }
        case UNARY_NEG: { return -1.0; }
        case UNARY_EXP: { return y; }
        case UNARY_LOG: { return 1.0 / x; }
        case UNARY_SQRT: { return 0.5 / y; }
        case UNARY_LEAKY_RELU: { return select(a, 1.0, x > 0.0); }
        case UNARY_CLAMP: { return select(0.0, 1.0, x >= a && x <= b); }
        case UNARY_POW: { return a * powf(x, a - 1.0); }
        case UNARY_AFFINE: { return a; }
        case UNARY_ABS: { return sign(x); }
        default: { return poison(); }
    }
}

@compute @workgroup_size(64)
fn unary_backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= ubp.n { return; }
    ub_dx[i] = ub_dy[i] * unary_grad(UNARY_OP, ub_x[i], ub_y[i], ubp.alpha, ubp.beta);
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
        d[q] = unary_grad(UNARY_OP, x[q], y[q], ubp.alpha, ubp.beta);
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
        case BINARY_ADD: { return a + b; }
        case BINARY_SUB: { return a - b; }
        case BINARY_MUL: { return a * b; }
        case BINARY_DIV: { return a / b; }
        case BINARY_MAXIMUM: { return max(a, b); }
        case BINARY_MINIMUM: { return min(a, b); }
        default: { return poison(); }
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
            case BINARY_ADD, BINARY_SUB: { return 1.0; }
            case BINARY_MUL: { return b; }
            case BINARY_DIV: { return 1.0 / b; }
            case BINARY_MAXIMUM: { return select(0.0, 1.0, a >= b); }
            case BINARY_MINIMUM: { return select(0.0, 1.0, a <= b); }
            default: { return poison(); }
        }
    }
    switch op {
        case BINARY_ADD: { return 1.0; }
        case BINARY_SUB: { return -1.0; }
        case BINARY_MUL: { return a; }
        case BINARY_DIV: { return -a / (b * b); }
        case BINARY_MAXIMUM: { return select(0.0, 1.0, b > a); }
        case BINARY_MINIMUM: { return select(0.0, 1.0, b < a); }
        default: { return poison(); }
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
