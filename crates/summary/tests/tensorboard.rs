//! The real TensorBoard reads what kiln writes: runs are checked with `../shared/tbcheck`
//! (TensorBoard 2.21's own loaders, `--strict`, and its HTTP data API). The test script installs
//! TensorBoard into a venv (`tbcheck/setup.sh`) and sets `KILN_REQUIRE_TBCHECK=1`; elsewhere,
//! without `../shared` or the venv, the test is skipped with the reason printed.

use std::path::PathBuf;
use std::process::Command;

use kiln_summary::{EventWriter, GraphNode, HParam, Image, Pixels};

/// (tbcheck dir, venv python), or None after printing why the check cannot run here.
fn tbcheck() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("../shared/tbcheck");
    let venv = std::env::var_os("TBCHECK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".tbcheck-venv"));
    let python = venv.join("bin/python");
    let required = std::env::var("KILN_REQUIRE_TBCHECK").as_deref() == Ok("1");
    let missing = if !dir.join("tbcheck.py").exists() {
        Some(format!("{} not found", dir.display()))
    } else if !python.exists() {
        Some(format!(
            "no TensorBoard venv at {} (run ../shared/tbcheck/setup.sh)",
            venv.display()
        ))
    } else {
        None
    };
    match missing {
        Some(why) if required => panic!("KILN_REQUIRE_TBCHECK=1 but {why}"),
        Some(why) => {
            eprintln!("skipping the real-TensorBoard check: {why}");
            None
        }
        None => Some((dir, python)),
    }
}

/// Writes a run with every kind of summary into `logdir/train` and `logdir/validation`.
fn write_run(logdir: &std::path::Path) {
    let mut train = EventWriter::create(logdir.join("train")).unwrap();
    let mut val = EventWriter::create(logdir.join("validation")).unwrap();
    for epoch in 0..8 {
        train
            .add_scalar("epoch_loss", 1.0 / (epoch + 1) as f32, epoch)
            .unwrap();
        train
            .add_scalar("epoch_accuracy", 0.5 + epoch as f32 / 20.0, epoch)
            .unwrap();
        val.add_scalar("epoch_loss", 1.2 / (epoch + 1) as f32, epoch)
            .unwrap();
        let weights: Vec<f32> = (0..784)
            .map(|i| ((i * 31 + epoch as usize * 7) % 97) as f32 / 97.0 - 0.5)
            .collect();
        train
            .add_histogram("sequential/dense/kernel/histogram", &weights, epoch)
            .unwrap();
    }
    let px: Vec<f32> = (0..28 * 28).map(|i| (i % 28) as f32 / 27.0).collect();
    let im = Image {
        pixels: Pixels::F32(&px),
        height: 28,
        width: 28,
        channels: 1,
    };
    train.add_images("samples", &[im, im], 3, 0).unwrap();
    train.add_text("notes", "kiln **run** notes", 0).unwrap();
    let node = |name: &str, op: &str, input: &[&str], shape: &[i64]| GraphNode {
        name: name.into(),
        op: op.into(),
        inputs: input.iter().map(|s| s.to_string()).collect(),
        output_shape: Some(shape.to_vec()),
        attrs: vec![("layer".into(), op.into())],
    };
    train
        .add_graph(&[
            node("input", "InputLayer", &[], &[-1, 28, 28]),
            node("sequential/flatten", "Flatten", &["input"], &[-1, 784]),
            node(
                "sequential/dense",
                "Dense",
                &["sequential/flatten"],
                &[-1, 128],
            ),
            node(
                "sequential/dense_1",
                "Dense",
                &["sequential/dense"],
                &[-1, 10],
            ),
        ])
        .unwrap();
    let hp = [
        ("learning_rate", HParam::Num(1e-3)),
        ("optimizer", HParam::Str("adam".into())),
        ("batch_norm", HParam::Bool(false)),
    ];
    let mut root = EventWriter::create(logdir).unwrap();
    root.add_hparams_config(
        &hp,
        &[("train", "epoch_loss"), ("validation", "epoch_loss")],
    )
    .unwrap();
    root.add_hparams(&hp, "").unwrap();
    root.add_hparams_end(true).unwrap();
}

#[test]
fn tensorboard_loads_every_kind_of_summary_kiln_writes() {
    let Some((dir, python)) = tbcheck() else {
        return;
    };
    let logdir = std::env::temp_dir().join(format!("kiln-tbcheck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logdir);
    write_run(&logdir);
    let out = Command::new(&python)
        .arg(dir.join("tbcheck.py"))
        .arg(&logdir)
        .arg("--strict")
        .args([
            "--expect",
            "scalar:train/epoch_loss==8",
            "scalar:train/epoch_accuracy==8",
            "scalar:validation/epoch_loss==8",
        ])
        .args([
            "histogram:train/sequential/dense/kernel/histogram==8",
            "image:train/samples>=1",
            "text:train/notes>=1",
            "graph:train",
            "hparams:.",
        ])
        .output()
        .expect("running tbcheck.py");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tbcheck failed:\n{report}");
    eprintln!("{report}"); // the inventory, for the CI log
    let served = Command::new("bash")
        .arg(dir.join("serve_check.sh"))
        .arg(&logdir)
        .env("TBCHECK_VENV", python.parent().unwrap().parent().unwrap())
        .output()
        .expect("running serve_check.sh");
    let report = String::from_utf8_lossy(&served.stdout).to_string()
        + &String::from_utf8_lossy(&served.stderr);
    assert!(
        served.status.success(),
        "TensorBoard's server did not serve the run:\n{report}"
    );
    let _ = std::fs::remove_dir_all(&logdir);
}
