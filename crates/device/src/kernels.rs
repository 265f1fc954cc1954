//! Every compute entry point, named by one `Kernel` enum, with its WGSL file and the binding
//! signature it expects:
//! binding 0 is the params uniform (dynamic offset into the batch's params arena), then
//! `inputs` read-only storage buffers (or textures, for `texture_inputs` kernels), then
//! `outputs` read-write storage buffers. `Kernel::ALL` is derived from the enum
//! (`strum::VariantArray`), so it lists every variant by construction. The WGSL files
//! themselves, and where their text is assembled, are `shader_files.rs`.

use strum::VariantArray;

pub use crate::shader_files::ShaderFile;

/// One compute entry point. The variant is the UpperCamel form of the WGSL function name.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, VariantArray)]
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
    MatmulTextureTnAdam,
    MatmulTextureTnAdamWide,
    MatmulTextureNt,
    MatmulTextureNt4,
    MatmulTextureTt,
    MatmulTextureNarrow,
    MatmulTextureNn32,
    MatmulTextureTn32,
    MatmulTextureNt32,
    MatmulTextureTt32,
    Reduce,
    ReduceRows,
    Argmax,
    ReduceBackward,
    SumToShape,
    Softmax,
    SoftmaxBackward,
    SoftmaxXentSparse,
    SoftmaxXentDense,
    SoftmaxXentSparseBackward,
    SoftmaxXentDenseBackward,
    SoftmaxXentMeanSparse,
    SoftmaxXentMeanDense,
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
    MaxPool2dBackwardScatter4,
    AvgPool2d,
    AvgPool2dBackward,
    StridedCopy,
    GatherRows,
    GatherRows4,
    Dropout,
    Fill,
    SgdStep,
    AdamStep,
    AdamStep4,
    AdamStepTexture,
    RmspropStep,
    CorrectSparse,
    CorrectDense,
    CorrectBinary,
    AccumulateMean,
    ConfusionUpdate,
    BnStats,
    BnNormalize,
    BnBackwardReduce,
    BnBackwardDx,
    BnMovingUpdate,
    WarpAffine,
    ActBiasBackward4,
    DenseBackward,
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
    /// A kernel written for textures: its inputs are always 2-D f32 staging textures.
    pub texture_inputs: bool,
    /// Whether the launch may run the texture flavour of this storage-buffer kernel (inputs
    /// copied to staging textures, `texture_flavor.rs`). False where copying the inputs costs
    /// more than texel fetches save: the kernel reads a small part of a large input (a batch
    /// gathered from a whole dataset), or streams its inputs, reading each element once in
    /// lane order (max-pooling, the activation and bias gradient, the pooling gradient's
    /// scatter, the column matrix of a 1-channel image; measured on lavapipe, README: the
    /// kernels as fast or faster from storage buffers, and the CNN step without 8 MB of
    /// copies).
    pub stageable: bool,
}

/// Which form a kernel's entry takes: storage inputs (`S`), never staged (`U`, see
/// `KernelSpec::stageable`), or written for textures (`T`).
#[derive(Clone, Copy)]
enum Form {
    S,
    U,
    T,
}

const fn spec(file: ShaderFile, entry_point: &'static str, io: (u32, u32), f: Form) -> KernelSpec {
    KernelSpec {
        file,
        entry_point,
        inputs: io.0,
        outputs: io.1,
        texture_inputs: matches!(f, Form::T),
        stageable: matches!(f, Form::S),
    }
}

impl Kernel {
    /// Every kernel.
    pub const ALL: &'static [Kernel] = Kernel::VARIANTS;

