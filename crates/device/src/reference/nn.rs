//! Reference matmul, softmax, cross-entropy, convolution and pooling (f64, naive loops).

use crate::ops::conv2d::Conv2dDims;
use crate::ops::matmul::MatmulDims;
use crate::ops::pool2d::Pool2dDims;

/// Batched C = op(A) x op(B) with the kernel's storage conventions.
pub fn matmul(a: &[f64], b: &[f64], d: &MatmulDims) -> Vec<f64> {
    let mut c = vec![0.0; d.batch * d.m * d.n];
    for bt in 0..d.batch {
        let (ao, bo) = (bt * d.a_batch_stride, bt * d.b_batch_stride);
        for i in 0..d.m {
            for j in 0..d.n {
                let mut acc = 0.0;
                for k in 0..d.k {
                    let av = if d.trans_a {
                        a[ao + k * d.m + i]
                    } else {
                        a[ao + i * d.k + k]
                    };
                    let bv = if d.trans_b {
                        b[bo + j * d.k + k]
                    } else {
                        b[bo + k * d.n + j]
                    };
                    acc += av * bv;
                }
                c[(bt * d.m + i) * d.n + j] = acc;
            }
        }
    }
    c
}

/// Row-wise softmax (or log_softmax) over [rows, cols].
pub fn softmax(x: &[f64], rows: usize, cols: usize, log: bool) -> Vec<f64> {
    let mut y = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = row.iter().map(|v| (v - m).exp()).sum::<f64>().ln() + m;
        y.extend(
            row.iter()
                .map(|v| if log { v - lse } else { (v - lse).exp() }),
        );
    }
    y
}

/// Per-row -log softmax(logits)[label].
pub fn softmax_xent_sparse(logits: &[f64], labels: &[u32], rows: usize, cols: usize) -> Vec<f64> {
    let ls = softmax(logits, rows, cols, true);
    (0..rows)
        .map(|r| -ls[r * cols + labels[r] as usize])
        .collect()
}

/// Per-row -sum_j t_j log softmax(logits)_j.
pub fn softmax_xent_dense(logits: &[f64], target: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let ls = softmax(logits, rows, cols, true);
    (0..rows)
        .map(|r| {
            -(0..cols)
                .map(|j| target[r * cols + j] * ls[r * cols + j])
                .sum::<f64>()
        })
        .collect()
}

/// NHWC convolution with [kh, kw, in, out] kernels and optional bias.
pub fn conv2d(x: &[f64], w: &[f64], bias: Option<&[f64]>, d: &Conv2dDims) -> Vec<f64> {
    let (oh, ow, pt, pl) = d.output().expect("reference::conv2d: kernel does not fit");
    let mut y = vec![0.0; d.n * oh * ow * d.f];
    for n in 0..d.n {
        for oy in 0..oh {
            for ox in 0..ow {
                for f in 0..d.f {
                    let mut acc = bias.map_or(0.0, |b| b[f]);
                    for ky in 0..d.kh {
                        for kx in 0..d.kw {
                            let iy = (oy * d.sh + ky) as isize - pt as isize;
                            let ix = (ox * d.sw + kx) as isize - pl as isize;
                            if iy < 0 || ix < 0 || iy >= d.h as isize || ix >= d.w as isize {
                                continue;
                            }
                            for c in 0..d.c {
                                acc += x[((n * d.h + iy as usize) * d.w + ix as usize) * d.c + c]
                                    * w[((ky * d.kw + kx) * d.c + c) * d.f + f];
                            }
                        }
                    }
                    y[((n * oh + oy) * ow + ox) * d.f + f] = acc;
                }
            }
        }
    }
    y
}

/// Pooling windows' real cells: calls `visit(out_index, input_indices)` for every output.
fn pool_windows(d: &Pool2dDims, mut visit: impl FnMut(usize, &[usize])) {
    let (oh, ow, pt, pl) = d.output().expect("reference pool: window does not fit");
    let mut cells = Vec::new();
    for n in 0..d.n {
        for oy in 0..oh {
            for ox in 0..ow {
                for c in 0..d.c {
                    cells.clear();
                    for ky in 0..d.ph {
                        for kx in 0..d.pw {
                            let iy = (oy * d.sh + ky) as isize - pt as isize;
                            let ix = (ox * d.sw + kx) as isize - pl as isize;
                            if iy >= 0 && ix >= 0 && iy < d.h as isize && ix < d.w as isize {
                                cells.push(((n * d.h + iy as usize) * d.w + ix as usize) * d.c + c);
                            }
                        }
                    }
                    visit(((n * oh + oy) * ow + ox) * d.c + c, &cells);
                }
            }
        }
    }
}

