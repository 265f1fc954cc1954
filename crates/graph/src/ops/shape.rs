//! Layout ops: reshape (no copy), permute, slice and concat (strided copies), and the row gather
//! that makes a batch from a dataset kept on the GPU.

use kiln_device::ops::contiguous_strides;
use kiln_device::ops::shape::{GATHER_CHUNKS, StridedView, gather_rows, strided_copy};

use crate::error::{Result, shape_err};
use crate::op::Op;
use crate::ops::alloc;
use crate::tensor::{DType, Tensor};

fn contiguous(shape: &[usize]) -> StridedView {
    StridedView {
        offset: 0,
        strides: contiguous_strides(shape),
    }
}

/// Whether `chunks` can be one row table: 1 to `GATHER_CHUNKS` tensors of one dtype and rank at
/// least 1, equal rows, each but the last with the first one's row count (the last may hold
/// fewer).
pub(crate) fn chunks_agree(chunks: &[Tensor]) -> bool {
    let Some(first) = chunks.first() else {
        return false;
    };
    let s = first.shape();
    let last = chunks.len() - 1;
    !s.is_empty()
        && chunks.len() <= GATHER_CHUNKS
        && chunks.iter().enumerate().all(|(i, c)| {
            let cs = c.shape();
            c.dtype() == first.dtype()
                && cs.len() == s.len()
                && cs[1..] == s[1..]
                && (cs[0] == s[0] || (i == last && cs[0] <= s[0]))
        })
}

