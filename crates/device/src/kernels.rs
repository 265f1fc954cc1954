//! Every WGSL source (`include_str!`, one file per op family under `shaders/`) and every entry
//! point, named by one `Kernel` enum, with the binding signature each entry point expects:
//! binding 0 is the params uniform (dynamic offset into the batch's params arena), then
//! `inputs` read-only storage buffers (or textures, for `texture_inputs` kernels), then
//! `outputs` read-write storage buffers.

/// One WGSL file under `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShaderFile {
    /// `elementwise.wgsl`
    Elementwise,
    /// `matmul.wgsl`
    Matmul,
    /// `matmul_texture.wgsl` (needs subgroups)
    MatmulTexture,
    /// `reduce.wgsl`
    Reduce,
    /// `softmax.wgsl`
    Softmax,
    /// `conv2d.wgsl`
    Conv2d,
    /// `conv2d_texture.wgsl`
    Conv2dTexture,
    /// `im2col.wgsl`
    Im2col,
    /// `pool2d.wgsl`
    Pool2d,
    /// `shape.wgsl`
    Shape,
    /// `random.wgsl`
    Random,
    /// `fill.wgsl`
    Fill,
    /// `optim.wgsl`
    Optim,
    /// `optim_texture.wgsl`
    OptimTexture,
    /// `metrics.wgsl`
    Metrics,
}

macro_rules! shader {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shaders/",
            $file
        ))
    };
}

/// A file whose kernels end with an activation epilogue: `activation.wgsl` is appended (WGSL
/// has no includes; module-scope order does not matter).
macro_rules! shader_with_activation {
    ($file:literal) => {
        concat!(shader!($file), "\n", shader!("activation.wgsl"))
    };
}

impl ShaderFile {
    /// Every shader file.
    pub const ALL: [ShaderFile; 15] = [
        ShaderFile::Elementwise,
        ShaderFile::Matmul,
        ShaderFile::MatmulTexture,
        ShaderFile::Reduce,
        ShaderFile::Softmax,
        ShaderFile::Conv2d,
        ShaderFile::Conv2dTexture,
        ShaderFile::Im2col,
        ShaderFile::Pool2d,
        ShaderFile::Shape,
        ShaderFile::Random,
        ShaderFile::Fill,
        ShaderFile::Optim,
        ShaderFile::OptimTexture,
        ShaderFile::Metrics,
    ];

    /// File name under `shaders/`.
    pub fn file_name(self) -> &'static str {
        match self {
            ShaderFile::Elementwise => "elementwise.wgsl",
            ShaderFile::Matmul => "matmul.wgsl",
            ShaderFile::MatmulTexture => "matmul_texture.wgsl",
            ShaderFile::Reduce => "reduce.wgsl",
            ShaderFile::Softmax => "softmax.wgsl",
            ShaderFile::Conv2d => "conv2d.wgsl",
            ShaderFile::Conv2dTexture => "conv2d_texture.wgsl",
            ShaderFile::Im2col => "im2col.wgsl",
            ShaderFile::Pool2d => "pool2d.wgsl",
            ShaderFile::Shape => "shape.wgsl",
            ShaderFile::Random => "random.wgsl",
            ShaderFile::Fill => "fill.wgsl",
            ShaderFile::Optim => "optim.wgsl",
            ShaderFile::OptimTexture => "optim_texture.wgsl",
            ShaderFile::Metrics => "metrics.wgsl",
        }
    }

    /// The WGSL source, compiled into the binary.
    pub fn source(self) -> &'static str {
        match self {
            ShaderFile::Elementwise => shader!("elementwise.wgsl"),
            ShaderFile::Matmul => shader_with_activation!("matmul.wgsl"),
            ShaderFile::MatmulTexture => shader_with_activation!("matmul_texture.wgsl"),
            ShaderFile::Reduce => shader!("reduce.wgsl"),
            ShaderFile::Softmax => shader!("softmax.wgsl"),
            ShaderFile::Conv2d => shader_with_activation!("conv2d.wgsl"),
            ShaderFile::Conv2dTexture => shader_with_activation!("conv2d_texture.wgsl"),
            ShaderFile::Im2col => shader!("im2col.wgsl"),
            ShaderFile::Pool2d => shader!("pool2d.wgsl"),
            ShaderFile::Shape => shader!("shape.wgsl"),
            ShaderFile::Random => shader!("random.wgsl"),
            ShaderFile::Fill => shader!("fill.wgsl"),
            ShaderFile::Optim => shader!("optim.wgsl"),
            ShaderFile::OptimTexture => shader!("optim_texture.wgsl"),
            ShaderFile::Metrics => shader!("metrics.wgsl"),
        }
    }
}

