//! JSON descriptions of a model's layers, optimizer, loss and metrics, stored in a checkpoint's
//! safetensors metadata and turned back into objects by `load_model`.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::layers::*;
use crate::losses::Loss;
use crate::metrics::MetricKind;
use crate::optimizers::{Optimizer, Rule};
use crate::schedules::LearningRate;

fn bad(what: &str) -> NnError {
    NnError::Config(format!("checkpoint: {what}"))
}

fn num(v: &Value, key: &str) -> Result<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| bad(&format!("missing number {key:?} in {v}")))
}

/// Parses "(3, 3)" or "[28, 28, 1]" into numbers.
fn usizes(s: &str) -> Result<Vec<usize>> {
    s.trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']')
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse()
                .map_err(|_| bad(&format!("cannot read {s:?} as sizes")))
        })
        .collect()
}

fn pair(cfg: &HashMap<String, String>, key: &str) -> Result<(usize, usize)> {
    let v = usizes(cfg.get(key).ok_or_else(|| bad(&format!("missing {key}")))?)?;
    match v[..] {
        [a, b] => Ok((a, b)),
        _ => Err(bad(&format!("{key} must have two values"))),
    }
}

fn get<'a>(cfg: &'a HashMap<String, String>, key: &str) -> Result<&'a str> {
    cfg.get(key)
        .map(String::as_str)
        .ok_or_else(|| bad(&format!("missing layer setting {key}")))
}

fn parse<T: std::str::FromStr>(cfg: &HashMap<String, String>, key: &str) -> Result<T> {
    get(cfg, key)?
        .parse()
        .map_err(|_| bad(&format!("bad value for {key}")))
}

/// A built-in layer from its class name and `config()` pairs; `None` for an unknown class.
pub(crate) fn builtin_layer(
    class: &str,
    cfg: &HashMap<String, String>,
) -> Result<Option<Box<dyn Layer>>> {
    let layer: Box<dyn Layer> = match class {
        "Dense" => Box::new(
            Dense::new(parse(cfg, "units")?)
                .activation(get(cfg, "activation")?)?
                .use_bias(parse(cfg, "use_bias")?),
        ),
        "Conv2D" => {
            let (kh, kw) = pair(cfg, "kernel_size")?;
            let (sh, sw) = pair(cfg, "strides")?;
            let c = Conv2D::new(parse(cfg, "filters")?, kh)
                .kernel_size(kh, kw)
                .strides(sh, sw)
                .padding(get(cfg, "padding")?)?;
            Box::new(
                c.activation(get(cfg, "activation")?)?
                    .use_bias(parse(cfg, "use_bias")?),
            )
        }
        "MaxPooling2D" | "AveragePooling2D" => {
            let (ph, _) = pair(cfg, "pool_size")?;
            let (sh, sw) = pair(cfg, "strides")?;
            if class == "MaxPooling2D" {
                Box::new(
                    MaxPooling2D::new(ph)
                        .strides(sh, sw)
                        .padding(get(cfg, "padding")?)?,
                )
            } else {
                Box::new(
                    AveragePooling2D::new(ph)
                        .strides(sh, sw)
                        .padding(get(cfg, "padding")?)?,
                )
            }
        }
        "GlobalAveragePooling2D" => Box::new(GlobalAveragePooling2D::new()),
        "Flatten" => Box::new(Flatten::new()),
        "Reshape" => Box::new(Reshape::new(&usizes(get(cfg, "target_shape")?)?)),
        "Dropout" => Box::new(Dropout::new(parse(cfg, "rate")?)?),
        "BatchNormalization" => {
            Box::new(BatchNormalization::new().momentum(parse(cfg, "momentum")?))
        }
        "ReLU" => Box::new(ReLU::new()),
        "Softmax" => Box::new(Softmax::new()),
        "Activation" => Box::new(ActivationLayer::new(get(cfg, "activation")?)?),
        _ => return Ok(None),
    };
    Ok(Some(layer))
}

/// One layer's description.
pub(crate) fn layer_json(name: &str, layer: &dyn Layer, trainable: bool) -> Value {
    let cfg: serde_json::Map<String, Value> = layer
        .config()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    json!({ "class": layer.class_name(), "name": name, "trainable": trainable, "config": cfg })
}

pub(crate) fn layer_cfg(v: &Value) -> Result<(String, String, bool, HashMap<String, String>)> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("layer entry without {k}: {v}")))
    };
    let cfg = v
        .get("config")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        s("class")?,
        s("name")?,
        v.get("trainable").and_then(Value::as_bool).unwrap_or(true),
        cfg,
    ))
}

pub(crate) fn lr_json(lr: &LearningRate) -> Value {
    match lr {
        LearningRate::Constant(v) => json!({"type": "constant", "value": v}),
        LearningRate::ExponentialDecay {
            initial,
            decay_steps,
            decay_rate,
            staircase,
        } => {
            json!({"type": "exponential_decay", "initial": initial, "decay_steps": decay_steps, "decay_rate": decay_rate, "staircase": staircase})
        }
        LearningRate::PiecewiseConstantDecay { boundaries, values } => {
            json!({"type": "piecewise_constant_decay", "boundaries": boundaries, "values": values})
        }
        LearningRate::CosineDecay {
            initial,
            decay_steps,
            alpha,
        } => {
            json!({"type": "cosine_decay", "initial": initial, "decay_steps": decay_steps, "alpha": alpha})
        }
    }
}