impl Tensor {
    /// Same data, new shape with the same element count (no copy).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if shape.iter().product::<usize>() != self.numel() {
            return Err(shape_err(
                "reshape",
                "the element count must stay the same",
                &[self.shape(), shape],
            ));
        }
        let dev = self.device();
        if self.dtype() == DType::U32 || !self.tracks_grad() {
            return Ok(Tensor::from_parts(
                dev,
                self.0.buffer.clone(),
                shape.to_vec(),
                self.dtype(),
                None,
            ));
        }
        Ok(Tensor::output(
            dev,
            self.0.buffer.clone(),
            shape.to_vec(),
            Op::Reshape { x: self.clone() },
        ))
    }

    /// Reorders axes: output axis i is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        self.expect_dtype("permute", DType::F32)?;
        let s = self.shape();
        let mut seen = vec![false; s.len()];
        if perm.len() != s.len()
            || perm
                .iter()
                .any(|&p| p >= s.len() || std::mem::replace(&mut seen[p], true))
        {
            return Err(shape_err(
                "permute",
                format!("{perm:?} is not a permutation of the axes"),
                &[s],
            ));
        }
        let out_shape: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
        let in_strides = contiguous_strides(s);
        let src = StridedView {
            offset: 0,
            strides: perm.iter().map(|&p| in_strides[p]).collect(),
        };
        self.copy_view(
            &src,
            out_shape,
            Op::Permute {
                x: self.clone(),
                perm: perm.to_vec(),
            },
        )
    }

    /// Copies the strided view `src` of this tensor into a new contiguous tensor of `out_shape`
    /// produced by `op` (permute and slice are both this).
    fn copy_view(&self, src: &StridedView, out_shape: Vec<usize>, op: Op) -> Result<Tensor> {
        let dev = self.device();
        let out = alloc(dev, out_shape.iter().product())?;
        strided_copy(
            dev,
            self.buffer(),
            src,
            &out,
            &contiguous(&out_shape),
            &out_shape,
        )?;
        Ok(Tensor::output(dev, out, out_shape, op))
    }

    /// Swaps the last two axes.
    pub fn transpose(&self) -> Result<Tensor> {
        let r = self.shape().len();
        if r < 2 {
            return Err(shape_err(
                "transpose",
                "needs at least two axes",
                &[self.shape()],
            ));
        }
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        self.permute(&perm)
    }

    /// Elements `start..end` along `axis`.
    pub fn slice(&self, axis: usize, start: usize, end: usize) -> Result<Tensor> {
        self.expect_dtype("slice", DType::F32)?;
        let s = self.shape();
        if axis >= s.len() || start > end || end > s[axis] {
            return Err(shape_err(
                "slice",
                format!("range {start}..{end} on axis {axis} is out of bounds"),
                &[s],
            ));
        }
        let mut out_shape = s.to_vec();
        out_shape[axis] = end - start;
        let strides = contiguous_strides(s);
        let src = StridedView {
            offset: start * strides[axis],
            strides,
        };
        self.copy_view(
            &src,
            out_shape,
            Op::Slice {
                x: self.clone(),
                axis,
                start,
            },
        )
    }

    /// Rows `indices[offset..offset + count]` of a dataset held as `chunks` (concatenated along
    /// axis 0; every chunk but the last has the first one's row count, at most
    /// `GATHER_CHUNKS` of them, since one binding is limited), in that order: the batch gather
    /// from a dataset kept on the GPU. `indices` is a rank-1 u32 tensor of row numbers below the
    /// total row count (the caller checks them when it uploads them). The result is a constant
    /// with the chunks' dtype: a dataset tracks no gradient, and one that does is refused.
    pub fn gather_rows(
        chunks: &[Tensor],
        indices: &Tensor,
        offset: usize,
        count: usize,
    ) -> Result<Tensor> {
        let op = "gather_rows";
        indices.expect_dtype(op, DType::U32)?;
        let is = indices.shape();
        let Some(first) = chunks.first() else {
            return Err(shape_err(op, "needs at least one chunk", &[is]));
        };
        let s = first.shape();
        let shapes: Vec<&[usize]> = chunks.iter().map(Tensor::shape).collect();
        if !chunks_agree(chunks) || is.len() != 1 || offset + count > is[0] {
            return Err(shape_err(
                op,
                format!(
                    "needs 1 to {GATHER_CHUNKS} chunks with equal rows (the last may be shorter) and indices {offset}..{} of a rank-1 index tensor",
                    offset + count
                ),
                &shapes,
            ));
        }
        if chunks.iter().any(Tensor::tracks_grad) {
            return Err(shape_err(
                op,
                "a chunk tracks a gradient; gather_rows is for constant data",
                &shapes,
            ));
        }
        let row: usize = s[1..].iter().product();
        let total: usize = shapes.iter().map(|c| c[0]).sum();
        let dev = first.device();
        let out = alloc(dev, count * row)?;
        let bufs: Vec<_> = chunks.iter().map(Tensor::buffer).collect();
        gather_rows(
            dev,
            &bufs,
            s[0],
            total,
            indices.buffer(),
            offset,
            count,
            row,
            &out,
        )?;
        let mut shape = s.to_vec();
        shape[0] = count;
        Ok(Tensor::from_parts(dev, out, shape, first.dtype(), None))
    }

    /// Joins tensors along `axis`; all other dims must agree.
    pub fn concat(xs: &[Tensor], axis: usize) -> Result<Tensor> {
        let first = xs
            .first()
            .ok_or_else(|| shape_err("concat", "needs at least one tensor", &[]))?;
        let s0 = first.shape();
        let shapes: Vec<&[usize]> = xs.iter().map(|t| t.shape()).collect();
        let agree = xs.iter().all(|t| {
            t.dtype() == DType::F32
                && t.shape().len() == s0.len()
                && axis < s0.len()
                && t.shape()
                    .iter()
                    .zip(s0)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b)
        });
        if !agree {
            return Err(shape_err(
                "concat",
                format!("f32 tensors must agree on every axis but {axis}"),
                &shapes,
            ));
        }
        let mut out_shape = s0.to_vec();
        out_shape[axis] = xs.iter().map(|t| t.shape()[axis]).sum();
        let dev = first.device();
        let out = alloc(dev, out_shape.iter().product())?;
        let out_strides = contiguous_strides(&out_shape);
        let mut at = 0;
        for t in xs {
            let dst = StridedView {
                offset: at * out_strides[axis],
                strides: out_strides.clone(),
            };
            strided_copy(
                dev,
                t.buffer(),
                &contiguous(t.shape()),
                &out,
                &dst,
                t.shape(),
            )?;
            at += t.shape()[axis];
        }
        Ok(Tensor::output(
            dev,
            out,
            out_shape,
            Op::Concat {
                xs: xs.to_vec(),
                axis,
            },
        ))
    }
}

/// permute: the gradient goes back through the inverse permutation.
pub(crate) fn permute_backward(perm: &[usize], g: &Tensor) -> Result<Tensor> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    g.permute(&inv)
}

/// slice: the gradient lands in the sliced region of a zero tensor of the input's shape.
pub(crate) fn slice_backward(x: &Tensor, axis: usize, start: usize, g: &Tensor) -> Result<Tensor> {
    let dev = x.device();
    let dx = Tensor::zeros(dev, x.shape())?;
    let strides = contiguous_strides(x.shape());
    let dst = StridedView {
        offset: start * strides[axis],
        strides,
    };
    strided_copy(
        dev,
        g.buffer(),
        &contiguous(g.shape()),
        dx.buffer(),
        &dst,
        g.shape(),
    )?;
    Ok(dx)
}