/// Max pooling ignoring padded cells; returns (y, argmax as flat input indices). Ties go to
/// the first cell in row-major window order, as in the kernel.
pub fn max_pool2d(x: &[f64], d: &Pool2dDims) -> (Vec<f64>, Vec<u32>) {
    let (mut y, mut arg) = (Vec::new(), Vec::new());
    pool_windows(d, |_, cells| {
        let mut best = cells[0];
        for &i in &cells[1..] {
            if x[i] > x[best] {
                best = i;
            }
        }
        y.push(x[best]);
        arg.push(best as u32);
    });
    (y, arg)
}

/// Average pooling over real (unpadded) cells.
pub fn avg_pool2d(x: &[f64], d: &Pool2dDims) -> Vec<f64> {
    let mut y = Vec::new();
    pool_windows(d, |_, cells| {
        y.push(cells.iter().map(|&i| x[i]).sum::<f64>() / cells.len() as f64)
    });
    y
}

/// Gradient of `conv2d` with respect to the kernel: dw[ky, kx, c, f] = sum x * dy.
pub fn conv2d_backward_weight(x: &[f64], dy: &[f64], d: &Conv2dDims) -> Vec<f64> {
    let (oh, ow, pt, pl) = d
        .output()
        .expect("reference::conv2d_backward_weight: kernel does not fit");
    let mut dw = vec![0.0; d.kh * d.kw * d.c * d.f];
    for n in 0..d.n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..d.kh {
                    for kx in 0..d.kw {
                        let iy = (oy * d.sh + ky) as isize - pt as isize;
                        let ix = (ox * d.sw + kx) as isize - pl as isize;
                        if iy < 0 || ix < 0 || iy >= d.h as isize || ix >= d.w as isize {
                            continue;
                        }
                        for c in 0..d.c {
                            let xv = x[((n * d.h + iy as usize) * d.w + ix as usize) * d.c + c];
                            for f in 0..d.f {
                                dw[((ky * d.kw + kx) * d.c + c) * d.f + f] +=
                                    xv * dy[((n * oh + oy) * ow + ox) * d.f + f];
                            }
                        }
                    }
                }
            }
        }
    }
    dw
}

/// Gradient of `conv2d` with respect to its input: dx[n, iy, ix, c] = sum w * dy over the
/// outputs whose window covers (iy, ix).
pub fn conv2d_backward_input(dy: &[f64], w: &[f64], d: &Conv2dDims) -> Vec<f64> {
    let (oh, ow, pt, pl) = d
        .output()
        .expect("reference::conv2d_backward_input: kernel does not fit");
    let mut dx = vec![0.0; d.n * d.h * d.w * d.c];
    for n in 0..d.n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..d.kh {
                    for kx in 0..d.kw {
                        let iy = (oy * d.sh + ky) as isize - pt as isize;
                        let ix = (ox * d.sw + kx) as isize - pl as isize;
                        if iy < 0 || ix < 0 || iy >= d.h as isize || ix >= d.w as isize {
                            continue;
                        }
                        for c in 0..d.c {
                            let at = ((n * d.h + iy as usize) * d.w + ix as usize) * d.c + c;
                            for f in 0..d.f {
                                dx[at] += w[((ky * d.kw + kx) * d.c + c) * d.f + f]
                                    * dy[((n * oh + oy) * ow + ox) * d.f + f];
                            }
                        }
                    }
                }
            }
        }
    }
    dx
}

/// Batch normalization of an [rows, c] view with the batch's statistics: (y, mean, biased var).
pub fn batch_norm(
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    rows: usize,
    c: usize,
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mean: Vec<f64> = (0..c)
        .map(|j| (0..rows).map(|r| x[r * c + j]).sum::<f64>() / rows as f64)
        .collect();
    let var: Vec<f64> = (0..c)
        .map(|j| {
            (0..rows)
                .map(|r| (x[r * c + j] - mean[j]).powi(2))
                .sum::<f64>()
                / rows as f64
        })
        .collect();
    let y = (0..rows * c)
        .map(|i| {
            let j = i % c;
            (x[i] - mean[j]) / (var[j] + eps).sqrt() * gamma[j] + beta[j]
        })
        .collect();
    (y, mean, var)
}
