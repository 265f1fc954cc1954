//! Launcher for `shaders/matmul.wgsl` and `shaders/matmul_texture.wgsl` (`matmul_texture32.wgsl`
//! for results of at most 32 columns): batched
//! C = act(op(A) x op(B) + bias) with transpose flags, in one of four kernel designs. The rule
//! (unless the device measures, `Device::choose`): on CPU adapters with subgroups, a row per
//! invocation for results of at most 16 columns (narrow), else operands staged in textures when
//! their contiguous dimensions are multiples of 4, else register tiles on storage buffers; on
//! GPUs, shared-memory tiles. The README's matmul table has the figures
//! behind it. The optional epilogue adds a bias per column and applies an elementwise
//! activation before the single store (a Dense layer in one dispatch).

use crate::activation::Activation;
use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::kernels::Kernel;
use crate::launch::{InputPath, Launch};
use crate::ops::matmul_empty::empty_inner;
use crate::ops::optim::AdamScalars;
use crate::ops::{epilogue_code, exceeds_texture, fits_u32, need, no_subgroups};
use crate::overrides::Overrides;

/// The product to compute. Operands are stored row-major: A as [m, k] (or [k, m] when
/// `trans_a`), B as [k, n] (or [n, k] when `trans_b`), C as [m, n]; batch `i` starts at
/// `i * *_batch_stride` elements (a stride of 0 shares the operand across the batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    /// Rows of C.
    pub m: usize,
    /// Columns of C.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// Number of products.
    pub batch: usize,
    /// A is stored transposed.
    pub trans_a: bool,
    /// B is stored transposed.
    pub trans_b: bool,
    /// Elements between consecutive A matrices.
    pub a_batch_stride: usize,
    /// Elements between consecutive B matrices.
    pub b_batch_stride: usize,
}

impl MatmulDims {
    /// A single (unbatched) product.
    pub fn new(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
        Self {
            m,
            n,
            k,
            batch: 1,
            trans_a,
            trans_b,
            a_batch_stride: 0,
            b_batch_stride: 0,
        }
    }

    /// Floating-point operations (2 m n k per product).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64 * self.batch as f64
    }
}

/// The widest result the texture design computes in 32-column blocks (`matmul_texture32.wgsl`).
const BLOCK32: usize = 32;

/// Rows of C per workgroup in the texture design (`ROWS` in `matmul_tile.wgsl`), also passed
/// as `tile_rows`: the shader's store loops take their bound from it at run time, which keeps
/// Mesa from unrolling them (the shader says why).
pub(crate) const TEXTURE_ROWS: usize = 32;

/// Kernel design.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatmulVariant {
    /// Measured per shape class where the device autotunes (GPUs by default, see
    /// `Device::autotunes`); otherwise the rule: on CPU adapters `Texture` where it applies,
    /// else `RegisterTile`; on GPUs `SharedTiles`. The storage designs then read their inputs
    /// as the device's `TextureInputs` policy says.
    #[default]
    Auto,
    /// `matmul_texture_*`: operands copied into textures, 32x64 block per subgroup (32x32,
    /// `matmul_texture32.wgsl`, for results of at most 32 columns). Needs subgroups and
    /// contiguous dimensions that are multiples of 4 (see `texture_support`).
    Texture,
    /// `matmul_regtile`: 16x8 outputs per invocation, 8-invocation workgroups, inputs read
    /// from storage buffers.
    RegisterTile,
    /// `matmul_tiled`: 64x64 block per 16x16 workgroup through shared-memory panels, inputs
    /// read from storage buffers.
    SharedTiles,
    /// `matmul_texture_narrow`: results of at most 16 columns (a classifier head), a row per
    /// invocation, operands in textures read element by element (any layout and alignment).
    /// Needs subgroups (see `narrow_support`).
    Narrow,
}

