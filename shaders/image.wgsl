// image.wgsl — geometric image transforms of NHWC batches: each output pixel samples the input
// at an affine function of its position, one transform per sample, as TensorFlow's
// ImageProjectiveTransformV3 (which Keras's random image layers use) does for affine maps.
//
// Entry point (launcher: crates/device/src/ops/image.rs):
//   warp_affine   y[n, oy, ox, c] = sample(x[n], X, Y, c) with
//                   X = a0 * ox + a1 * oy + a2,  Y = b0 * ox + b1 * oy + b2  (sample n's row)
//                 in pixel-index coordinates (pixel (i, j) sits at (X, Y) = (j, i)).
//                 Bindings: 0 params, 1 x [N, H, W, C], 2 transforms [N, 8] (a0 a1 a2 b0 b1 b2 _ _),
//                 3 y [N, OH, OW, C].
//     Geometry: one output element per invocation, 64 per workgroup, grid folded to 2-D.
//
// Outside the image the coordinate is first mapped by the fill mode (TensorFlow's
// map_coordinate): FILL_REFLECT mirrors about the edge (d c b a | a b c d | d c b a),
// FILL_WRAP tiles, FILL_NEAREST clamps, FILL_CONSTANT leaves it; then the interpolation reads
// its taps, and a tap still outside reads fill_value. INTERP_BILINEAR weighs the four taps
// around (X, Y); INTERP_NEAREST reads the tap at round(X), round(Y), halves away from zero.
// A resize with half-pixel centres is X = (ox + 0.5) * W / OW - 0.5 with FILL_NEAREST; a flip
// or an integer shift lands on pixel centres and copies values exactly.

struct WarpParams {
    total: u32, h: u32, w: u32, c: u32,
    oh: u32, ow: u32, fill: u32, interp: u32,
    fill_value: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: WarpParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> transforms: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 64u + lid;
}

// The coordinate along an axis of `len` pixels after the fill mode.
fn map_coord(v: f32, len: u32) -> f32 {
    let n = f32(len);
    let last = n - 1.0;
    var u = v;
    switch p.fill {
        case FILL_CONSTANT: {
            return v;
        }
        case FILL_REFLECT: {
            if len <= 1u {
                return 0.0;
            }
            let sz2 = 2.0 * n;
            if u < 0.0 {
                if u < -sz2 {
                    u = sz2 * trunc(-u / sz2) + u;
                }
                if u < -n {
                    u = u + sz2;
                } else {
                    u = -u - 1.0;
                }
            } else if u > last {
                u = u - sz2 * trunc(u / sz2);
                if u >= n {
                    u = sz2 - u - 1.0;
                }
            }
            return clamp(u, 0.0, last);
        }
        case FILL_WRAP: {
            if len <= 1u {
                return 0.0;
            }
            let sz = n - 1.0;
            if u < 0.0 {
                u = u + n * (trunc(-u / sz) + 1.0);
            } else if u > last {
                u = u - n * trunc(u / sz);
            }
            return clamp(u, 0.0, last);
        }
        case FILL_NEAREST: {
            return clamp(u, 0.0, last);
        }
        default: { return poison(); }
    }
}

// x[n, row, col, c], or fill_value outside.
fn tap(base: u32, row: f32, col: f32, c: u32) -> f32 {
    if row < 0.0 || col < 0.0 || row > f32(p.h) - 1.0 || col > f32(p.w) - 1.0 {
        return p.fill_value;
    }
    return x[base + (u32(row) * p.w + u32(col)) * p.c + c];
}

fn interpolate(base: u32, yy: f32, xx: f32, c: u32) -> f32 {
    switch p.interp {
        case INTERP_BILINEAR: {
            let y0 = floor(yy);
            let x0 = floor(xx);
            let fy = yy - y0;
            let fx = xx - x0;
            let top = (1.0 - fx) * tap(base, y0, x0, c) + fx * tap(base, y0, x0 + 1.0, c);
            let bottom = (1.0 - fx) * tap(base, y0 + 1.0, x0, c) + fx * tap(base, y0 + 1.0, x0 + 1.0, c);
            return (1.0 - fy) * top + fy * bottom;
        }
        case INTERP_NEAREST: {
            // round() in WGSL rounds halves to even; TensorFlow's std::round away from zero.
            let ry = sign(yy) * floor(abs(yy) + 0.5);
            let rx = sign(xx) * floor(abs(xx) + 0.5);
            return tap(base, ry, rx, c);
        }
        default: { return poison(); }
    }
}

@compute @workgroup_size(64)
fn warp_affine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid);
    if i >= p.total { return; }
    let c = i % p.c;
    let pixel = i / p.c;
    let ox = f32(pixel % p.ow);
    let oy = f32((pixel / p.ow) % p.oh);
    let n = pixel / (p.ow * p.oh);
    let k = n * 8u;
    let xx = map_coord(transforms[k] * ox + transforms[k + 1u] * oy + transforms[k + 2u], p.w);
    let yy = map_coord(transforms[k + 3u] * ox + transforms[k + 4u] * oy + transforms[k + 5u], p.h);
    y[i] = interpolate(n * p.h * p.w * p.c, yy, xx, c);
}
