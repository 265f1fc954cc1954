//! Launcher for `shaders/matmul.wgsl`: batched C = op(A) x op(B) with transpose flags, in one of
//! two kernel designs picked by adapter type (register tiles on CPU adapters, shared-memory
//! tiles on GPUs; the README's matmul table has the figures behind the choice).

use crate::buffer::GpuBuffer;
use crate::context::Device;
use crate::error::{Result, launch_err};
use crate::kernels::Kernel;
use crate::ops::{fits_u32, need};

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

/// Kernel design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulVariant {
    /// The adapter type decides (CPU adapter: `RegisterTile`, otherwise `SharedTiles`).
    Auto,
    /// `matmul_regtile`: 16x8 outputs per invocation, 8-invocation workgroups.
    RegisterTile,
    /// `matmul_tiled`: 64x64 block per 16x16 workgroup through shared-memory panels.
    SharedTiles,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    batch: u32,
    trans_a: u32,
    trans_b: u32,
    a_batch_stride: u32,
    b_batch_stride: u32,
    c_batch_stride: u32,
    _pad: [u32; 3],
}

/// C = op(A) x op(B) with the design chosen for this adapter.
pub fn matmul(
    dev: &Device,
    a: &GpuBuffer,
    b: &GpuBuffer,
    c: &GpuBuffer,
    d: &MatmulDims,
) -> Result<()> {
    matmul_with(dev, MatmulVariant::Auto, a, b, c, d)
}

/// C = op(A) x op(B) with an explicit kernel design (benchmarks and tests compare them).
pub fn matmul_with(
    dev: &Device,
    variant: MatmulVariant,
    a: &GpuBuffer,
    b: &GpuBuffer,
    c: &GpuBuffer,
    d: &MatmulDims,
) -> Result<()> {
    let op = "matmul";
    let last = |stride: usize, size: usize| {
        if d.batch == 0 {
            0
        } else {
            (d.batch - 1) * stride + size
        }
    };
    need(op, "a", a, last(d.a_batch_stride, d.m * d.k))?;
    need(op, "b", b, last(d.b_batch_stride, d.k * d.n))?;
    need(op, "c", c, d.batch * d.m * d.n)?;
    fits_u32(op, d.batch * d.m * d.n)?;
    fits_u32(
        op,
        last(d.a_batch_stride, d.m * d.k).max(last(d.b_batch_stride, d.k * d.n)),
    )?;
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
        // An empty inner dimension: C is all zeros.
        return dev.copy(
            &dev.zeros(c.bytes())?,
            0,
            c,
            0,
            (d.batch * d.m * d.n * 4) as u64,
        );
    }
    let p = MatmulParams {
        m: d.m as u32,
        n: d.n as u32,
        k: d.k as u32,
        batch: d.batch as u32,
        trans_a: u32::from(d.trans_a),
        trans_b: u32::from(d.trans_b),
        a_batch_stride: d.a_batch_stride as u32,
        b_batch_stride: d.b_batch_stride as u32,
        c_batch_stride: (d.m * d.n) as u32,
        _pad: [0; 3],
    };
    let variant = match variant {
        MatmulVariant::Auto if dev.info().is_cpu() => MatmulVariant::RegisterTile,
        MatmulVariant::Auto => MatmulVariant::SharedTiles,
        v => v,
    };
    let (kernel, groups) = match variant {
        MatmulVariant::RegisterTile => {
            (Kernel::MatmulRegtile, [d.n.div_ceil(64), d.m.div_ceil(16)])
        }
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
    dev.dispatch(
        kernel,
        &p,
        &[a, b, c],
        [groups[0] as u32, groups[1] as u32, d.batch as u32],
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_wgsl_layout() {
        assert_eq!(std::mem::size_of::<super::MatmulParams>(), 48);
    }
}