impl MatmulVariant {
    /// Short name (autotune cache entries, benchmark columns).
    pub fn name(self) -> &'static str {
        match self {
            MatmulVariant::Auto => "auto",
            MatmulVariant::Texture => "texture",
            MatmulVariant::RegisterTile => "register tile",
            MatmulVariant::SharedTiles => "shared tiles",
            MatmulVariant::Narrow => "narrow",
        }
    }
}

/// WGSL `MatmulParams`; `adam` is read only by the fused weight-gradient update
/// (`matmul_adam.rs`).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    trans_a: u32,
    trans_b: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    c_batch_stride: u32,
    has_bias: u32,
    act: u32,
    tile_rows: u32,
    pub(crate) adam: AdamScalars,
}

impl MatmulParams {
    /// The params of product `d` with an epilogue of `act` (a code) and a bias when `has_bias`.
    pub(crate) fn new(d: &MatmulDims, has_bias: bool, act: u32) -> Self {
        MatmulParams {
            m: d.m as u32,
            n: d.n as u32,
            k: d.k as u32,
            batch: d.batch as u32,
            trans_a: u32::from(d.trans_a),
            trans_b: u32::from(d.trans_b),
            a_batch_stride: d.a_batch_stride as u32,
            b_batch_stride: d.b_batch_stride as u32,
            c_batch_stride: (d.m * d.n) as u32,
            has_bias: u32::from(has_bias),
            act,
            tile_rows: TEXTURE_ROWS as u32,
            adam: AdamScalars::default(),
        }
    }
}

/// Why the texture design cannot run this product on `dev`, or `None` when it can: it needs
/// subgroups (`DeviceInfo::subgroups`), each operand's contiguous dimension a multiple of 4 (so
/// rows start on texel boundaries), batch strides a multiple of 4, and operands that fit the
/// adapter's texture height.
pub fn texture_support(dev: &Device, d: &MatmulDims) -> Option<String> {
    if let Some(why) = no_subgroups(dev) {
        return Some(why);
    }
    let (a_inner, b_inner) = (
        if d.trans_a { d.m } else { d.k },
        if d.trans_b { d.k } else { d.n },
    );
    if a_inner % 4 != 0 || b_inner % 4 != 0 {
        return Some(format!(
            "contiguous dimensions {a_inner} (A) and {b_inner} (B) must be multiples of 4"
        ));
    }
    if d.batch > 1 && (d.a_batch_stride % 4 != 0 || d.b_batch_stride % 4 != 0) {
        return Some("batch strides must be multiples of 4".into());
    }
    texture_rows_fit(dev, d)
}

/// Why an operand of `d` would not fit a staging texture, or `None` when both do.
pub(crate) fn texture_rows_fit(dev: &Device, d: &MatmulDims) -> Option<String> {
    let words = |stride: usize, size: usize| (d.batch.max(1) - 1) * stride + size;
    let largest = words(d.a_batch_stride, d.m * d.k).max(words(d.b_batch_stride, d.k * d.n));
    exceeds_texture(dev, largest)
}

/// Widest result the narrow design takes.
pub const NARROW_MAX_N: usize = 16;

/// Why the narrow design cannot run this product on `dev`, or `None` when it can: subgroups of
/// at least 8 invocations, at most `NARROW_MAX_N` columns, operands that fit a texture.
pub fn narrow_support(dev: &Device, d: &MatmulDims) -> Option<String> {
    if let Some(why) = no_subgroups(dev) {
        return Some(why);
    }
    if d.n > NARROW_MAX_N {
        return Some(format!("{} columns, more than {NARROW_MAX_N}", d.n));
    }
    texture_rows_fit(dev, d)
}

/// What a matmul does besides the product: the epilogue (add `bias[column]`, then `act`, before
/// the store) and the design.
#[derive(Clone, Copy, Debug, Default)]
pub struct MatmulOptions<'a> {
    /// One value per column of C (n values), added to every row.
    pub bias: Option<&'a GpuBuffer>,
    /// Applied after the bias (an elementwise activation).
    pub act: Activation,
    /// The kernel design (`Auto` by default).
    pub variant: MatmulVariant,
}

