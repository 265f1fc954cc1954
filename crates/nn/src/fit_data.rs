//! What `fit`, `evaluate` and `predict` take: one array per model input and per output
//! (`IntoArrays`: an `&Array` for a one-input model, a slice or array of them for several),
//! checked against each other, the model and its losses before anything touches the GPU, and
//! the validation split.

use std::borrow::Cow;

use crate::array::{Array, Data};
use crate::error::{NnError, Result};
use crate::fit_config::FitConfig;
use crate::model::Model;

/// Arrays for a model's inputs or outputs, in order.
pub trait IntoArrays<'a> {
    /// The arrays.
    fn into_arrays(self) -> Vec<&'a Array>;
}

impl<'a> IntoArrays<'a> for &'a Array {
    fn into_arrays(self) -> Vec<&'a Array> {
        vec![self]
    }
}

impl<'a> IntoArrays<'a> for &'a [Array] {
    fn into_arrays(self) -> Vec<&'a Array> {
        self.iter().collect()
    }
}

impl<'a> IntoArrays<'a> for &'a Vec<Array> {
    fn into_arrays(self) -> Vec<&'a Array> {
        self.iter().collect()
    }
}

impl<'a, const N: usize> IntoArrays<'a> for &'a [Array; N] {
    fn into_arrays(self) -> Vec<&'a Array> {
        self.iter().collect()
    }
}

impl<'a, const N: usize> IntoArrays<'a> for [&'a Array; N] {
    fn into_arrays(self) -> Vec<&'a Array> {
        self.to_vec()
    }
}

impl<'a> IntoArrays<'a> for &'a [&'a Array] {
    fn into_arrays(self) -> Vec<&'a Array> {
        self.to_vec()
    }
}

/// Checks the inputs `xs` (and the targets `ys`, when given) against each other, the model and
/// its losses, building the model for the inputs' shapes if it is not built yet.
pub(crate) fn check_data(
    model: &mut Model,
    xs: &[&Array],
    ys: Option<&[&Array]>,
    what: &str,
) -> Result<()> {
    if xs.len() != model.inputs.len() {
        return Err(NnError::Input(format!(
            "{what}: the model takes {} inputs, got {} arrays",
            model.inputs.len(),
            xs.len()
        )));
    }
    let n = xs[0].len();
    if n == 0 {
        return Err(NnError::Input(format!("{what}: x holds no samples")));
    }
    for (i, x) in xs.iter().enumerate() {
        let name = if xs.len() > 1 {
            format!("x[{i}]")
        } else {
            "x".into()
        };
        if x.len() != n {
            return Err(NnError::Input(format!(
                "{what}: {name} has {} samples but x[0] has {n}",
                x.len()
            )));
        }
        let Some(values) = x.as_f32() else {
            return Err(NnError::Input(format!(
                "{what}: {name} holds integers (u32) but model inputs are f32: convert with \
                 `x.to_f32()` (or load with `Array::load_npy_f32`), scaling as the model expects"
            )));
        };
        if let Some(v) = values.iter().position(|f| !f.is_finite()) {
            return Err(NnError::Input(format!(
                "{what}: {name} holds a non-finite value at flat index {v}"
            )));
        }
    }
    let shapes: Vec<Vec<usize>> = xs.iter().map(|x| x.shape[1..].to_vec()).collect();
    model.build_for(&shapes).map_err(|e| {
        NnError::Input(format!(
            "{what}: samples of shape {} do not fit the model: {e}",
            shapes
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let Some(ys) = ys else {
        return Ok(());
    };
    if ys.len() != model.outputs.len() {
        return Err(NnError::Input(format!(
            "{what}: the model has {} outputs, got {} target arrays",
            model.outputs.len(),
            ys.len()
        )));
    }
    let compiled = model
        .compiled
        .as_ref()
        .ok_or_else(crate::fit::not_compiled)?;
    let outs = model.output_shapes().unwrap_or_default();
    for (i, (y, spec)) in ys.iter().zip(&compiled.outputs).enumerate() {
        let label = if ys.len() > 1 {
            format!("y[{i}]")
        } else {
            "y".into()
        };
        if y.len() != n {
            return Err(NnError::Input(format!(
                "{what}: x has {n} samples but {label} has {}",
                y.len()
            )));
        }
        check_targets(y, &spec.loss, &outs[i], &format!("{what}: {label}"))?;
    }
    Ok(())
}

/// Targets `y` against an output of shape `out` trained with `loss`.
fn check_targets(y: &Array, loss: &crate::losses::Loss, out: &[usize], what: &str) -> Result<()> {
    let classes = out.last().copied().unwrap_or(1);
    match (&y.data, loss.sparse_targets()) {
        (Data::U32(labels), true) => {
            if y.row_size() != 1 {
                return Err(NnError::Input(format!(
                    "{what}: {} needs one integer label per sample, got shape {:?}",
                    loss.name(),
                    y.shape
                )));
            }
            if let Some((i, l)) = labels
                .iter()
                .enumerate()
                .find(|(_, l)| **l as usize >= classes)
            {
                return Err(NnError::Input(format!(
                    "{what}: label {l} (sample {i}) is out of range for a model with {classes} outputs"
                )));
            }
        }
        (Data::F32(_), false) => {
            if y.row_size() != out.iter().product::<usize>() {
                return Err(NnError::Input(format!(
                    "{what}: targets have {} values per sample but the model outputs {out:?}",
                    y.row_size()
                )));
            }
        }
        (_, true) => {
            return Err(NnError::Input(format!(
                "{what}: {} needs u32 labels, got f32",
                loss.name()
            )));
        }
        (_, false) => {
            return Err(NnError::Input(format!(
                "{what}: {} needs f32 targets, got u32 labels",
                loss.name()
            )));
        }
    }
    Ok(())
}

/// Training inputs and targets, and validation ones if any.
pub(crate) type Split<'a> = (
    Vec<Cow<'a, Array>>,
    Vec<Cow<'a, Array>>,
    Option<(Vec<Array>, Vec<Array>)>,
);

/// Training arrays and validation arrays: explicit data, or the last `validation_split` of the
/// samples (taken before shuffling, as Keras does). Without a split the training arrays are the
/// caller's, borrowed: a fit never copies the whole dataset (two copies of Fashion-MNIST's
/// 188 MB were made per `fit` call before).
pub(crate) fn split<'a>(
    xs: &[&'a Array],
    ys: &[&'a Array],
    cfg: &mut FitConfig,
) -> Result<Split<'a>> {
    let borrowed = |v: &[&'a Array]| v.iter().map(|&a| Cow::Borrowed(a)).collect::<Vec<_>>();
    if let Some(v) = cfg.validation_data.take() {
        return Ok((borrowed(xs), borrowed(ys), Some(v)));
    }
    if cfg.validation_split <= 0.0 {
        return Ok((borrowed(xs), borrowed(ys), None));
    }
    if cfg.validation_split >= 1.0 {
        return Err(NnError::Input(format!(
            "fit: validation_split must be in [0, 1), got {}",
            cfg.validation_split
        )));
    }
    let n = xs[0].len();
    let cut = n - ((n as f64 * cfg.validation_split as f64) as usize).min(n - 1);
    let part =
        |v: &[&Array], a: usize, b: usize| v.iter().map(|x| x.slice(a, b)).collect::<Vec<_>>();
    let owned = |v: Vec<Array>| v.into_iter().map(Cow::Owned).collect::<Vec<_>>();
    Ok((
        owned(part(xs, 0, cut)),
        owned(part(ys, 0, cut)),
        Some((part(xs, cut, n), part(ys, cut, n))),
    ))
}
