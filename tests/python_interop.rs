//! Weights saved by kiln open in Python with `safetensors.numpy.load_file`, under Keras's names
//! and shapes, with the same values. The test script provides a Python with safetensors and numpy
//! (`KILN_PYTHON`) and sets KILN_REQUIRE_PYTHON=1; elsewhere a missing module skips the test.

mod common;

use std::process::Command;

use kiln::device::testing::test_device;
use kiln::nn::prelude::*;

#[test]
fn python_reads_kiln_weights_with_keras_names_shapes_and_values() {
    let Some(dev) = test_device() else { return };
    let Some(python) = common::python(
        "KILN_PYTHON",
        "KILN_REQUIRE_PYTHON",
        "safetensors.numpy, numpy",
        "the Python interop test",
    ) else {
        return;
    };
    let mut m = Sequential::with_seed(&dev, 4);
    m.add(Conv2D::new(4, 3).padding("same").unwrap()).unwrap();
    m.add(BatchNormalization::new()).unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(5)).unwrap();
    m.build(&[6, 6, 2]).unwrap();
    let path =
        std::env::temp_dir().join(format!("kiln-interop-{}.safetensors", std::process::id()));
    m.save_weights(&path).unwrap();
    let script = r#"
import sys
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
for name in sorted(t):
    a = t[name]
    print(name, a.dtype, list(a.shape), repr(float(a.astype('float64').sum())), repr(float(a.flat[0])))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout).unwrap();
    let mut want: Vec<String> = m
        .weights()
        .iter()
        .zip(m.get_weights().unwrap())
        .map(|((name, w), v)| {
            let sum: f64 = v.iter().map(|&x| x as f64).sum();
            format!(
                "{name} float32 {:?} {sum:?} {:?}",
                w.value.shape(),
                v[0] as f64
            )
        })
        .collect();
    want.sort();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(&want) {
        let (gp, wp): (Vec<&str>, Vec<&str>) = (g.split(' ').collect(), w.split(' ').collect());
        assert_eq!(gp[..3], wp[..3], "name, dtype and shape");
        let close =
            |a: &str, b: &str| (a.parse::<f64>().unwrap() - b.parse::<f64>().unwrap()).abs() < 1e-6;
        assert!(
            close(gp[gp.len() - 2], wp[wp.len() - 2]) && close(gp[gp.len() - 1], wp[wp.len() - 1]),
            "values: {g} vs {w}"
        );
    }
    assert!(
        got.iter()
            .any(|l| l.starts_with("conv2d/kernel float32 [3, 3, 2, 4]")),
        "Keras conv layout: {got:?}"
    );
    assert!(
        got.iter()
            .any(|l| l.starts_with("dense/kernel float32 [144, 5]")),
        "Keras dense layout"
    );
    assert!(
        got.iter()
            .any(|l| l.starts_with("batch_normalization/moving_variance"))
    );
    let _ = std::fs::remove_file(&path);
}