/// C = act(op(A) x op(B) + bias), as `o` says.
pub fn matmul(
    dev: &Device,
    a: &GpuBuffer,
    b: &GpuBuffer,
    c: &GpuBuffer,
    d: &MatmulDims,
    o: &MatmulOptions<'_>,
) -> Result<()> {
    let op = "matmul";
    let act = epilogue_code(op, o.act)?;
    if let Some(bias) = o.bias {
        need(op, "bias", bias, d.n)?;
    }
    let last = |stride: usize, size: usize| {
        if d.batch == 0 {
            0
        } else {
            (d.batch - 1) * stride + size
        }
    };
    let (a_words, b_words) = (
        last(d.a_batch_stride, d.m * d.k),
        last(d.b_batch_stride, d.k * d.n),
    );
    need(op, "a", a, a_words)?;
    need(op, "b", b, b_words)?;
    need(op, "c", c, d.batch * d.m * d.n)?;
    fits_u32(op, d.batch * d.m * d.n)?;
    fits_u32(op, a_words.max(b_words))?;
    if d.batch > 65_535 {
        return Err(launch_err(
            op,
            format!("batch of {} products exceeds 65,535", d.batch),
        ));
    }
    if d.m == 0 || d.n == 0 || d.batch == 0 {
        return Ok(());
    }
    if d.k == 0 {
        return empty_inner(dev, c, (d.batch * d.m, d.n), o.bias, o.act);
    }
    let p = MatmulParams::new(d, o.bias.is_some(), act);
    let variant = match o.variant {
        MatmulVariant::Auto => auto_variant(dev, a, b, c, d, o)?,
        MatmulVariant::Texture => match texture_support(dev, d) {
            None => MatmulVariant::Texture,
            Some(why) => return Err(launch_err(op, format!("texture design: {why}"))),
        },
        MatmulVariant::Narrow => match narrow_support(dev, d) {
            None => MatmulVariant::Narrow,
            Some(why) => return Err(launch_err(op, format!("narrow design: {why}"))),
        },
        v => v,
    };
    let (kernel, groups) = match variant {
        MatmulVariant::RegisterTile => {
            (Kernel::MatmulRegtile, [d.n.div_ceil(64), d.m.div_ceil(16)])
        }
        // At most 32 columns: 32-column blocks, so no lane is left without a column.
        MatmulVariant::Texture if d.n <= BLOCK32 => {
            let kernel = match (d.trans_a, d.trans_b) {
                (false, false) => Kernel::MatmulTextureNn32,
                (true, false) => Kernel::MatmulTextureTn32,
                (false, true) => Kernel::MatmulTextureNt32,
                (true, true) => Kernel::MatmulTextureTt32,
            };
            (kernel, [d.n.div_ceil(BLOCK32), d.m.div_ceil(TEXTURE_ROWS)])
        }
        MatmulVariant::Texture => {
            let kernel = match (d.trans_a, d.trans_b) {
                (false, false) => Kernel::MatmulTextureNn,
                (true, false) => Kernel::MatmulTextureTn,
                // C's rows then split into vec4s (matmul_texture.wgsl).
                (false, true) if d.n % 4 == 0 => Kernel::MatmulTextureNt4,
                (false, true) => Kernel::MatmulTextureNt,
                (true, true) => Kernel::MatmulTextureTt,
            };
            (kernel, [d.n.div_ceil(64), d.m.div_ceil(TEXTURE_ROWS)])
        }
        MatmulVariant::Narrow => (Kernel::MatmulTextureNarrow, [1, d.m.div_ceil(8)]),
        _ => (Kernel::MatmulTiled, [d.n.div_ceil(64), d.m.div_ceil(64)]),
    };
    let max = dev.info().max_compute_workgroups_per_dimension as usize;
    if groups.iter().any(|&g| g > max) {
        return Err(launch_err(
            op,
            format!(
                "a {}x{} result needs more than {max} workgroups per dimension",
                d.m, d.n
            ),
        ));
    }
    let groups = [groups[0] as u32, groups[1] as u32, d.batch as u32];
    // Without a bias the kernel never reads binding 3: A stands in, and the texture design
    // stages none of it.
    let buffers = [a, b, o.bias.unwrap_or(a), c];
    let words = [a_words, b_words, o.bias.map_or(0, |_| d.n)];
    // An explicit storage design reads storage buffers; `Auto` follows the device's policy.
    let path = match o.variant {
        MatmulVariant::Auto => InputPath::Auto,
        _ => InputPath::Buffers,
    };
    // The texture design's epilogue is fixed per pipeline (`overrides.rs`); the other designs
    // read it from the params.
    let overrides = match variant {
        MatmulVariant::Texture => Overrides::epilogue(act, o.bias.is_some()),
        _ => Overrides::default(),
    };
    let launch = Launch::new(kernel, &p, &buffers, groups)
        .path(path)
        .overrides(overrides);
    let textures = matches!(variant, MatmulVariant::Texture | MatmulVariant::Narrow);
    dev.launch(&launch.input_words(if textures { &words } else { &[] }))
}

