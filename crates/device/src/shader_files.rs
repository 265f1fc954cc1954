//! Every WGSL source (`include_str!`, one file per op family under `shaders/`), named by one
//! `ShaderFile` enum (`ShaderFile::ALL` derived from it, so it lists every file by
//! construction). `ShaderFile::source` is the one place shader text is assembled: the constants
//! prelude of `codes.rs`, the file, and the shared files it uses: `activation.wgsl` for the
//! files whose kernels apply activations, `adam.wgsl` for those that make Adam updates,
//! `matmul_tile.wgsl` for the texture matmul files, `wide.wgsl` for those that move f32s as
//! 64-bit words (WGSL has no includes; module-scope order does not matter). The entry points
//! and their bindings are `kernels.rs`.

use strum::VariantArray;

/// One WGSL file under `shaders/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, VariantArray)]
pub enum ShaderFile {
    /// `elementwise.wgsl`
    Elementwise,
    /// `matmul.wgsl`
    Matmul,
    /// `matmul_texture.wgsl` (needs subgroups)
    MatmulTexture,
    /// `matmul_texture32.wgsl` (needs subgroups)
    MatmulTexture32,
    /// `matmul_texture_wide.wgsl` (needs subgroups and 64-bit integers)
    MatmulTextureWide,
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
    /// `batchnorm.wgsl`
    Batchnorm,
    /// `image.wgsl`
    Image,
    /// `bias_grad.wgsl`
    BiasGrad,
    /// `dense_backward.wgsl` (needs subgroups)
    DenseBackward,
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

/// `activation.wgsl`: `activate`, `activate4` and `activate_grad`, appended to the files that
/// use them.
const ACTIVATION: &str = shader!("activation.wgsl");

/// `adam.wgsl`: `adam4`, Keras Adam on 4 elements, appended to the files that use it.
const ADAM: &str = shader!("adam.wgsl");

/// `matmul_tile.wgsl`: the texture matmul's tile machinery, appended to the files whose entries
/// differ only in the tile width they declare or in how they store.
const MATMUL_TILE: &str = shader!("matmul_tile.wgsl");

/// `wide.wgsl`: f32s packed into 64-bit words for storage accesses, appended to the files whose
/// kernels move their values that way (`ShaderFile::needs_int64`).
const WIDE: &str = shader!("wide.wgsl");

impl ShaderFile {
    /// Every shader file.
    pub const ALL: &'static [ShaderFile] = ShaderFile::VARIANTS;

    /// File name under `shaders/`.
    pub fn file_name(self) -> &'static str {
        self.parts().0
    }

    /// The file's name, its own text and the shared files appended to it.
    fn parts(self) -> (&'static str, &'static str, &'static [&'static str]) {
        use ShaderFile as F;
        match self {
            F::Elementwise => (
                "elementwise.wgsl",
                shader!("elementwise.wgsl"),
                &[ACTIVATION],
            ),
            F::Matmul => ("matmul.wgsl", shader!("matmul.wgsl"), &[ACTIVATION]),
            F::MatmulTexture => (
                "matmul_texture.wgsl",
                shader!("matmul_texture.wgsl"),
                &[MATMUL_TILE, ACTIVATION, ADAM],
            ),
            F::MatmulTexture32 => (
                "matmul_texture32.wgsl",
                shader!("matmul_texture32.wgsl"),
                &[MATMUL_TILE, ACTIVATION, ADAM],
            ),
            F::MatmulTextureWide => (
                "matmul_texture_wide.wgsl",
                shader!("matmul_texture_wide.wgsl"),
                &[MATMUL_TILE, ACTIVATION, ADAM, WIDE],
            ),
            F::Reduce => ("reduce.wgsl", shader!("reduce.wgsl"), &[]),
            F::Softmax => ("softmax.wgsl", shader!("softmax.wgsl"), &[]),
            F::Conv2d => ("conv2d.wgsl", shader!("conv2d.wgsl"), &[ACTIVATION]),
            F::Conv2dTexture => (
                "conv2d_texture.wgsl",
                shader!("conv2d_texture.wgsl"),
                &[ACTIVATION],
            ),
            F::Im2col => ("im2col.wgsl", shader!("im2col.wgsl"), &[]),
            F::Pool2d => ("pool2d.wgsl", shader!("pool2d.wgsl"), &[]),
            F::Shape => ("shape.wgsl", shader!("shape.wgsl"), &[]),
            F::Random => ("random.wgsl", shader!("random.wgsl"), &[]),
            F::Fill => ("fill.wgsl", shader!("fill.wgsl"), &[]),
            F::Optim => ("optim.wgsl", shader!("optim.wgsl"), &[ADAM]),
            F::OptimTexture => ("optim_texture.wgsl", shader!("optim_texture.wgsl"), &[]),
            F::Metrics => ("metrics.wgsl", shader!("metrics.wgsl"), &[]),
            F::Batchnorm => ("batchnorm.wgsl", shader!("batchnorm.wgsl"), &[]),
            F::Image => ("image.wgsl", shader!("image.wgsl"), &[]),
            F::BiasGrad => ("bias_grad.wgsl", shader!("bias_grad.wgsl"), &[ACTIVATION]),
            F::DenseBackward => (
                "dense_backward.wgsl",
                shader!("dense_backward.wgsl"),
                &[ACTIVATION, ADAM],
            ),
        }
    }

    /// Whether the file's kernels need 64-bit integers in shaders (`DeviceInfo::shader_int64`):
    /// a module that names u64 does not validate on a device without them, so the launchers
    /// choose these files' kernels only where the device has them.
    pub fn needs_int64(self) -> bool {
        self.parts().2.contains(&WIDE)
    }

    /// The file's wide flavour (`wide_flavor.rs`) of `src`, the module as assembled (or its
    /// texture flavour), or why it has none.
    pub fn wide_flavour_of(self, src: &str) -> std::result::Result<String, String> {
        if self.needs_int64() {
            return Err("its kernels move 64-bit words already".into());
        }
        crate::wide_flavor::wide_flavor(src, WIDE)
    }

    /// The file as written (no prelude): what its header documents.
    pub fn text(self) -> &'static str {
        self.parts().1
    }

    /// The WGSL module as compiled: the `codes.rs` prelude, the file, and the shared files its
    /// kernels use (`activation.wgsl`, `adam.wgsl`, `matmul_tile.wgsl`, `wide.wgsl`).
    pub fn source(self) -> String {
        let (_, text, shared) = self.parts();
        let mut s = String::with_capacity(crate::codes::PRELUDE.len() + text.len() + 4096);
        s.push_str(crate::codes::PRELUDE);
        s.push_str(text);
        for file in shared {
            s.push('\n');
            s.push_str(file);
        }
        s
    }
}
