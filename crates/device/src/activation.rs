//! `Activation`: the one activation enum of kiln, by Keras name. The elementwise ones are
//! computed by the unary kernels and by the matmul and conv2d epilogues (their WGSL codes are
//! `codes::ACT_*`); softmax needs a whole row and runs as its own kernel (`ops::softmax`).
//! The graph crate applies any of them (`Tensor::activation`), the nn crate's layers take them
//! by name (`Dense::new(10).activation("relu")`).

use crate::codes::{ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH};

/// An activation function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activation {
    /// Identity.
    #[default]
    Linear,
    /// max(x, 0).
    Relu,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// tanh(x).
    Tanh,
    /// e^x / sum(e^x) over the last axis (not elementwise).
    Softmax,
}

/// A name that is not a Keras activation kiln knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown activation {0:?}: use linear, relu, sigmoid, tanh or softmax")]
pub struct UnknownActivation(pub String);

impl Activation {
    /// Every activation.
    pub const ALL: [Activation; 5] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
    ];

    /// From a Keras name: "linear" (also "" and "none"), "relu", "sigmoid", "tanh", "softmax".
    pub fn from_name(name: &str) -> Result<Self, UnknownActivation> {
        match name {
            "" | "none" => Ok(Activation::Linear),
            _ => Self::ALL
                .into_iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| UnknownActivation(name.to_string())),
        }
    }

    /// The Keras name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
        }
    }

    /// The code WGSL switches on (`codes::ACT_*`), or `None` for softmax, which no
    /// elementwise kernel computes.
    pub fn code(self) -> Option<u32> {
        match self {
            Activation::Linear => Some(ACT_LINEAR),
            Activation::Relu => Some(ACT_RELU),
            Activation::Sigmoid => Some(ACT_SIGMOID),
            Activation::Tanh => Some(ACT_TANH),
            Activation::Softmax => None,
        }
    }

    /// Whether each output depends on its own input alone (every activation but softmax).
    pub fn is_elementwise(self) -> bool {
        self.code().is_some()
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Activation {
    type Err = UnknownActivation;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Ok(a));
        }
        assert_eq!(Activation::from_name(""), Ok(Activation::Linear));
        let e = Activation::from_name("gelu").unwrap_err().to_string();
        assert!(e.contains("gelu") && e.contains("relu"), "{e}");
    }

    #[test]
    fn every_elementwise_activation_has_a_distinct_act_code() {
        let codes: Vec<u32> = Activation::ALL.iter().filter_map(|a| a.code()).collect();
        let family = crate::codes::FAMILIES[0];
        assert_eq!(family.0, "ACT");
        let mut want: Vec<u32> = family.1.iter().map(|m| m.1).collect();
        let mut got = codes.clone();
        want.sort();
        got.sort();
        assert_eq!(
            got, want,
            "each ACT_ code belongs to exactly one activation"
        );
    }
}
