//! Reference optimizer steps (Keras 3 formulas), applied in place to f64 vectors.

use crate::ops::optim::{AdamStep, RmspropStep, SgdStep};

/// One SGD step.
pub fn sgd_step(s: &SgdStep, g: &[f64], p: &mut [f64], v: &mut [f64]) {
    let (lr, mom) = (s.lr as f64, s.momentum as f64);
    for i in 0..p.len() {
        p[i] -= lr * s.weight_decay as f64 * p[i];
        if mom == 0.0 {
            p[i] -= lr * g[i];
            continue;
        }
        v[i] = mom * v[i] - lr * g[i];
        p[i] += if s.nesterov {
            mom * v[i] - lr * g[i]
        } else {
            v[i]
        };
    }
}

/// One Adam/AdamW step.
pub fn adam_step(s: &AdamStep, g: &[f64], p: &mut [f64], m: &mut [f64], v: &mut [f64]) {
    let (b1, b2, t) = (s.beta1 as f64, s.beta2 as f64, s.t as f64);
    let lr_t = s.lr as f64 * (1.0 - b2.powf(t)).sqrt() / (1.0 - b1.powf(t));
    for i in 0..p.len() {
        p[i] -= s.lr as f64 * s.weight_decay as f64 * p[i];
        m[i] += (g[i] - m[i]) * (1.0 - b1);
        v[i] += (g[i] * g[i] - v[i]) * (1.0 - b2);
        p[i] -= lr_t * m[i] / (v[i].sqrt() + s.eps as f64);
    }
}

/// One RMSprop step.
pub fn rmsprop_step(
    s: &RmspropStep,
    g: &[f64],
    p: &mut [f64],
    vel: &mut [f64],
    mom: &mut [f64],
    avg: &mut [f64],
) {
    let (lr, rho) = (s.lr as f64, s.rho as f64);
    for i in 0..p.len() {
        p[i] -= lr * s.weight_decay as f64 * p[i];
        vel[i] = rho * vel[i] + (1.0 - rho) * g[i] * g[i];
        let mut denom = vel[i] + s.eps as f64;
        if s.centered {
            avg[i] = rho * avg[i] + (1.0 - rho) * g[i];
            denom = vel[i] - avg[i] * avg[i] + s.eps as f64;
        }
        let inc = lr * g[i] / denom.sqrt();
        if s.momentum > 0.0 {
            mom[i] = s.momentum as f64 * mom[i] + inc;
            p[i] -= mom[i];
        } else {
            p[i] -= inc;
        }
    }
}