    /// Source file, entry point and binding signature.
    pub fn spec(self) -> KernelSpec {
        use Form::{S, T, U};
        use Kernel::*;
        use ShaderFile as F;
        let (file, entry, io, form) = match self {
            Unary => (F::Elementwise, "unary", (1, 1), S),
            Unary4 => (F::Elementwise, "unary4", (1, 1), S),
            UnaryBackward => (F::Elementwise, "unary_backward", (3, 1), S),
            UnaryBackward4 => (F::Elementwise, "unary_backward4", (3, 1), S),
            Binary => (F::Elementwise, "binary", (2, 1), S),
            BinaryBackward => (F::Elementwise, "binary_backward", (3, 1), S),
            Accumulate => (F::Elementwise, "accumulate", (1, 1), S),
            MatmulRegtile => (F::Matmul, "matmul_regtile", (3, 1), S),
            MatmulTiled => (F::Matmul, "matmul_tiled", (3, 1), S),
            MatmulTextureNn => (F::MatmulTexture, "matmul_texture_nn", (3, 1), T),
            MatmulTextureTn => (F::MatmulTexture, "matmul_texture_tn", (3, 1), T),
            MatmulTextureTnAdam => (F::MatmulTexture, "matmul_texture_tn_adam", (2, 3), T),
            MatmulTextureTnAdamWide => (
                F::MatmulTextureWide,
                "matmul_texture_tn_adam_wide",
                (2, 3),
                T,
            ),
            MatmulTextureNt => (F::MatmulTexture, "matmul_texture_nt", (3, 1), T),
            MatmulTextureNt4 => (F::MatmulTexture, "matmul_texture_nt4", (3, 1), T),
            MatmulTextureTt => (F::MatmulTexture, "matmul_texture_tt", (3, 1), T),
            MatmulTextureNarrow => (F::MatmulTexture, "matmul_texture_narrow", (3, 1), T),
            MatmulTextureNn32 => (F::MatmulTexture32, "matmul_texture_nn32", (3, 1), T),
            MatmulTextureTn32 => (F::MatmulTexture32, "matmul_texture_tn32", (3, 1), T),
            MatmulTextureNt32 => (F::MatmulTexture32, "matmul_texture_nt32", (3, 1), T),
            MatmulTextureTt32 => (F::MatmulTexture32, "matmul_texture_tt32", (3, 1), T),
            Reduce => (F::Reduce, "reduce", (1, 1), S),
            ReduceRows => (F::Reduce, "reduce_rows", (1, 1), S),
            Argmax => (F::Reduce, "argmax", (1, 1), S),
            ReduceBackward => (F::Reduce, "reduce_backward", (2, 1), S),
            SumToShape => (F::Reduce, "sum_to_shape", (1, 1), S),
            Softmax => (F::Softmax, "softmax", (1, 1), S),
            SoftmaxBackward => (F::Softmax, "softmax_backward", (2, 1), S),
            SoftmaxXentSparse => (F::Softmax, "softmax_xent_sparse", (2, 2), S),
            SoftmaxXentDense => (F::Softmax, "softmax_xent_dense", (2, 2), S),
            SoftmaxXentSparseBackward => (F::Softmax, "softmax_xent_sparse_backward", (3, 1), S),
            SoftmaxXentDenseBackward => (F::Softmax, "softmax_xent_dense_backward", (3, 1), S),
            SoftmaxXentMeanSparse => (F::Softmax, "softmax_xent_mean_sparse", (3, 4), S),
            SoftmaxXentMeanDense => (F::Softmax, "softmax_xent_mean_dense", (3, 4), S),
            Conv2d => (F::Conv2d, "conv2d", (3, 1), S),
            Conv2dBackwardInput => (F::Conv2d, "conv2d_backward_input", (2, 1), S),
            Conv2dBackwardWeight => (F::Conv2d, "conv2d_backward_weight", (2, 1), S),
            Conv2dTexture => (F::Conv2dTexture, "conv2d_texture", (3, 1), T),
            Conv2dBackwardWeightTexture => (
                F::Conv2dTexture,
                "conv2d_backward_weight_texture",
                (2, 1),
                T,
            ),
            Im2col => (F::Im2col, "im2col", (1, 1), U),
            Im2col4 => (F::Im2col, "im2col4", (1, 1), S),
            Col2im => (F::Im2col, "col2im", (1, 1), S),
            Col2im4 => (F::Im2col, "col2im4", (1, 1), S),
            MaxPool2d => (F::Pool2d, "max_pool2d", (1, 2), S),
            MaxPool2d4 => (F::Pool2d, "max_pool2d4", (1, 2), U),
            MaxPool2dBackward => (F::Pool2d, "max_pool2d_backward", (2, 1), S),
            MaxPool2dBackwardScatter => (F::Pool2d, "max_pool2d_backward_scatter", (2, 1), U),
            MaxPool2dBackwardScatter4 => (F::Pool2d, "max_pool2d_backward_scatter4", (2, 1), U),
            AvgPool2d => (F::Pool2d, "avg_pool2d", (1, 1), S),
            AvgPool2dBackward => (F::Pool2d, "avg_pool2d_backward", (1, 1), S),
            StridedCopy => (F::Shape, "strided_copy", (1, 1), S),
            GatherRows => (F::Shape, "gather_rows", (5, 1), U),
            GatherRows4 => (F::Shape, "gather_rows4", (5, 1), U),
            Dropout => (F::Random, "dropout", (1, 2), S),
            Fill => (F::Fill, "fill", (0, 1), S),
            SgdStep => (F::Optim, "sgd_step", (1, 2), S),
            AdamStep => (F::Optim, "adam_step", (1, 3), S),
            AdamStep4 => (F::Optim, "adam_step4", (1, 3), U),
            AdamStepTexture => (F::OptimTexture, "adam_step_texture", (4, 3), T),
            RmspropStep => (F::Optim, "rmsprop_step", (1, 4), S),
            CorrectSparse => (F::Metrics, "correct_sparse", (2, 1), S),
            CorrectDense => (F::Metrics, "correct_dense", (2, 1), S),
            CorrectBinary => (F::Metrics, "correct_binary", (2, 1), S),
            AccumulateMean => (F::Metrics, "accumulate_mean", (1, 1), S),
            ConfusionUpdate => (F::Metrics, "confusion_update", (2, 1), S),
            BnStats => (F::Batchnorm, "bn_stats", (1, 1), S),
            BnNormalize => (F::Batchnorm, "bn_normalize", (4, 1), S),
            BnBackwardReduce => (F::Batchnorm, "bn_backward_reduce", (3, 1), S),
            BnBackwardDx => (F::Batchnorm, "bn_backward_dx", (5, 1), S),
            BnMovingUpdate => (F::Batchnorm, "bn_moving_update", (1, 1), S),
            WarpAffine => (F::Image, "warp_affine", (2, 1), S),
            ActBiasBackward4 => (F::BiasGrad, "act_bias_backward4", (2, 2), U),
            DenseBackward => (F::DenseBackward, "dense_backward", (4, 4), T),
        };
        spec(file, entry, io, form)
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
    fn every_entry_point_is_named_once() {
        let mut seen = std::collections::HashSet::new();
        for k in Kernel::ALL {
            assert!(seen.insert(k.entry_point()), "{k:?} shares its entry point");
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
