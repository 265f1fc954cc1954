//! Gradients of unary and broadcasting binary ops.

use kiln_device::Activation;
use kiln_device::ops::elementwise::{BinaryOp, UnaryOp};
use kiln_device::reference;

use crate::{away_from_zero, check, input, setup};

#[test]
fn unary_gradients_match_finite_differences() {
    let Some((dev, mut rng)) = setup(100) else {
        return;
    };
    let ops = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Act(Activation::Relu),
        UnaryOp::LeakyRelu(0.2),
        UnaryOp::Act(Activation::Sigmoid),
        UnaryOp::Act(Activation::Tanh),
        UnaryOp::Clamp(-0.5, 0.5),
        UnaryOp::Pow(3.0),
        UnaryOp::Affine(2.5, -1.0),
        UnaryOp::Abs,
    ];
    for op in ops {
        // 1, 7, 65: the scalar kernel; 12: the vec4 kernel (n % 4 == 0).
        for n in [1, 7, 65, 12] {
            let x = match op {
                UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Pow(_) => {
                    crate::input(&mut rng, &[n], 0.2, 2.0)
                }
                // keep clamp inputs off its bounds at +-0.5
                UnaryOp::Clamp(..) => away_from_zero(&mut rng, &[n], 0.05, 0.45),
                _ => away_from_zero(&mut rng, &[n], 0.05, 2.0),
            };
            check(
                &dev,
                &mut rng,
                &format!("{op:?} n={n}"),
                &[x],
                |t| t[0].unary(op),
                |v| reference::unary(op, &v[0]),
            );
        }
    }
}

#[test]
fn integer_power_gradients_on_negative_inputs() {
    let Some((dev, mut rng)) = setup(103) else {
        return;
    };
    for p in [2.0, 3.0] {
        let x = crate::input(&mut rng, &[7], -2.0, -0.2);
        check(
            &dev,
            &mut rng,
            &format!("pow {p} negative"),
            &[x],
            |t| t[0].powf(p),
            |v| reference::unary(UnaryOp::Pow(p), &v[0]),
        );
    }
}

#[test]
fn binary_gradients_sum_over_broadcast_dims() {
    let Some((dev, mut rng)) = setup(101) else {
        return;
    };
    let shapes: [(&[usize], &[usize]); 5] = [
        (&[7], &[7]),
        (&[5, 7], &[7]),
        (&[4, 1, 3], &[5, 1]),
        (&[1], &[3, 2]),
        (&[2, 3], &[2, 1]),
    ];
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ];
    for (sa, sb) in shapes {
        for op in ops {
            let a = away_from_zero(&mut rng, sa, 0.5, 2.0);
            let b = input(&mut rng, sb, 0.6, 1.9);
            check(
                &dev,
                &mut rng,
                &format!("{op:?} {sa:?} {sb:?}"),
                &[a, b],
                |t| t[0].binary(&t[1], op),
                |v| reference::binary(op, &v[0], sa, &v[1], sb).0,
            );
        }
    }
}

#[test]
fn dropout_gradient_is_the_mask() {
    let Some((dev, mut rng)) = setup(102) else {
        return;
    };
    let x = input(&mut rng, &[65], -1.0, 1.0);
    check(
        &dev,
        &mut rng,
        "dropout",
        &[x],
        |t| t[0].dropout(0.4, 77),
        |v| {
            let m = reference::dropout_mask(65, 0.4, 77);
            v[0].iter().zip(m).map(|(a, b)| a * b).collect()
        },
    );
}
