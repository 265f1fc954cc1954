//! How layer configs spell Keras values in JSON, for the `serde(with = ...)` attributes of the
//! typed config structs: activations and paddings by Keras name, window sizes as `[h, w]` (a
//! bare integer is read as a square window, as Keras accepts), initializers as Keras's
//! `{"class_name": ..., "config": {...}}` (a bare name such as `"glorot_uniform"` is read too).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

use crate::init::Initializer;
use kiln_graph::{Activation, Padding};

/// `Activation` as its Keras name.
pub mod activation {
    use super::*;

    pub fn serialize<S: Serializer>(a: &Activation, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Activation, D::Error> {
        let name = String::deserialize(d)?;
        Activation::from_name(&name).map_err(D::Error::custom)
    }
}

/// `Padding` as "valid" or "same".
pub mod padding {
    use super::*;

    pub fn serialize<S: Serializer>(p: &Padding, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Padding, D::Error> {
        let name = String::deserialize(d)?;
        Padding::from_name(&name).ok_or_else(|| {
            D::Error::custom(format!(
                "unknown padding {name:?}: use \"valid\" or \"same\""
            ))
        })
    }
}

/// A (height, width) pair as `[h, w]`; a bare integer n reads as `[n, n]`.
pub mod pair {
    use super::*;

    pub fn serialize<S: Serializer>(p: &(usize, usize), s: S) -> Result<S::Ok, S::Error> {
        [p.0, p.1].serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(usize, usize), D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(usize),
            Two([usize; 2]),
        }
        Ok(match Form::deserialize(d)? {
            Form::One(n) => (n, n),
            Form::Two([h, w]) => (h, w),
        })
    }
}

/// An `Initializer` as Keras writes one.
pub mod initializer {
    use super::*;

    pub fn serialize<S: Serializer>(i: &Initializer, s: S) -> Result<S::Ok, S::Error> {
        let (class, config) = match i {
            Initializer::GlorotUniform => ("GlorotUniform", json!({"seed": null})),
            Initializer::HeNormal => ("HeNormal", json!({"seed": null})),
            Initializer::Zeros => ("Zeros", json!({})),
            Initializer::Ones => ("Ones", json!({})),
            Initializer::Constant(v) => ("Constant", json!({ "value": v })),
        };
        json!({"class_name": class, "config": config}).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Initializer, D::Error> {
        let v = Value::deserialize(d)?;
        let class = match &v {
            Value::String(name) => name.as_str(),
            _ => v["class_name"].as_str().unwrap_or_default(),
        };
        Ok(match class {
            "GlorotUniform" | "glorot_uniform" => Initializer::GlorotUniform,
            "HeNormal" | "he_normal" => Initializer::HeNormal,
            "Zeros" | "zeros" => Initializer::Zeros,
            "Ones" | "ones" => Initializer::Ones,
            "Constant" | "constant" => {
                let value = v["config"]["value"]
                    .as_f64()
                    .ok_or_else(|| D::Error::custom("a Constant initializer needs config.value"))?;
                Initializer::Constant(value as f32)
            }
            other => {
                return Err(D::Error::custom(format!(
                    "unknown initializer {other:?}: use GlorotUniform, HeNormal, Zeros, Ones or Constant"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "activation")]
        act: Activation,
        #[serde(with = "padding")]
        pad: Padding,
        #[serde(with = "pair")]
        size: (usize, usize),
        #[serde(with = "initializer")]
        init: Initializer,
    }

    #[test]
    fn values_are_written_as_keras_writes_them_and_read_back() {
        let s = Sample {
            act: Activation::Relu,
            pad: Padding::Same,
            size: (3, 2),
            init: Initializer::Constant(0.5),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({"act": "relu", "pad": "same", "size": [3, 2],
                   "init": {"class_name": "Constant", "config": {"value": 0.5}}})
        );
        assert_eq!(serde_json::from_value::<Sample>(v).unwrap(), s);
    }

    #[test]
    fn keras_shorthands_are_accepted_and_bad_values_named() {
        let v = json!({"act": "tanh", "pad": "valid", "size": 5, "init": "he_normal"});
        let s: Sample = serde_json::from_value(v).unwrap();
        assert_eq!((s.size, s.init), ((5, 5), Initializer::HeNormal));
        let bad = json!({"act": "swishy", "pad": "valid", "size": 1, "init": "zeros"});
        let e = serde_json::from_value::<Sample>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("swishy"), "{e}");
        let bad = json!({"act": "relu", "pad": "causal", "size": 1, "init": "zeros"});
        let e = serde_json::from_value::<Sample>(bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("causal"), "{e}");
    }
}