/// One compute entry point. The variant is the UpperCamel form of the WGSL function name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    Unary,
    Unary4,
    UnaryBackward,
    UnaryBackward4,
    Binary,
    BinaryBackward,
    Accumulate,
    MatmulRegtile,
    MatmulTiled,
    MatmulTextureNn,
    MatmulTextureTn,
    MatmulTextureNt,
    MatmulTextureTt,
    Reduce,
    Argmax,
    ReduceBackward,
    SumToShape,
    Softmax,
    SoftmaxBackward,
    SoftmaxXentSparse,
    SoftmaxXentDense,
    SoftmaxXentSparseBackward,
    SoftmaxXentDenseBackward,
    Conv2d,
    Conv2dBackwardInput,
    Conv2dBackwardWeight,
    Conv2dTexture,
    Conv2dBackwardWeightTexture,
    Im2col,
    Im2col4,
    Col2im,
    Col2im4,
    MaxPool2d,
    MaxPool2d4,
    MaxPool2dBackward,
    MaxPool2dBackwardScatter,
    AvgPool2d,
    AvgPool2dBackward,
    StridedCopy,
    GatherRows,
    GatherRows4,
    Dropout,
    Fill,
    SgdStep,
    AdamStep,
    AdamStepTexture,
    RmspropStep,
    CorrectSparse,
    CorrectDense,
    CorrectBinary,
    AccumulateMean,
    ConfusionUpdate,
}

/// Where a kernel lives and what it binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSpec {
    /// Source file.
    pub file: ShaderFile,
    /// WGSL entry point.
    pub entry_point: &'static str,
    /// Read-only storage buffers (bindings 1..=inputs).
    pub inputs: u32,
    /// Read-write storage buffers (after the inputs).
    pub outputs: u32,
    /// The inputs are 2-D f32 textures instead of read-only storage buffers.
    pub texture_inputs: bool,
    /// Whether `Device::dispatch` may run the texture flavour (inputs copied to staging
    /// textures) on CPU adapters. False where the kernel reads a small part of a large input,
    /// such as a batch gathered from a whole dataset: copying the input would cost more than
    /// the kernel.
    pub stageable: bool,
}

const fn spec(
    file: ShaderFile,
    entry_point: &'static str,
    inputs: u32,
    outputs: u32,
) -> KernelSpec {
    KernelSpec {
        file,
        entry_point,
        inputs,
        outputs,
        texture_inputs: false,
        stageable: true,
    }
}

/// A kernel that always reads its inputs from storage buffers (see `KernelSpec::stageable`).
const fn unstaged_spec(
    file: ShaderFile,
    entry_point: &'static str,
    inputs: u32,
    outputs: u32,
) -> KernelSpec {
    KernelSpec {
        stageable: false,
        ..spec(file, entry_point, inputs, outputs)
    }
}

