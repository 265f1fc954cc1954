//! Merge layers, called on several tensors of one shape (NumPy broadcasting allowed, as in
//! Keras 3): `Add`, `Subtract` (exactly two), `Multiply`, `Average`, `Maximum`, `Minimum`, and
//! `Concatenate` along an axis. The gradient of each is its graph ops' (a sum passes it to every
//! input, a concatenation splits it).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use kiln_graph::Tensor;
use kiln_graph::shape_rules::broadcast;

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::registry::{config_of, typed_config};

/// How a merge layer combines its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeOp {
    /// Sum.
    Add,
    /// First minus second.
    Subtract,
    /// Product.
    Multiply,
    /// Mean.
    Average,
    /// Elementwise maximum.
    Maximum,
    /// Elementwise minimum.
    Minimum,
}

impl MergeOp {
    /// Every op.
    pub const ALL: [MergeOp; 6] = [
        MergeOp::Add,
        MergeOp::Subtract,
        MergeOp::Multiply,
        MergeOp::Average,
        MergeOp::Maximum,
        MergeOp::Minimum,
    ];

    /// The Keras class name.
    pub fn class_name(self) -> &'static str {
        match self {
            MergeOp::Add => "Add",
            MergeOp::Subtract => "Subtract",
            MergeOp::Multiply => "Multiply",
            MergeOp::Average => "Average",
            MergeOp::Maximum => "Maximum",
            MergeOp::Minimum => "Minimum",
        }
    }
}

/// An elementwise merge of several inputs (use the Keras names `Add::new()`, ...).
pub struct Merge {
    op: MergeOp,
}

impl Merge {
    /// A merge layer of `op`.
    pub fn new(op: MergeOp) -> Self {
        Merge { op }
    }
}

macro_rules! merge_class {
    ($($name:ident => $op:ident: $doc:literal),+ $(,)?) => {$(
        #[doc = $doc]
        pub struct $name;

        impl $name {
            /// The layer.
            #[allow(clippy::new_ret_no_self)]
            pub fn new() -> Merge {
                Merge::new(MergeOp::$op)
            }
        }
    )+};
}

merge_class! {
    Add => Add: "Sum of the inputs (a residual connection).",
    Subtract => Subtract: "The first input minus the second.",
    Multiply => Multiply: "Product of the inputs.",
    Average => Average: "Mean of the inputs.",
    Maximum => Maximum: "Elementwise maximum of the inputs.",
    Minimum => Minimum: "Elementwise minimum of the inputs.",
}

impl Layer for Merge {
    fn class_name(&self) -> &'static str {
        self.op.class_name()
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        self.build_inputs(&[input_shape.to_vec()], ctx)
    }

    fn build_inputs(
        &mut self,
        shapes: &[Vec<usize>],
        _ctx: &mut BuildCtx<'_>,
    ) -> Result<Vec<usize>> {
        let class = self.class_name();
        let arity_ok = match self.op {
            MergeOp::Subtract => shapes.len() == 2,
            _ => shapes.len() >= 2,
        };
        if !arity_ok {
            let want = if self.op == MergeOp::Subtract {
                "exactly 2"
            } else {
                "at least 2"
            };
            return Err(NnError::Config(format!(
                "{class} takes {want} inputs, got {}",
                shapes.len()
            )));
        }
        let mut out = shapes[0].clone();
        for s in &shapes[1..] {
            out = broadcast(&out, s).ok_or_else(|| {
                NnError::Config(format!(
                    "{class} needs inputs of one shape (or shapes that broadcast), got {:?} and {s:?}",
                    shapes[0]
                ))
            })?;
        }
        Ok(out)
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        self.call_inputs(std::slice::from_ref(x), ctx)
    }

    fn call_inputs(&self, xs: &[Tensor], _ctx: &CallCtx) -> Result<Tensor> {
        let (first, rest) = xs.split_first().ok_or_else(|| {
            NnError::Config(format!("{} was called on no inputs", self.class_name()))
        })?;
        let mut acc = first.clone();
        for x in rest {
            acc = match self.op {
                MergeOp::Add | MergeOp::Average => acc.add(x)?,
                MergeOp::Subtract => acc.sub(x)?,
                MergeOp::Multiply => acc.mul(x)?,
                MergeOp::Maximum => acc.maximum(x)?,
                MergeOp::Minimum => acc.minimum(x)?,
            };
        }
        if self.op == MergeOp::Average {
            acc = acc.mul_scalar(1.0 / xs.len() as f32)?;
        }
        Ok(acc)
    }

    fn get_config(&self) -> Value {
        json!({})
    }
}

/// `Concatenate`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcatenateConfig {
    /// The axis, counted as Keras counts it (0 is the batch; -1, the default, the last).
    #[serde(default = "last")]
    pub axis: i64,
}

fn last() -> i64 {
    -1
}

/// Joins its inputs along an axis (the channels by default).
pub struct Concatenate {
    config: ConcatenateConfig,
}

impl Default for Concatenate {
    fn default() -> Self {
        Self::new()
    }
}

impl Concatenate {
    /// Along the last axis.
    pub fn new() -> Self {
        Self::axis(-1)
    }

    /// Along `axis` (Keras's count: 0 is the batch, negative from the end).
    pub fn axis(axis: i64) -> Self {
        Concatenate {
            config: ConcatenateConfig { axis },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(Concatenate {
            config: typed_config("Concatenate", config)?,
        })
    }

    /// The axis of a sample of `rank` axes (no batch), or an error.
    fn sample_axis(&self, rank: usize) -> Result<usize> {
        let a = self.config.axis;
        let full = rank as i64 + 1; // with the batch
        let k = if a < 0 { full + a } else { a };
        if k <= 0 || k >= full {
            return Err(NnError::Config(format!(
                "Concatenate: axis {a} does not name a sample axis of rank {rank} (the batch axis cannot be joined)"
            )));
        }
        Ok(k as usize - 1)
    }
}

impl Layer for Concatenate {
    fn class_name(&self) -> &'static str {
        "Concatenate"
    }

    fn build(&mut self, input_shape: &[usize], ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        self.build_inputs(&[input_shape.to_vec()], ctx)
    }

    fn build_inputs(
        &mut self,
        shapes: &[Vec<usize>],
        _ctx: &mut BuildCtx<'_>,
    ) -> Result<Vec<usize>> {
        if shapes.len() < 2 {
            return Err(NnError::Config(format!(
                "Concatenate takes at least 2 inputs, got {}",
                shapes.len()
            )));
        }
        let axis = self.sample_axis(shapes[0].len())?;
        let agree = shapes.iter().all(|s| {
            s.len() == shapes[0].len()
                && s.iter()
                    .zip(&shapes[0])
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b)
        });
        if !agree {
            return Err(NnError::Config(format!(
                "Concatenate on axis {} needs inputs that agree on every other axis, got {}",
                self.config.axis,
                shapes
                    .iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        }
        let mut out = shapes[0].clone();
        out[axis] = shapes.iter().map(|s| s[axis]).sum();
        Ok(out)
    }

    fn call(&self, x: &Tensor, ctx: &CallCtx) -> Result<Tensor> {
        self.call_inputs(std::slice::from_ref(x), ctx)
    }

    fn call_inputs(&self, xs: &[Tensor], _ctx: &CallCtx) -> Result<Tensor> {
        let rank = xs.first().map_or(0, |x| x.shape().len().saturating_sub(1));
        let axis = self.sample_axis(rank)? + 1;
        Ok(Tensor::concat(xs, axis)?)
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
