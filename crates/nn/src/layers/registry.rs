//! The one table of built-in layer classes: Keras class name -> `from_config`, which rebuilds a
//! layer from the JSON its `get_config()` wrote (a saved model's architecture). Each layer's
//! typed config struct lives beside the layer; `typed_config` and `config_of` convert between
//! them and JSON here.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{NnError, Result};
use crate::layer::Layer;
use crate::layers::*;

/// Builds one layer class from its config.
type FromConfig = fn(&Value) -> Result<Box<dyn Layer>>;

fn boxed<L: Layer + 'static>(l: Result<L>) -> Result<Box<dyn Layer>> {
    Ok(Box::new(l?))
}

/// Every built-in class.
const BUILTIN: &[(&str, FromConfig)] = &[
    ("Dense", |v| boxed(Dense::from_config(v))),
    ("Conv2D", |v| boxed(Conv2D::from_config(v))),
    ("MaxPooling2D", |v| boxed(MaxPooling2D::from_config(v))),
    ("AveragePooling2D", |v| {
        boxed(AveragePooling2D::from_config(v))
    }),
    ("GlobalAveragePooling2D", |v| {
        boxed(GlobalAveragePooling2D::from_config(v))
    }),
    ("GlobalMaxPooling2D", |v| {
        boxed(GlobalMaxPooling2D::from_config(v))
    }),
    ("ZeroPadding2D", |v| boxed(ZeroPadding2D::from_config(v))),
    ("Concatenate", |v| boxed(Concatenate::from_config(v))),
    ("Add", |_| boxed(Ok(Add::new()))),
    ("Subtract", |_| boxed(Ok(Subtract::new()))),
    ("Multiply", |_| boxed(Ok(Multiply::new()))),
    ("Average", |_| boxed(Ok(Average::new()))),
    ("Maximum", |_| boxed(Ok(Maximum::new()))),
    ("Minimum", |_| boxed(Ok(Minimum::new()))),
    ("Flatten", |v| boxed(Flatten::from_config(v))),
    ("Reshape", |v| boxed(Reshape::from_config(v))),
    ("Dropout", |v| boxed(Dropout::from_config(v))),
    ("BatchNormalization", |v| {
        boxed(BatchNormalization::from_config(v))
    }),
    ("Activation", |v| {
        boxed(ActivationLayer::from_config("Activation", v))
    }),
    ("ReLU", |v| boxed(ActivationLayer::from_config("ReLU", v))),
    ("Softmax", |v| {
        boxed(ActivationLayer::from_config("Softmax", v))
    }),
    ("Rescaling", |v| boxed(Rescaling::from_config(v))),
    ("Normalization", |v| boxed(Normalization::from_config(v))),
    ("Resizing", |v| boxed(Resizing::from_config(v))),
    ("CenterCrop", |v| boxed(CenterCrop::from_config(v))),
    ("RandomFlip", |v| boxed(RandomFlip::from_config(v))),
    ("RandomCrop", |v| boxed(RandomCrop::from_config(v))),
    ("RandomTranslation", |v| {
        boxed(RandomTranslation::from_config(v))
    }),
    ("RandomRotation", |v| boxed(RandomRotation::from_config(v))),
    ("RandomZoom", |v| boxed(RandomZoom::from_config(v))),
    ("RandomContrast", |v| boxed(RandomContrast::from_config(v))),
];

/// A built-in layer of `class` from its config, or `None` for a class kiln does not know.
pub(crate) fn from_config(class: &str, config: &Value) -> Result<Option<Box<dyn Layer>>> {
    match BUILTIN.iter().find(|(c, _)| *c == class) {
        Some((_, make)) => make(config).map(Some),
        None => Ok(None),
    }
}

/// The built-in class names.
pub fn builtin_classes() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(c, _)| *c)
}

/// `config` read as `class`'s typed config, or an error naming the class and the setting.
pub(crate) fn typed_config<C: DeserializeOwned>(class: &str, config: &Value) -> Result<C> {
    C::deserialize(config).map_err(|e| NnError::Config(format!("{class} config: {e}")))
}

/// A typed config as the JSON object `get_config()` returns.
pub(crate) fn config_of<C: Serialize>(config: &C) -> Value {
    // A struct of numbers, booleans, strings and arrays always serializes.
    serde_json::to_value(config).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_graph::{FillMode, Interpolation};

    #[test]
    fn every_builtin_class_rebuilds_from_its_own_config_and_reports_its_class() {
        let layers: Vec<Box<dyn Layer>> = vec![
            Box::new(Dense::new(7).use_bias(false)),
            Box::new(Conv2D::new(4, 3).strides(2, 1)),
            Box::new(MaxPooling2D::new(2)),
            Box::new(AveragePooling2D::new(3)),
            Box::new(GlobalAveragePooling2D::new()),
            Box::new(GlobalMaxPooling2D::new()),
            Box::new(ZeroPadding2D::sides((3, 3), (1, 2))),
            Box::new(Concatenate::axis(3)),
            Box::new(Add::new()),
            Box::new(Subtract::new()),
            Box::new(Multiply::new()),
            Box::new(Average::new()),
            Box::new(Maximum::new()),
            Box::new(Minimum::new()),
            Box::new(Flatten::new()),
            Box::new(Reshape::new(&[4, 2])),
            Box::new(Dropout::new(0.25).unwrap()),
            Box::new(BatchNormalization::new().momentum(0.9)),
            Box::new(ActivationLayer::new("tanh").unwrap()),
            Box::new(ReLU::new()),
            Box::new(Softmax::new()),
            Box::new(Rescaling::new(1.0 / 255.0, 0.5)),
            Box::new(Normalization::with_stats(vec![0.5, 1.0], vec![4.0, 0.25]).unwrap()),
            Box::new(Resizing::new(12, 10).crop_to_aspect_ratio(true)),
            Box::new(CenterCrop::new(6, 5)),
            Box::new(RandomFlip::new(FlipMode::Vertical, Some(3))),
            Box::new(RandomCrop::new(8, 7, Some(4))),
            Box::new(
                RandomTranslation::new(Factor::Symmetric(0.1), Factor::Range([-0.2, 0.3])).seed(5),
            ),
            Box::new(RandomRotation::new(Factor::Symmetric(0.25)).fill(FillMode::Constant, 0.5)),
            Box::new(
                RandomZoom::new(Factor::Range([-0.3, 0.1]), None)
                    .interpolation(Interpolation::Nearest),
            ),
            Box::new(
                RandomContrast::new(Factor::Symmetric(0.4))
                    .value_range(0.0, 1.0)
                    .seed(9),
            ),
        ];
        let mut classes: Vec<&str> = layers.iter().map(|l| l.class_name()).collect();
        let mut listed: Vec<&str> = builtin_classes().collect();
        classes.sort();
        listed.sort();
        assert_eq!(
            classes, listed,
            "the table and this test list the same classes"
        );
        for l in &layers {
            let cfg = l.get_config();
            let again = from_config(l.class_name(), &cfg).unwrap().unwrap();
            assert_eq!(again.class_name(), l.class_name());
            assert_eq!(again.get_config(), cfg, "{}", l.class_name());
        }
        assert!(from_config("Mystery", &Value::Null).unwrap().is_none());
    }

    #[test]
    fn a_bad_setting_names_the_class_and_the_setting() {
        let e = from_config("Dense", &serde_json::json!({"units": "ten"}))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("Dense") && e.contains("ten"), "{e}");
        let e = from_config("Dropout", &serde_json::json!({"rate": 1.5}))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("1.5"), "{e}");
    }
}
