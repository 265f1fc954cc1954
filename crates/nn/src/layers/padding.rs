//! `ZeroPadding2D`: zeros around the height and width of NHWC images (Keras channels_last), as
//! ResNet's `conv1_pad` and `pool1_pad` use it.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use kiln_graph::Tensor;

use crate::error::Result;
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::expect_rank;
use crate::layers::registry::{config_of, typed_config};

/// `ZeroPadding2D`'s settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZeroPadding2DConfig {
    /// ((top, bottom), (left, right)); Keras also accepts `n` and `[h, w]`.
    #[serde(deserialize_with = "keras_padding")]
    pub padding: [[usize; 2]; 2],
}

/// `n`, `[h, w]` or `[[top, bottom], [left, right]]`, as Keras takes them.
fn keras_padding<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<[[usize; 2]; 2], D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(usize),
        Two([usize; 2]),
        Four([[usize; 2]; 2]),
    }
    Ok(
        match Form::deserialize(d).map_err(|_| {
            D::Error::custom("padding must be n, [h, w] or [[top, bottom], [left, right]]")
        })? {
            Form::One(n) => [[n, n], [n, n]],
            Form::Two([h, w]) => [[h, h], [w, w]],
            Form::Four(p) => p,
        },
    )
}

/// Zero padding of the height and width.
pub struct ZeroPadding2D {
    config: ZeroPadding2DConfig,
}

impl ZeroPadding2D {
    /// `n` zeros on every side.
    pub fn new(n: usize) -> Self {
        Self::sides((n, n), (n, n))
    }

    /// (top, bottom) and (left, right) zeros.
    pub fn sides(vertical: (usize, usize), horizontal: (usize, usize)) -> Self {
        ZeroPadding2D {
            config: ZeroPadding2DConfig {
                padding: [[vertical.0, vertical.1], [horizontal.0, horizontal.1]],
            },
        }
    }

    /// From a `get_config()` object.
    pub fn from_config(config: &Value) -> Result<Self> {
        Ok(ZeroPadding2D {
            config: typed_config("ZeroPadding2D", config)?,
        })
    }
}

impl Layer for ZeroPadding2D {
    fn class_name(&self) -> &'static str {
        "ZeroPadding2D"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        expect_rank(
            "ZeroPadding2D",
            input_shape,
            3,
            "images [height, width, channels]",
        )?;
        let [[t, b], [l, r]] = self.config.padding;
        Ok(vec![
            input_shape[0] + t + b,
            input_shape[1] + l + r,
            input_shape[2],
        ])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let [[t, b], [l, r]] = self.config.padding;
        Ok(x.pad(&[(0, 0), (t, b), (l, r), (0, 0)])?)
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}
