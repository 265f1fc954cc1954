//! JSON descriptions of a model's layers, optimizer, loss and metrics, stored in a checkpoint's
//! safetensors metadata and turned back into objects by `load_model`.

use serde_json::{Map, Value, json};

use crate::error::{NnError, Result};
use crate::layer::Layer;
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

/// One layer's description as Keras's `model.to_json()` writes a layer: its class name and its
/// `get_config()` with the layer's name and trainable flag added.
pub(crate) fn layer_json(name: &str, layer: &dyn Layer, trainable: bool) -> Value {
    let mut cfg = match layer.get_config() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    cfg.insert("name".into(), json!(name));
    cfg.insert("trainable".into(), json!(trainable));
    json!({ "class_name": layer.class_name(), "config": cfg })
}

/// A layer entry's (class, name, trainable, config): the Keras form `layer_json` writes, or the
/// first kiln form (`{"class", "name", "trainable", "config"}` with every setting a string,
/// read by `legacy_value`), so files saved before the typed configs still load.
pub(crate) fn layer_entry(v: &Value) -> Result<(String, String, bool, Value)> {
    let text = |x: &Value, k: &str| {
        x.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("layer entry without {k}: {v}")))
    };
    if let Some(cfg) = v.get("config").filter(|_| v.get("class_name").is_some()) {
        let trainable = cfg
            .get("trainable")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        return Ok((
            text(v, "class_name")?,
            text(cfg, "name")?,
            trainable,
            cfg.clone(),
        ));
    }
    let cfg: Map<String, Value> = v
        .get("config")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, x)| (k.clone(), legacy_value(x)))
                .collect()
        })
        .unwrap_or_default();
    let trainable = v.get("trainable").and_then(Value::as_bool).unwrap_or(true);
    Ok((
        text(v, "class")?,
        text(v, "name")?,
        trainable,
        Value::Object(cfg),
    ))
}

/// A first-form setting as a JSON value: "10" is 10, "true" is true, "(3, 3)" and "[28, 28]"
/// are arrays, anything else stays a string.
fn legacy_value(v: &Value) -> Value {
    let Some(s) = v.as_str() else {
        return v.clone();
    };
    let bracketed = match s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => format!("[{}]", inner.trim_end_matches(',')),
        None => s.to_string(),
    };
    serde_json::from_str(&bracketed).unwrap_or_else(|_| Value::String(s.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Conv2D;

    #[test]
    fn a_layer_is_written_as_keras_writes_it() {
        let conv = Conv2D::new(8, 3).strides(2, 2);
        let v = layer_json("conv2d", &conv, false);
        assert_eq!(v["class_name"], "Conv2D");
        let c = &v["config"];
        assert_eq!(
            (c["name"].clone(), c["trainable"].clone()),
            (json!("conv2d"), json!(false))
        );
        assert_eq!(
            (c["kernel_size"].clone(), c["strides"].clone()),
            (json!([3, 3]), json!([2, 2]))
        );
        assert_eq!(
            (c["filters"].clone(), c["padding"].clone()),
            (json!(8), json!("valid"))
        );
        let (class, name, trainable, cfg) = layer_entry(&v).unwrap();
        assert_eq!(
            (class.as_str(), name.as_str(), trainable),
            ("Conv2D", "conv2d", false)
        );
        assert_eq!(cfg["filters"], 8);
    }

    #[test]
    fn first_form_entries_still_read() {
        // What kiln wrote before layers had typed configs (Debug-formatted strings).
        let old = json!({"class": "Conv2D", "name": "conv2d", "trainable": true, "config": {
            "filters": "32", "kernel_size": "(3, 3)", "strides": "(1, 1)", "padding": "same",
            "activation": "relu", "use_bias": "true"}});
        let (class, _, _, cfg) = layer_entry(&old).unwrap();
        let conv = crate::layers::registry::from_config(&class, &cfg)
            .unwrap()
            .unwrap();
        let c = conv.get_config();
        assert_eq!(
            (c["filters"].clone(), c["kernel_size"].clone()),
            (json!(32), json!([3, 3]))
        );
        assert_eq!(
            (c["padding"].clone(), c["use_bias"].clone()),
            (json!("same"), json!(true))
        );
        assert_eq!(legacy_value(&json!("[28, 28, 1]")), json!([28, 28, 1]));
        assert_eq!(legacy_value(&json!("0.99")), json!(0.99));
    }
}
