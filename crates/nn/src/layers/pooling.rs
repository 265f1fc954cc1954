//! Pooling layers: MaxPooling2D, AveragePooling2D (TensorFlow's padding rules) and
//! GlobalAveragePooling2D.

use kiln_graph::{Padding, Tensor};

use crate::error::{NnError, Result};
use crate::layer::{BuildCtx, CallCtx, Layer};
use crate::layers::conv::parse_padding;
use crate::layers::expect_rank;

/// Window, strides and padding shared by the two windowed pools.
#[derive(Clone, Copy, Debug)]
struct Window {
    pool: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
}

impl Window {
    fn output(&self, class: &str, input_shape: &[usize]) -> Result<Vec<usize>> {
        expect_rank(class, input_shape, 3, "images [height, width, channels]")?;
        let d = kiln_device::ops::pool2d::Pool2dDims {
            n: 1,
            h: input_shape[0],
            w: input_shape[1],
            c: input_shape[2],
            ph: self.pool.0,
            pw: self.pool.1,
            sh: self.strides.0,
            sw: self.strides.1,
            padding: self.padding,
        };
        let (oh, ow, _, _) = d.output().ok_or_else(|| {
            NnError::Config(format!(
                "{class}: a {:?} window with strides {:?} does not fit input {input_shape:?}",
                self.pool, self.strides
            ))
        })?;
        Ok(vec![oh, ow, input_shape[2]])
    }

    fn config(&self) -> Vec<(String, String)> {
        vec![
            ("pool_size".into(), format!("{:?}", self.pool)),
            ("strides".into(), format!("{:?}", self.strides)),
            (
                "padding".into(),
                format!("{:?}", self.padding).to_lowercase(),
            ),
        ]
    }
}

/// Max (`MAX = true`) or average pooling over windows of an NHWC image. Use the Keras names
/// `MaxPooling2D` and `AveragePooling2D`.
pub struct Pool2D<const MAX: bool> {
    window: Window,
}

/// Max pooling; padded cells never win.
pub type MaxPooling2D = Pool2D<true>;
/// Average pooling; padded cells are not counted.
pub type AveragePooling2D = Pool2D<false>;

impl<const MAX: bool> Pool2D<MAX> {
    /// Square window of `pool_size`, strides equal to the window, 'valid' padding.
    pub fn new(pool_size: usize) -> Self {
        Self {
            window: Window {
                pool: (pool_size, pool_size),
                strides: (pool_size, pool_size),
                padding: Padding::Valid,
            },
        }
    }

    /// Strides (Keras default: the pool size).
    pub fn strides(mut self, sh: usize, sw: usize) -> Self {
        self.window.strides = (sh, sw);
        self
    }

    /// "valid" or "same".
    pub fn padding(mut self, name: &str) -> Result<Self> {
        self.window.padding = parse_padding(name)?;
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
        self.window.output(self.class_name(), input_shape)
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        let w = &self.window;
        Ok(if MAX {
            x.max_pool2d(w.pool, w.strides, w.padding)?
        } else {
            x.avg_pool2d(w.pool, w.strides, w.padding)?
        })
    }

    fn config(&self) -> Vec<(String, String)> {
        self.window.config()
    }
}

/// Mean over height and width: [n, h, w, c] -> [n, c].
#[derive(Default)]
pub struct GlobalAveragePooling2D;

impl GlobalAveragePooling2D {
    /// The layer.
    pub fn new() -> Self {
        Self
    }
}

impl Layer for GlobalAveragePooling2D {
    fn class_name(&self) -> &'static str {
        "GlobalAveragePooling2D"
    }

    fn build(&mut self, input_shape: &[usize], _ctx: &mut BuildCtx<'_>) -> Result<Vec<usize>> {
        expect_rank(
            "GlobalAveragePooling2D",
            input_shape,
            3,
            "images [height, width, channels]",
        )?;
        Ok(vec![input_shape[2]])
    }

    fn call(&self, x: &Tensor, _ctx: &CallCtx) -> Result<Tensor> {
        Ok(x.global_avg_pool2d()?)
    }
}