/// A kernel reading its `inputs` from staging textures (see `staging_texture.rs`).
const fn texture_spec(
    file: ShaderFile,
    entry_point: &'static str,
    inputs: u32,
    outputs: u32,
) -> KernelSpec {
    KernelSpec {
        texture_inputs: true,
        ..spec(file, entry_point, inputs, outputs)
    }
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 52] = {
        use Kernel::*;
        [
            Unary,
            Unary4,
            UnaryBackward,
            UnaryBackward4,
            Binary,
            BinaryBackward,
            Accumulate,
            MatmulRegtile,
            MatmulTiled,
            MatmulTextureNn,
            MatmulTextureTn,
            MatmulTextureNt,
            MatmulTextureTt,
            Reduce,
            Argmax,
            ReduceBackward,
            SumToShape,
            Softmax,
            SoftmaxBackward,
            SoftmaxXentSparse,
            SoftmaxXentDense,
            SoftmaxXentSparseBackward,
            SoftmaxXentDenseBackward,
            Conv2d,
            Conv2dBackwardInput,
            Conv2dBackwardWeight,
            Conv2dTexture,
            Conv2dBackwardWeightTexture,
            Im2col,
            Im2col4,
            Col2im,
            Col2im4,
            MaxPool2d,
            MaxPool2d4,
            MaxPool2dBackward,
            MaxPool2dBackwardScatter,
            AvgPool2d,
            AvgPool2dBackward,
            StridedCopy,
            GatherRows,
            GatherRows4,
            Dropout,
            Fill,
            SgdStep,
            AdamStep,
            AdamStepTexture,
            RmspropStep,
            CorrectSparse,
            CorrectDense,
            CorrectBinary,
            AccumulateMean,
            ConfusionUpdate,
        ]
    };

    /// Source file, entry point and binding signature.
    pub fn spec(self) -> KernelSpec {
        use Kernel::*;
        use ShaderFile as F;
        match self {
            Unary => spec(F::Elementwise, "unary", 1, 1),
            Unary4 => spec(F::Elementwise, "unary4", 1, 1),
            UnaryBackward => spec(F::Elementwise, "unary_backward", 3, 1),
            UnaryBackward4 => spec(F::Elementwise, "unary_backward4", 3, 1),
            Binary => spec(F::Elementwise, "binary", 2, 1),
            BinaryBackward => spec(F::Elementwise, "binary_backward", 3, 1),
            Accumulate => spec(F::Elementwise, "accumulate", 1, 1),
            MatmulRegtile => spec(F::Matmul, "matmul_regtile", 3, 1),
            MatmulTiled => spec(F::Matmul, "matmul_tiled", 3, 1),
            MatmulTextureNn => texture_spec(F::MatmulTexture, "matmul_texture_nn", 3, 1),
            MatmulTextureTn => texture_spec(F::MatmulTexture, "matmul_texture_tn", 3, 1),
            MatmulTextureNt => texture_spec(F::MatmulTexture, "matmul_texture_nt", 3, 1),
            MatmulTextureTt => texture_spec(F::MatmulTexture, "matmul_texture_tt", 3, 1),
            Reduce => spec(F::Reduce, "reduce", 1, 1),
            Argmax => spec(F::Reduce, "argmax", 1, 1),
            ReduceBackward => spec(F::Reduce, "reduce_backward", 2, 1),
            SumToShape => spec(F::Reduce, "sum_to_shape", 1, 1),
            Softmax => spec(F::Softmax, "softmax", 1, 1),
            SoftmaxBackward => spec(F::Softmax, "softmax_backward", 2, 1),
            SoftmaxXentSparse => spec(F::Softmax, "softmax_xent_sparse", 2, 2),
            SoftmaxXentDense => spec(F::Softmax, "softmax_xent_dense", 2, 2),
            SoftmaxXentSparseBackward => spec(F::Softmax, "softmax_xent_sparse_backward", 3, 1),
            SoftmaxXentDenseBackward => spec(F::Softmax, "softmax_xent_dense_backward", 3, 1),
            Conv2d => spec(F::Conv2d, "conv2d", 3, 1),
            Conv2dBackwardInput => spec(F::Conv2d, "conv2d_backward_input", 2, 1),
            Conv2dBackwardWeight => spec(F::Conv2d, "conv2d_backward_weight", 2, 1),
            Conv2dTexture => texture_spec(F::Conv2dTexture, "conv2d_texture", 3, 1),
            Conv2dBackwardWeightTexture => {
                texture_spec(F::Conv2dTexture, "conv2d_backward_weight_texture", 2, 1)
            }
            Im2col => spec(F::Im2col, "im2col", 1, 1),
            Im2col4 => spec(F::Im2col, "im2col4", 1, 1),
            Col2im => spec(F::Im2col, "col2im", 1, 1),
            Col2im4 => spec(F::Im2col, "col2im4", 1, 1),
            MaxPool2d => spec(F::Pool2d, "max_pool2d", 1, 2),
            MaxPool2d4 => spec(F::Pool2d, "max_pool2d4", 1, 2),
            MaxPool2dBackward => spec(F::Pool2d, "max_pool2d_backward", 2, 1),
            MaxPool2dBackwardScatter => spec(F::Pool2d, "max_pool2d_backward_scatter", 2, 1),
            AvgPool2d => spec(F::Pool2d, "avg_pool2d", 1, 1),
            AvgPool2dBackward => spec(F::Pool2d, "avg_pool2d_backward", 1, 1),
            StridedCopy => spec(F::Shape, "strided_copy", 1, 1),
            GatherRows => unstaged_spec(F::Shape, "gather_rows", 5, 1),
            GatherRows4 => unstaged_spec(F::Shape, "gather_rows4", 5, 1),
            Dropout => spec(F::Random, "dropout", 1, 2),
            Fill => spec(F::Fill, "fill", 0, 1),
            SgdStep => spec(F::Optim, "sgd_step", 1, 2),
            AdamStep => spec(F::Optim, "adam_step", 1, 3),
            AdamStepTexture => texture_spec(F::OptimTexture, "adam_step_texture", 4, 3),
            RmspropStep => spec(F::Optim, "rmsprop_step", 1, 4),
            CorrectSparse => spec(F::Metrics, "correct_sparse", 2, 1),
            CorrectDense => spec(F::Metrics, "correct_dense", 2, 1),
            CorrectBinary => spec(F::Metrics, "correct_binary", 2, 1),
            AccumulateMean => spec(F::Metrics, "accumulate_mean", 1, 1),
            ConfusionUpdate => spec(F::Metrics, "confusion_update", 2, 1),
        }
    }

    /// WGSL entry point name.
    pub fn entry_point(self) -> &'static str {
        self.spec().entry_point
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for k in Kernel::ALL {
            assert!(seen.insert(k.entry_point()), "{k:?} listed twice");
        }
    }

    #[test]
    fn entry_points_are_snake_case_of_the_variant() {
        for k in Kernel::ALL {
            let camel: String = k
                .entry_point()
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            assert_eq!(camel, format!("{k:?}"));
        }
    }
}
