//! `HpValue`: one hyperparameter's value (an integer, a real, a flag or a string), with the
//! conversions a build function and TensorBoard's HParams records need.

use std::fmt;

use kiln_summary::HParam;
use serde::{Deserialize, Serialize};

/// A hyperparameter value. Serialized as the bare JSON value (`3`, `0.001`, `true`, `"adam"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HpValue {
    /// An integer (`Int`, integer choices).
    Int(i64),
    /// A real number (`Float`, real choices).
    Float(f64),
    /// A flag (`Boolean`).
    Bool(bool),
    /// A string (string choices).
    Str(String),
}

impl HpValue {
    /// Whether both are the same variant.
    pub fn same_type(&self, other: &HpValue) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }

    /// The value as an integer (Int only).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            HpValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a real (Int or Float).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            HpValue::Int(v) => Some(*v as f64),
            HpValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a flag.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            HpValue::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HpValue::Str(v) => Some(v),
            _ => None,
        }
    }

    /// As TensorBoard's HParams tab records it.
    pub fn to_hparam(&self) -> HParam {
        match self {
            HpValue::Int(v) => HParam::Num(*v as f64),
            HpValue::Float(v) => HParam::Num(*v),
            HpValue::Bool(v) => HParam::Bool(*v),
            HpValue::Str(v) => HParam::Str(v.clone()),
        }
    }
}

impl fmt::Display for HpValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HpValue::Int(v) => write!(f, "{v}"),
            HpValue::Float(v) => write!(f, "{v}"),
            HpValue::Bool(v) => write!(f, "{}", if *v { "True" } else { "False" }),
            HpValue::Str(v) => write!(f, "{v}"),
        }
    }
}

impl From<i64> for HpValue {
    fn from(v: i64) -> Self {
        HpValue::Int(v)
    }
}
impl From<i32> for HpValue {
    fn from(v: i32) -> Self {
        HpValue::Int(v as i64)
    }
}
impl From<usize> for HpValue {
    fn from(v: usize) -> Self {
        HpValue::Int(v as i64)
    }
}
impl From<f64> for HpValue {
    fn from(v: f64) -> Self {
        HpValue::Float(v)
    }
}
impl From<f32> for HpValue {
    fn from(v: f32) -> Self {
        HpValue::Float(v as f64)
    }
}
impl From<bool> for HpValue {
    fn from(v: bool) -> Self {
        HpValue::Bool(v)
    }
}
impl From<&str> for HpValue {
    fn from(v: &str) -> Self {
        HpValue::Str(v.into())
    }
}
impl From<String> for HpValue {
    fn from(v: String) -> Self {
        HpValue::Str(v)
    }
}
