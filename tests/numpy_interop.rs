//! NumPy's own files load into kiln and kiln's load in NumPy: every supported dtype, byte order,
//! `np.savez` and `np.savez_compressed`; Fortran order, object arrays, a lying header and a
//! truncated archive are errors naming the file. The test script provides a Python with numpy
//! (`KILN_PYTHON`) and sets KILN_REQUIRE_PYTHON=1; elsewhere a missing numpy skips the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln::nn::data::Npz;
use kiln::nn::prelude::*;

fn run(python: &str, script: &str, dir: &Path) -> String {
    let out = Command::new(python)
        .args(["-c", script])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-numpy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const WRITE: &str = r#"
import sys, os
import numpy as np
d = sys.argv[1]
x = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 5) / 4
np.save(os.path.join(d, "f8.npy"), x)
np.save(os.path.join(d, "f4.npy"), x.astype(np.float32))
np.save(os.path.join(d, "f2.npy"), x.astype(np.float16))
np.save(os.path.join(d, "f4_big.npy"), x.astype(">f4"))
np.save(os.path.join(d, "u1.npy"), (np.arange(24) * 10 % 256).astype(np.uint8).reshape(2, 12))
np.save(os.path.join(d, "i8.npy"), np.array([3, 1, 4, 1, 5], dtype=np.int64))
np.save(os.path.join(d, "i4_big.npy"), np.array([7, 9], dtype=">i4"))
np.save(os.path.join(d, "neg.npy"), np.array([2, -1], dtype=np.int32))
np.save(os.path.join(d, "b1.npy"), np.array([True, False, True]))
np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(x[0]))
np.save(os.path.join(d, "object.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
np.save(os.path.join(d, "scalar.npy"), np.float32(3.0))
np.savez(os.path.join(d, "plain.npz"), x_train=x.astype(np.float32), y_train=np.array([0, 2], dtype=np.int64))
np.savez_compressed(os.path.join(d, "packed.npz"), images=np.zeros((50, 28, 28), np.uint8) + 7, labels=np.arange(50) % 10)
"#;

#[test]
fn numpy_files_load_into_kiln_and_kiln_files_load_in_numpy() {
    let Some(py) = common::python(
        "KILN_PYTHON",
        "KILN_REQUIRE_PYTHON",
        "numpy",
        "the NumPy interop test",
    ) else {
        return;
    };
    let d = dir("roundtrip");
    run(&py, WRITE, &d);
    let want: Vec<f32> = (0..24).map(|i| (i as f32 - 5.0) / 4.0).collect();
    for name in ["f8", "f4", "f2", "f4_big"] {
        let a = Array::load_npy(d.join(format!("{name}.npy"))).unwrap();
        assert_eq!(a.shape, [2, 3, 4], "{name}");
        assert_eq!(a.as_f32().unwrap(), want, "{name}");
    }
    let u1 = Array::load_npy(d.join("u1.npy")).unwrap();
    assert_eq!(u1.shape, [2, 12]);
    assert_eq!(u1.as_u32().unwrap()[..4], [0, 10, 20, 30]);
    let u1f = Array::load_npy_f32(d.join("u1.npy")).unwrap();
    assert_eq!(u1f.as_f32().unwrap()[25 % 24], 10.0);
    assert_eq!(
        Array::load_npy(d.join("i8.npy")).unwrap().as_u32().unwrap(),
        [3, 1, 4, 1, 5]
    );
    assert_eq!(
        Array::load_npy(d.join("i4_big.npy"))
            .unwrap()
            .as_u32()
            .unwrap(),
        [7, 9]
    );
    assert_eq!(
        Array::load_npy(d.join("b1.npy")).unwrap().as_u32().unwrap(),
        [1, 0, 1]
    );
    assert_eq!(
        Array::load_npy_f32(d.join("neg.npy"))
            .unwrap()
            .as_f32()
            .unwrap(),
        [2.0, -1.0]
    );
    for (name, says) in [
        ("neg", "-1"),
        ("fortran", "Fortran"),
        ("object", "|O"),
        ("scalar", "scalar"),
    ] {
        let path = d.join(format!("{name}.npy"));
        let e = Array::load_npy(&path).unwrap_err().to_string();
        assert!(
            e.contains(says) && e.contains(&*path.to_string_lossy()),
            "{e}"
        );
    }

    let plain = Npz::load(d.join("plain.npz")).unwrap();
    assert_eq!(plain.names(), ["x_train", "y_train"]);
    assert_eq!(plain.get("x_train").unwrap().as_f32().unwrap(), want);
    assert_eq!(plain.get("y_train").unwrap().as_u32().unwrap(), [0, 2]);
    let e = plain.get("x_test").unwrap_err().to_string();
    assert!(e.contains("x_test") && e.contains("x_train"), "{e}");
    let packed = Npz::load(d.join("packed.npz")).unwrap();
    assert_eq!(packed.get("images").unwrap().shape, [50, 28, 28]);
    assert!(
        packed
            .get("images")
            .unwrap()
            .as_u32()
            .unwrap()
            .iter()
            .all(|&v| v == 7)
    );

    // kiln's files in NumPy.
    let x = Array::f32(want.clone(), &[2, 3, 4]).unwrap();
    let y = Array::u32(vec![4, 0, 9], &[3]).unwrap();
    x.save_npy(d.join("kiln_x.npy")).unwrap();
    Npz::save(d.join("kiln.npz"), &[("x", &x), ("y", &y)]).unwrap();
    let check = r#"
import sys, os
import numpy as np
d = sys.argv[1]
x = np.load(os.path.join(d, "kiln_x.npy"))
z = np.load(os.path.join(d, "kiln.npz"))
want = ((np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5) / 4)
assert x.dtype == np.float32 and x.shape == (2, 3, 4) and (x == want).all(), x
assert sorted(z.files) == ["x", "y"], z.files
assert (z["x"] == want).all() and z["y"].dtype == np.uint32 and list(z["y"]) == [4, 0, 9]
print("ok")
"#;
    assert_eq!(run(&py, check, &d).trim(), "ok");
    // And back: what kiln wrote, kiln reads.
    assert_eq!(Array::load_npy(d.join("kiln_x.npy")).unwrap(), x);
    assert_eq!(Npz::load(d.join("kiln.npz")).unwrap().get("y").unwrap(), &y);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn truncated_or_lying_files_are_errors_naming_the_file() {
    let Some(py) = common::python(
        "KILN_PYTHON",
        "KILN_REQUIRE_PYTHON",
        "numpy",
        "the NumPy interop test",
    ) else {
        return;
    };
    let d = dir("bad");
    run(&py, WRITE, &d);
    // A compressed archive cut in half: the central directory is gone.
    let bytes = std::fs::read(d.join("packed.npz")).unwrap();
    let cut = d.join("cut.npz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = Npz::load(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.npz") && e.contains("truncated"), "{e}");
    // An uncompressed archive with one entry's bytes corrupted: the CRC check catches it.
    let mut bytes = std::fs::read(d.join("plain.npz")).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\x93NUMPY").unwrap() + 200;
    bytes[at] ^= 0xff;
    let flipped = d.join("flipped.npz");
    std::fs::write(&flipped, &bytes).unwrap();
    let e = Npz::load(&flipped).unwrap_err().to_string();
    assert!(e.contains("flipped.npz") && e.contains("x_train"), "{e}");
    // A header claiming far more data than follows.
    let mut bytes = std::fs::read(d.join("f4.npy")).unwrap();
    let at = bytes.windows(9).position(|w| w == b"(2, 3, 4)").unwrap();
    bytes[at..at + 9].copy_from_slice(b"(9, 9, 9)");
    let liar = d.join("liar.npy");
    std::fs::write(&liar, &bytes).unwrap();
    let e = Array::load_npy(&liar).unwrap_err().to_string();
    assert!(
        e.contains("liar.npy") && e.contains("[9, 9, 9]") && e.contains("96 bytes follow"),
        "{e}"
    );
    let missing = d.join("missing.npy");
    let e = Array::load_npy(&missing).unwrap_err().to_string();
    assert!(
        e.contains("missing.npy") && e.contains("cannot read"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
