//! Pipeline-overridable constants (WGSL `override`) that specialize a kernel per launch.
//!
//! On llvmpipe (Mesa 22.3) both sides of an `if` and every case of a `switch` run, under a lane
//! mask, whether or not the condition is uniform: a product whose epilogue's activation were a
//! runtime parameter would compute sigmoid and tanh for every value it stores, and a product
//! without an epilogue would still run one under a false mask. A constant lets Mesa drop the
//! branches not taken. So a kernel may name overrides (`Overrides::names`) and a launch gives
//! their values (`Launch::overrides`); each distinct set of values is its own pipeline
//! (`pipelines.rs`), made on first use. The users: the texture matmul's epilogue
//! (`matmul_tile.wgsl`), the unary elementwise kernels' op codes, and the index division of
//! im2col and max-pooling (`udiv` in the WGSL prelude, `codes.rs`), which may take f32 division
//! where every dividend is small; README, "What was tried", has the measurements.

use crate::kernels::Kernel;

/// Most overrides a kernel names.
pub const MAX_OVERRIDES: usize = 2;

/// The values of a kernel's overrides, in the order of `Overrides::names`; unnamed slots stay 0.
/// A fixed-size array, so a launch's pipeline lookup allocates nothing. The default is the
/// shader's own defaults (every override there defaults to 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Overrides(pub [u32; MAX_OVERRIDES]);

/// The texture matmul's epilogue (`matmul_tile.wgsl`): the activation code, then 1 with a bias.
const EPILOGUE: &[&str] = &["EPI_ACT", "EPI_BIAS"];

/// The unary elementwise kernels' op code (`elementwise.wgsl`).
const UNARY_OP: &[&str] = &["UNARY_OP"];

/// The prelude's `udiv`: 1 where every dividend is below `SMALL_DIVIDENDS`.
const SMALL_DIV: &[&str] = &["SMALL_DIV"];

/// Below this, `udiv` may divide in f32 and still be exact (the prelude has the bound).
pub const SMALL_DIVIDENDS: usize = 1 << 20;

impl Overrides {
    /// The texture matmul's epilogue: activation `act` (a code of `codes.rs`), a bias or not.
    pub fn epilogue(act: u32, bias: bool) -> Self {
        Overrides([act, u32::from(bias)])
    }

    /// The prelude's index division for a dispatch whose dividends are all below `max_dividend`:
    /// f32 division when that is below `SMALL_DIVIDENDS`, integer division otherwise.
    pub fn small_div(max_dividend: usize) -> Self {
        Overrides([u32::from(max_dividend <= SMALL_DIVIDENDS), 0])
    }

    /// A unary elementwise kernel's op code (`codes.rs`: `ACT_*` or `UNARY_*`).
    pub fn op(code: u32) -> Self {
        Overrides([code, 0])
    }

    /// The WGSL names of `kernel`'s overrides (none for most kernels).
    pub fn names(kernel: Kernel) -> &'static [&'static str] {
        use Kernel::*;
        match kernel {
            MatmulTextureNn | MatmulTextureTn | MatmulTextureNt | MatmulTextureNt4
            | MatmulTextureTt | MatmulTextureNn32 | MatmulTextureTn32 | MatmulTextureNt32
            | MatmulTextureTt32 => EPILOGUE,
            Im2col | Im2col4 | MaxPool2d | MaxPool2d4 => SMALL_DIV,
            Unary | Unary4 | UnaryBackward | UnaryBackward4 => UNARY_OP,
            _ => &[],
        }
    }

    /// Whether `kernel` accepts these values: every nonzero slot is one it names.
    pub fn fit(&self, kernel: Kernel) -> bool {
        let named = Self::names(kernel).len();
        self.0[named..].iter().all(|&v| v == 0)
    }

    /// The pipeline constants for `kernel`, as wgpu takes them.
    pub(crate) fn constants(&self, kernel: Kernel) -> Vec<(&'static str, f64)> {
        Self::names(kernel)
            .iter()
            .zip(self.0)
            .map(|(&name, v)| (name, f64::from(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_array() {
        for &k in Kernel::ALL {
            assert!(Overrides::names(k).len() <= MAX_OVERRIDES, "{k:?}");
        }
    }

    #[test]
    fn small_dividends_only_below_the_bound() {
        assert_eq!(Overrides::small_div(SMALL_DIVIDENDS), Overrides([1, 0]));
        assert_eq!(Overrides::small_div(SMALL_DIVIDENDS + 1), Overrides([0, 0]));
        assert!(Overrides::small_div(10).fit(Kernel::Im2col));
        assert!(!Overrides::small_div(10).fit(Kernel::AdamStep4));
    }

    /// The prelude's f32 quotient, u32((a + 0.5) / b), against integer division for every
    /// dividend below the bound and divisors of every size (f32 division correctly rounded,
    /// as on llvmpipe; the prelude's bound leaves room for Vulkan's 2.5 ulp).
    #[test]
    fn the_f32_quotient_is_exact_below_the_bound() {
        let divisors = (1..=64u32).chain([
            3 * 5 * 7,
            255,
            1000,
            4095,
            65_537,
            999_983,
            (1 << 20) - 1,
            1 << 20,
            u32::MAX,
        ]);
        for b in divisors {
            for a in 0..SMALL_DIVIDENDS as u32 {
                let q = ((a as f32 + 0.5) / b as f32) as u32;
                assert_eq!(q, a / b, "{a} / {b}");
            }
        }
    }

    #[test]
    fn values_only_where_named() {
        let e = Overrides::epilogue(1, true);
        assert!(e.fit(Kernel::MatmulTextureTn));
        assert!(!e.fit(Kernel::AdamStep4));
        assert!(Overrides::default().fit(Kernel::AdamStep4));
        assert_eq!(
            e.constants(Kernel::MatmulTextureNn32),
            vec![("EPI_ACT", 1.0), ("EPI_BIAS", 1.0)]
        );
    }
}
