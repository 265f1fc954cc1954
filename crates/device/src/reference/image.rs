//! f64 reference of `warp_affine`, following TensorFlow's ImageProjectiveTransformV3 kernel
//! (`map_coordinate`, `read_with_fill_value`, the bilinear and nearest interpolations) for
//! affine transforms.

use crate::ops::image::{FillMode, Interpolation, Sampling, WarpDims};

fn map_coordinate(v: f64, len: usize, fill: FillMode) -> f64 {
    let n = len as f64;
    let clamp = |u: f64| u.clamp(0.0, n - 1.0);
    match fill {
        FillMode::Constant => v,
        FillMode::Nearest => clamp(v),
        _ if len <= 1 && (v < 0.0 || v > n - 1.0) => 0.0,
        FillMode::Reflect => {
            let sz2 = 2.0 * n;
            let mut u = v;
            if u < 0.0 {
                if u < -sz2 {
                    u += sz2 * (-u / sz2).trunc();
                }
                u = if u < -n { u + sz2 } else { -u - 1.0 };
            } else if u > n - 1.0 {
                u -= sz2 * (u / sz2).trunc();
                if u >= n {
                    u = sz2 - u - 1.0;
                }
            }
            clamp(u)
        }
        FillMode::Wrap => {
            let sz = n - 1.0;
            let mut u = v;
            if u < 0.0 {
                u += n * ((-u / sz).trunc() + 1.0);
            } else if u > n - 1.0 {
                u -= n * (u / sz).trunc();
            }
            clamp(u)
        }
    }
}

/// `warp_affine` on the host: x [n, h, w, c], transforms [n, 8], out [n, oh, ow, c].
pub fn warp_affine(x: &[f64], transforms: &[f64], d: &WarpDims, s: Sampling) -> Vec<f64> {
    let mut out = Vec::with_capacity(d.n * d.oh * d.ow * d.c);
    for n in 0..d.n {
        let t = &transforms[n * 8..n * 8 + 6];
        let read = |row: f64, col: f64, c: usize| -> f64 {
            if row < 0.0 || col < 0.0 || row > (d.h - 1) as f64 || col > (d.w - 1) as f64 {
                return s.fill_value as f64;
            }
            x[((n * d.h + row as usize) * d.w + col as usize) * d.c + c]
        };
        for oy in 0..d.oh {
            for ox in 0..d.ow {
                let (fx, fy) = (ox as f64, oy as f64);
                let xx = map_coordinate(t[0] * fx + t[1] * fy + t[2], d.w, s.fill);
                let yy = map_coordinate(t[3] * fx + t[4] * fy + t[5], d.h, s.fill);
                for c in 0..d.c {
                    out.push(match s.interpolation {
                        Interpolation::Nearest => read(yy.round(), xx.round(), c),
                        Interpolation::Bilinear => {
                            let (y0, x0) = (yy.floor(), xx.floor());
                            let (ay, ax) = (yy - y0, xx - x0);
                            let top = (1.0 - ax) * read(y0, x0, c) + ax * read(y0, x0 + 1.0, c);
                            let bottom = (1.0 - ax) * read(y0 + 1.0, x0, c)
                                + ax * read(y0 + 1.0, x0 + 1.0, c);
                            (1.0 - ay) * top + ay * bottom
                        }
                    });
                }
            }
        }
    }
    out
}
