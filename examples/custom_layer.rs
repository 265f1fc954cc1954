//! A user-defined layer with a trainable and a non-trainable weight, its own config, freezing
//! a layer, and saving and loading a model that contains it.
//!
//! `ScaledDense` computes y = (x W + b) * scale, where W and b train and `scale` is a
//! non-trainable weight the layer sets itself (like BatchNormalization's moving statistics).
//! The example trains a model containing it on a synthetic regression, then freezes it and shows
//! that its weights stop changing while the rest of the model still trains. Its settings are a
//! typed serde struct (`get_config`, as Keras's), which `load_model_with` hands back to rebuild
//! it.
//!
//! Run: `cargo run --release --example custom_layer`
//! Expected: the loss falls, the frozen layer's kernel is unchanged after the second fit, and
//! the reloaded model predicts exactly what the saved one did.

use kiln::nn::init::Initializer;
use kiln::nn::prelude::*;
use kiln::nn::{BuildCtx, CallCtx, Weight, load_model_with};
use serde::{Deserialize, Serialize};

/// The layer's settings, written into saved models as JSON (`{"units": 32}`).
#[derive(Serialize, Deserialize)]
struct ScaledDenseConfig {
    units: usize,
}

struct ScaledDense {
    config: ScaledDenseConfig,
    kernel: Option<Weight>,
    bias: Option<Weight>,
    scale: Option<Weight>,
}

impl ScaledDense {
    fn new(units: usize) -> Self {
        Self::from(ScaledDenseConfig { units })
    }
}

impl From<ScaledDenseConfig> for ScaledDense {
    fn from(config: ScaledDenseConfig) -> Self {
        Self {
            config,
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
        let units = self.config.units;
        self.kernel =
            Some(ctx.add_weight("kernel", &[fan_in, units], Initializer::GlorotUniform, true)?);
        self.bias = Some(ctx.add_weight("bias", &[units], Initializer::Zeros, true)?);
        self.scale = Some(ctx.add_weight("scale", &[1], Initializer::Constant(0.5), false)?);
        Ok(vec![units])
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

    fn get_config(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }
}

/// Rebuilds the layers kiln does not know from a saved model's architecture.
fn my_layers(class: &str, config: &serde_json::Value) -> Option<kiln::nn::Result<Box<dyn Layer>>> {
    (class == "ScaledDense").then(|| {
        let config = ScaledDenseConfig::deserialize(config)
            .map_err(|e| NnError::Config(format!("ScaledDense config: {e}")))?;
        Ok(Box::new(ScaledDense::from(config)) as Box<dyn Layer>)
    })
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

    let path = std::env::temp_dir().join(format!("kiln-custom-{}.safetensors", std::process::id()));
    model.save(&path)?;
    let mut loaded = load_model_with(&path, &dev, &my_layers)?;
    std::fs::remove_file(&path)?;
    anyhow::ensure!(
        loaded.predict(&x, 64)? == model.predict(&x, 64)?,
        "the reloaded model must predict what the saved one did"
    );
    println!("saved and reloaded with load_model_with: identical predictions");
    Ok(())
}