fn lr_from(v: &Value) -> Result<LearningRate> {
    let f = |k: &str| num(v, k).map(|x| x as f32);
    let u = |k: &str| num(v, k).map(|x| x as u64);
    Ok(
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "constant" => LearningRate::Constant(f("value")?),
            "exponential_decay" => LearningRate::ExponentialDecay {
                initial: f("initial")?,
                decay_steps: u("decay_steps")?,
                decay_rate: f("decay_rate")?,
                staircase: v["staircase"].as_bool().unwrap_or(false),
            },
            "piecewise_constant_decay" => LearningRate::PiecewiseConstantDecay {
                boundaries: v["boundaries"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_u64).collect())
                    .unwrap_or_default(),
                values: v["values"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_f64)
                            .map(|x| x as f32)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            "cosine_decay" => LearningRate::CosineDecay {
                initial: f("initial")?,
                decay_steps: u("decay_steps")?,
                alpha: f("alpha")?,
            },
            other => return Err(bad(&format!("unknown learning-rate type {other:?}"))),
        },
    )
}

pub(crate) fn optimizer_json(o: &Optimizer) -> Value {
    let rule = match &o.rule {
        Rule::Sgd { momentum, nesterov } => {
            json!({"rule": "sgd", "momentum": momentum, "nesterov": nesterov})
        }
        Rule::Adam {
            beta1,
            beta2,
            epsilon,
        } => json!({"rule": "adam", "beta1": beta1, "beta2": beta2, "epsilon": epsilon}),
        Rule::Rmsprop {
            rho,
            momentum,
            epsilon,
            centered,
        } => {
            json!({"rule": "rmsprop", "rho": rho, "momentum": momentum, "epsilon": epsilon, "centered": centered})
        }
    };
    json!({"rule": rule, "learning_rate": lr_json(&o.learning_rate), "weight_decay": o.weight_decay, "iterations": o.iterations})
}

pub(crate) fn optimizer_from(v: &Value) -> Result<Optimizer> {
    let r = &v["rule"];
    let f = |k: &str| num(r, k).map(|x| x as f32);
    let rule = match r.get("rule").and_then(Value::as_str).unwrap_or_default() {
        "sgd" => Rule::Sgd {
            momentum: f("momentum")?,
            nesterov: r["nesterov"].as_bool().unwrap_or(false),
        },
        "adam" => Rule::Adam {
            beta1: f("beta1")?,
            beta2: f("beta2")?,
            epsilon: f("epsilon")?,
        },
        "rmsprop" => Rule::Rmsprop {
            rho: f("rho")?,
            momentum: f("momentum")?,
            epsilon: f("epsilon")?,
            centered: r["centered"].as_bool().unwrap_or(false),
        },
        other => return Err(bad(&format!("unknown optimizer rule {other:?}"))),
    };
    let mut o = Optimizer::sgd(0.0)
        .rule(rule)
        .weight_decay(num(v, "weight_decay")? as f32);
    o.learning_rate = lr_from(&v["learning_rate"])?;
    o.iterations = num(v, "iterations")? as u64;
    Ok(o)
}

pub(crate) fn loss_json(l: &Loss) -> Value {
    let from_logits = match l {
        Loss::SparseCategoricalCrossentropy { from_logits }
        | Loss::CategoricalCrossentropy { from_logits }
        | Loss::BinaryCrossentropy { from_logits } => *from_logits,
        _ => false,
    };
    json!({"name": l.name(), "from_logits": from_logits})
}

pub(crate) fn loss_from(v: &Value) -> Result<Loss> {
    let from_logits = v["from_logits"].as_bool().unwrap_or(false);
    Ok(match v["name"].as_str().unwrap_or_default() {
        "sparse_categorical_crossentropy" => Loss::SparseCategoricalCrossentropy { from_logits },
        "categorical_crossentropy" => Loss::CategoricalCrossentropy { from_logits },
        "binary_crossentropy" => Loss::BinaryCrossentropy { from_logits },
        "mean_squared_error" => Loss::MeanSquaredError,
        "mean_absolute_error" => Loss::MeanAbsoluteError,
        other => return Err(bad(&format!("unknown loss {other:?}"))),
    })
}

pub(crate) fn metric_json(m: &MetricKind) -> Value {
    match m {
        MetricKind::BinaryAccuracy { threshold } => {
            json!({"kind": "binary_accuracy", "threshold": threshold})
        }
        MetricKind::SparseTopKCategoricalAccuracy { k } => {
            json!({"kind": "sparse_top_k_categorical_accuracy", "k": k})
        }
        other => json!({"kind": other.name()}),
    }
}

pub(crate) fn metric_from(v: &Value) -> Result<MetricKind> {
    Ok(match v["kind"].as_str().unwrap_or_default() {
        "accuracy" => MetricKind::Accuracy,
        "sparse_categorical_accuracy" => MetricKind::SparseCategoricalAccuracy,
        "categorical_accuracy" => MetricKind::CategoricalAccuracy,
        "binary_accuracy" => MetricKind::BinaryAccuracy {
            threshold: num(v, "threshold")? as f32,
        },
        "sparse_top_k_categorical_accuracy" => MetricKind::SparseTopKCategoricalAccuracy {
            k: num(v, "k")? as usize,
        },
        "mean" => MetricKind::Mean,
        other => return Err(bad(&format!("unknown metric {other:?}"))),
    })
}
