//! 2-D window geometry shared by convolution and pooling: Keras's padding modes and the output
//! size and leading pad TensorFlow computes for them. Pure arithmetic (the graph crate's shape
//! rules call it too).

/// Keras padding modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: out = floor((in - k) / stride) + 1.
    #[default]
    Valid,
    /// out = ceil(in / stride), zero (or ignored) padding split with the smaller half first.
    Same,
}

impl Padding {
    /// The Keras name: "valid" or "same".
    pub fn name(self) -> &'static str {
        match self {
            Padding::Valid => "valid",
            Padding::Same => "same",
        }
    }

    /// From a Keras name, or `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "valid" => Some(Padding::Valid),
            "same" => Some(Padding::Same),
            _ => None,
        }
    }
}

/// Output size and leading pad of one spatial dim, exactly as TensorFlow computes them:
/// 'same' pads max((out - 1) * stride + k - in, 0) in total, floor(total / 2) before. `None`
/// when the window does not fit (or a size overflows).
pub fn output_size(
    input: usize,
    k: usize,
    stride: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    if k == 0 || stride == 0 {
        return None;
    }
    match padding {
        Padding::Valid => (input >= k).then(|| ((input - k) / stride + 1, 0)),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let span = (out.max(1) - 1).checked_mul(stride)?.checked_add(k)?;
            let total = span.saturating_sub(input);
            (out > 0).then_some((out, total / 2))
        }
    }
}

/// (out height, out width, pad top, pad left) of a 2-D window (convolution or pooling) over an
/// `input` of (height, width), or `None` when the window does not fit.
pub fn output_hw(
    input: (usize, usize),
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Option<(usize, usize, usize, usize)> {
    let (oh, pt) = output_size(input.0, window.0, strides.0, padding)?;
    let (ow, pl) = output_size(input.1, window.1, strides.1, padding)?;
    Some((oh, ow, pt, pl))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_matches_tensorflow() {
        // 28 with k=3, s=1, same: out 28, total pad 2, 1 before.
        assert_eq!(output_size(28, 3, 1, Padding::Same), Some((28, 1)));
        // 28 with k=2, s=2, same: out 14, no pad.
        assert_eq!(output_size(28, 2, 2, Padding::Same), Some((14, 0)));
        // 5 with k=2, s=2, same: out 3, total pad 1, 0 before (the extra goes after).
        assert_eq!(output_size(5, 2, 2, Padding::Same), Some((3, 0)));
        // 6 with k=3, s=2, same: out 3, total pad 1, 0 before.
        assert_eq!(output_size(6, 3, 2, Padding::Same), Some((3, 0)));
        // 7 with k=4, s=1, same: total 3, 1 before.
        assert_eq!(output_size(7, 4, 1, Padding::Same), Some((7, 1)));
        assert_eq!(output_size(28, 3, 1, Padding::Valid), Some((26, 0)));
        assert_eq!(output_size(7, 2, 2, Padding::Valid), Some((3, 0)));
        assert_eq!(output_size(2, 3, 1, Padding::Valid), None);
        assert_eq!(output_size(usize::MAX, usize::MAX, 1, Padding::Same), None);
    }

    #[test]
    fn padding_names_are_keras_names() {
        for p in [Padding::Valid, Padding::Same] {
            assert_eq!(Padding::from_name(p.name()), Some(p));
        }
        assert_eq!(Padding::from_name("causal"), None);
    }
}
