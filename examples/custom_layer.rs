//! A user-defined layer with a trainable and a non-trainable weight, and freezing a layer.
//!
//! `ScaledDense` computes y = (x W + b) * scale, where W and b train and `scale` is a
//! non-trainable weight the layer sets itself (like BatchNormalization's moving statistics).
//! The example trains a model containing it on a synthetic regression, then freezes it and shows
//! that its weights stop changing while the rest of the model still trains.
//!
//! Run: `cargo run --release --example custom_layer`
//! Expected: the loss falls, the frozen layer's kernel is unchanged after the second fit.

use kiln::nn::init::Initializer;
use kiln::nn::prelude::*;
use kiln::nn::{BuildCtx, CallCtx, Weight};

struct ScaledDense {
    units: usize,
    kernel: Option<Weight>,
    bias: Option<Weight>,
    scale: Option<Weight>,
}

impl ScaledDense {
    fn new(units: usize) -> Self {
        Self {
            units,
            kernel: None,
            bias: None,
            scale: None,
        }
    }
}

impl Layer for ScaledDense {
    fn class_name(&self) -> &'static str {
        "ScaledDense"
    }

    fn build(
        &mut self,
        input_shape: &[usize],
        ctx: &mut BuildCtx<'_>,
    ) -> kiln::nn::Result<Vec<usize>> {
        let fan_in = *input_shape.last().expect("a feature axis");
        self.kernel = Some(ctx.add_weight(
            "kernel",
            &[fan_in, self.units],
            Initializer::GlorotUniform,
            true,
        )?);
        self.bias = Some(ctx.add_weight("bias", &[self.units], Initializer::Zeros, true)?);
        self.scale = Some(ctx.add_weight("scale", &[1], Initializer::Constant(0.5), false)?);
        Ok(vec![self.units])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> kiln::nn::Result<Tensor> {
        let (w, b, s) = (
            self.kernel.as_ref().unwrap(),
            self.bias.as_ref().unwrap(),
            self.scale.as_ref().unwrap(),
        );
        Ok(x.matmul(&w.value)?.add(&b.value)?.mul(&s.value)?)
    }

    fn weights(&self) -> Vec<Weight> {
        [&self.kernel, &self.bias, &self.scale]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    fn weights_mut(&mut self) -> Vec<&mut Weight> {
        [&mut self.kernel, &mut self.bias, &mut self.scale]
            .into_iter()
            .flatten()
            .collect()
    }
}

fn main() -> anyhow::Result<()> {
    let dev = Device::new()?;
    println!("adapter: {}", dev.info());
    // y = sum of the inputs' squares, on 512 random 3-D points.
    let mut rng = kiln::device::rng::Rng::new(3);
    let x: Vec<f32> = (0..512 * 3)
        .map(|_| (rng.uniform() * 2.0 - 1.0) as f32)
        .collect();
    let y: Vec<f32> = x.chunks(3).map(|p| p.iter().map(|v| v * v).sum()).collect();
    let (x, y) = (Array::f32(x, &[512, 3])?, Array::f32(y, &[512, 1])?);

    let mut model = Sequential::with_seed(&dev, 9);
    model.add(ScaledDense::new(32))?;
    model.add(ReLU::new())?;
    model.add(Dense::new(1))?;
    model.build(&[3])?;
    print!("{}", model.summary());
    model.compile(Optimizer::adam(0.01), Loss::MeanSquaredError, &[])?;
    let h = model.fit(&x, &y, FitConfig::epochs(30).batch_size(32).verbose(0))?;
    let loss = h.get("loss");
    println!("loss: epoch 1 {:.4} -> epoch 30 {:.4}", loss[0], loss[29]);
    anyhow::ensure!(loss[29] < loss[0] * 0.2, "the loss should fall by 5x");

    model.set_trainable("scaled_dense", false)?;
    let (total, trainable, frozen) = model.count_params();
    println!(
        "after freezing scaled_dense: {total} params, {trainable} trainable, {frozen} non-trainable"
    );
    let before = model.weights()[0].1.value.to_vec()?;
    let out_before = model.weights()[3].1.value.to_vec()?;
    model.fit(&x, &y, FitConfig::epochs(5).batch_size(32).verbose(0))?;
    anyhow::ensure!(
        model.weights()[0].1.value.to_vec()? == before,
        "a frozen layer must not change"
    );
    anyhow::ensure!(
        model.weights()[3].1.value.to_vec()? != out_before,
        "the unfrozen layer keeps training"
    );
    println!("frozen kernel unchanged; the output layer kept training");
    Ok(())
}
