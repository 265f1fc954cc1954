//! Shape rules for building models without running anything: the per-sample output shape of a
//! 2-D convolution or pooling window over an image [height, width, channels], with TensorFlow's
//! padding arithmetic, and NumPy broadcasting. Layers call these in `build`, so an impossible configuration is an error
//! before any weight exists.

use crate::Padding;
use kiln_device::ops::elementwise::broadcast as layout;
use kiln_device::ops::window::output_hw;

/// The shape NumPy broadcasting gives `a` and `b` (what the binary ops compute), or `None` when
/// they do not broadcast.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    layout(a, b).map(|l| l.shape)
}

/// [out height, out width, filters] of a convolution with `kernel` (height, width), `strides`
/// and `padding` over `input` [height, width, channels], or `None` when the kernel does not fit.
pub fn conv2d_output(
    input: &[usize],
    kernel: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    filters: usize,
) -> Option<Vec<usize>> {
    let [h, w, _] = input else { return None };
    let (oh, ow, _, _) = output_hw((*h, *w), kernel, strides, padding)?;
    Some(vec![oh, ow, filters])
}

/// [out height, out width, channels] of a pooling window `pool` (height, width) with `strides`
/// and `padding` over `input` [height, width, channels], or `None` when the window does not fit.
pub fn pool2d_output(
    input: &[usize],
    pool: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Option<Vec<usize>> {
    let [h, w, c] = input else { return None };
    let (oh, ow, _, _) = output_hw((*h, *w), pool, strides, padding)?;
    Some(vec![oh, ow, *c])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_tensorflow_and_misfits_are_none() {
        let same = conv2d_output(&[28, 28, 1], (3, 3), (1, 1), Padding::Same, 32);
        assert_eq!(same, Some(vec![28, 28, 32]));
        let strided = conv2d_output(&[7, 7, 3], (3, 3), (2, 2), Padding::Valid, 8);
        assert_eq!(strided, Some(vec![3, 3, 8]));
        assert_eq!(
            conv2d_output(&[2, 2, 1], (3, 3), (1, 1), Padding::Valid, 1),
            None
        );
        assert_eq!(
            conv2d_output(&[28, 28], (3, 3), (1, 1), Padding::Same, 1),
            None
        );
        let pooled = pool2d_output(&[5, 5, 4], (2, 2), (2, 2), Padding::Same);
        assert_eq!(pooled, Some(vec![3, 3, 4]));
        assert_eq!(broadcast(&[4, 1, 8], &[3, 1]), Some(vec![4, 3, 8]));
        assert_eq!(broadcast(&[4, 8], &[3]), None);
    }
}
