//! Pooling layers: MaxPooling2D, AveragePooling2D (TensorFlow's padding rules),
//! GlobalAveragePooling2D and GlobalMaxPooling2D.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use kiln_graph::shape_rules::pool2d_output;
use kiln_graph::{Padding, Tensor};

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::conv::parse_padding;
use crate::layers::expect_rank;
use crate::layers::keras_json::{padding, pair};
use crate::layers::registry::{config_of, typed_config};

/// The windowed pools' settings, as Keras's `get_config()` names them.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pool2DConfig {
    /// Window (height, width).
    #[serde(with = "pair")]
    pub pool_size: (usize, usize),
    /// Strides (Keras's default is the window; `get_config` writes them out).
    #[serde(with = "pair")]
    pub strides: (usize, usize),
    /// "valid" or "same".
    #[serde(with = "padding", default)]
    pub padding: Padding,
}

/// Max (`MAX = true`) or average pooling over windows of an NHWC image. Use the Keras names
/// `MaxPooling2D` and `AveragePooling2D`.
pub struct Pool2D<const MAX: bool> {
    config: Pool2DConfig,
}

/// Max pooling; padded cells never win.
pub type MaxPooling2D = Pool2D<true>;
/// Average pooling; padded cells are not counted.
pub type AveragePooling2D = Pool2D<false>;

impl<const MAX: bool> Pool2D<MAX> {
    /// Square window of `pool_size`, strides equal to the window, 'valid' padding.
    pub fn new(pool_size: usize) -> Self {
        Self {
            config: Pool2DConfig {
                pool_size: (pool_size, pool_size),
                strides: (pool_size, pool_size),
                padding: Padding::Valid,
            },
        }
    }

    /// From a `get_config()` object; strides default to the window, as in Keras.
    pub fn from_config(config: &Value) -> Result<Self> {
        let class = if MAX {
            "MaxPooling2D"
        } else {
            "AveragePooling2D"
        };
        let mut v = config.clone();
        if let Some(o) = v.as_object_mut()
            && o.get("strides").is_none_or(Value::is_null)
        {
            let window = o.get("pool_size").cloned().unwrap_or(Value::Null);
            o.insert("strides".into(), window);
        }
        Ok(Self {
            config: typed_config(class, &v)?,
        })
    }

    /// The settings.
    pub fn config(&self) -> &Pool2DConfig {
        &self.config
    }

    /// Strides (Keras default: the pool size).
    pub fn strides(mut self, sh: usize, sw: usize) -> Self {
        self.config.strides = (sh, sw);
        self
    }

    /// "valid" or "same".
    pub fn padding(mut self, name: &str) -> Result<Self> {
        self.config.padding = parse_padding(name)?;
        Ok(self)
    }
}

impl<const MAX: bool> Layer for Pool2D<MAX> {
    fn class_name(&self) -> &'static str {
        if MAX {
            "MaxPooling2D"
        } else {
            "AveragePooling2D"
        }
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let class = self.class_name();
        expect_rank(class, input_shape, 3, "images [height, width, channels]")?;
        let c = &self.config;
        pool2d_output(input_shape, c.pool_size, c.strides, c.padding).ok_or_else(|| {
            NnError::Config(format!(
                "{class}: a {:?} window with strides {:?} does not fit input {input_shape:?}",
                c.pool_size, c.strides
            ))
        })
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let c = &self.config;
        Ok(if MAX {
            x.max_pool2d(c.pool_size, c.strides, c.padding)?
        } else {
            x.avg_pool2d(c.pool_size, c.strides, c.padding)?
        })
    }

    fn get_config(&self) -> Value {
        config_of(&self.config)
    }
}

/// Mean (`MAX = false`) or maximum over height and width: [n, h, w, c] -> [n, c]. Use the Keras
/// names `GlobalAveragePooling2D` and `GlobalMaxPooling2D`.
#[derive(Default)]
pub struct GlobalPool2D<const MAX: bool>;

/// Mean over height and width.
pub type GlobalAveragePooling2D = GlobalPool2D<false>;
/// Maximum over height and width (the gradient goes to each channel's maximum).
pub type GlobalMaxPooling2D = GlobalPool2D<true>;

impl<const MAX: bool> GlobalPool2D<MAX> {
    /// The layer.
    pub fn new() -> Self {
        Self
    }

    /// From a `get_config()` object (it has no settings kiln reads).
    pub fn from_config(_config: &Value) -> Result<Self> {
        Ok(Self)
    }
}

impl<const MAX: bool> Layer for GlobalPool2D<MAX> {
    fn class_name(&self) -> &'static str {
        if MAX {
            "GlobalMaxPooling2D"
        } else {
            "GlobalAveragePooling2D"
        }
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        let class = self.class_name();
        expect_rank(class, input_shape, 3, "images [height, width, channels]")?;
        Ok(vec![input_shape[2]])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        if !MAX {
            return Ok(x.global_avg_pool2d()?);
        }
        let s = x.shape();
        if s.len() != 4 {
            return Err(NnError::Config(format!(
                "GlobalMaxPooling2D needs NHWC input, got {s:?}"
            )));
        }
        Ok(x.reshape(&[s[0], s[1] * s[2], s[3]])?.max(1, false)?)
    }
}