/// The design for `d` when none was given: the rule's, or the measured one for `d`'s shape
/// class (layout, each dimension rounded up to a power of two, batched or not) where the device
/// autotunes. Candidates run into a scratch output, so `c` is written only once.
fn auto_variant(
    dev: &Device,
    a: &GpuBuffer,
    b: &GpuBuffer,
    c: &GpuBuffer,
    d: &MatmulDims,
    o: &MatmulOptions<'_>,
) -> Result<MatmulVariant> {
    let cpu = dev.info().is_cpu();
    let mut candidates = Vec::with_capacity(4);
    let texture = texture_support(dev, d).is_none();
    if texture {
        candidates.push((MatmulVariant::Texture, MatmulVariant::Texture.name()));
    }
    // On CPU adapters a result of a few columns leaves most of a 64-column block's lanes idle.
    let narrow = cpu && narrow_support(dev, d).is_none();
    if narrow {
        candidates.push((MatmulVariant::Narrow, MatmulVariant::Narrow.name()));
    }
    candidates.push((
        MatmulVariant::RegisterTile,
        MatmulVariant::RegisterTile.name(),
    ));
    // On CPU adapters every shared-memory barrier is a coroutine switch: the tiled design
    // measured slowest there by far (README), so it is not a candidate.
    if !cpu {
        candidates.push((
            MatmulVariant::SharedTiles,
            MatmulVariant::SharedTiles.name(),
        ));
    }
    let rule = match (cpu, narrow, texture) {
        (true, true, _) => MatmulVariant::Narrow,
        (true, false, true) => MatmulVariant::Texture,
        (true, false, false) => MatmulVariant::RegisterTile,
        (false, _, _) => MatmulVariant::SharedTiles,
    };
    let key = || {
        let t = |on: bool| if on { 't' } else { 'n' };
        format!(
            "matmul {}{} {}x{}x{}{}",
            t(d.trans_a),
            t(d.trans_b),
            d.m.next_power_of_two(),
            d.n.next_power_of_two(),
            d.k.next_power_of_two(),
            if d.batch > 1 { " batched" } else { "" }
        )
    };
    // Allocated only if this class is measured now (not when the choice is known).
    let mut scratch: Option<GpuBuffer> = None;
    dev.choose(key, &candidates, rule, |variant| {
        if scratch.is_none() {
            scratch = Some(dev.alloc(c.bytes())?);
        }
        let out = scratch.as_ref().unwrap_or(c);
        matmul(dev, a, b, out, d, &MatmulOptions { variant, ..*o })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::MatmulParams>(), 80);
    }
}
