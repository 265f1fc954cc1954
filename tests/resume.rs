//! A training process killed with SIGKILL resumes with BackupAndRestore from its last completed
//! epoch, and ends with exactly the losses an uninterrupted run has. The test binary re-runs
//! itself as the child (`KILN_RESUME_CHILD=<dir>`), kills it after two epochs, runs it again to
//! completion, and compares the CSV logs. The model is a functional graph (a skip connection,
//! BatchNormalization's moving statistics, Dropout's masks); `Sequential`'s exact resume through
//! `save` / `load_model` is checked in crates/nn/tests/checkpoint.rs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kiln::device::testing::test_device;
use kiln::nn::callbacks::{BackupAndRestore, Callback, CsvLogger};
use kiln::nn::prelude::*;

const EPOCHS: usize = 6;

fn data() -> (Array, Array) {
    let mut rng = kiln::device::rng::Rng::new(11);
    let x: Vec<f32> = (0..256 * 8).map(|_| rng.uniform() as f32).collect();
    let y: Vec<u32> = x
        .chunks(8)
        .map(|r| u32::from(r[0] + r[1] > r[2] + r[3]))
        .collect();
    (
        Array::f32(x, &[256, 8]).unwrap(),
        Array::u32(y, &[256]).unwrap(),
    )
}

fn model(dev: &Device) -> Model {
    let x = Input::new(&[8]);
    let h = Dense::new(32).activation("relu").unwrap().apply(&x);
    let branch = Dense::new(32).apply(&BatchNormalization::new().apply(&h));
    let sum = Add::new().apply_many(&[&h, &branch]);
    let out = Dense::new(2).apply(&Dropout::new(0.1).unwrap().apply(&sum));
    let mut m = Model::with_seed(dev, 21, &[&x], &[&out]).unwrap();
    m.compile(
        Optimizer::adam(0.01),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

/// Slows each epoch so the parent can kill the child between epochs.
struct Pace;
impl Callback for Pace {
    fn on_epoch_end(&mut self, _e: usize, _l: &Logs, _m: &mut Model) -> kiln::nn::Result<bool> {
        std::thread::sleep(Duration::from_millis(400));
        Ok(false)
    }
}

fn train(dev: &Device, dir: &Path, slow: bool) -> History {
    let (x, y) = data();
    let mut m = model(dev);
    let mut cfg = FitConfig {
        epochs: EPOCHS,
        batch_size: 32,
        verbose: 0,
        seed: 3,
        ..Default::default()
    }
    // Backup first: a CSV row then always implies a saved backup of that epoch, and the kill
    // (sent right after a row appears) lands in Pace's sleep, after both.
    .callback(BackupAndRestore::new(dir.join("backup")))
    .callback(CsvLogger::new(dir.join("log.csv")).append(true));
    if slow {
        cfg = cfg.callback(Pace);
    }
    m.fit(&x, &y, cfg).unwrap()
}

/// The child's entry point (does nothing in a normal test run).
#[test]
fn resume_child() {
    let Ok(dir) = std::env::var("KILN_RESUME_CHILD") else {
        return;
    };
    let dev = Device::new().expect("child device");
    train(&dev, Path::new(&dir), true);
}

fn csv_losses(path: &Path) -> Vec<(usize, f32)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let col = header
        .split(',')
        .position(|c| c == "loss")
        .expect("loss column");
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|f| (f[0].parse().unwrap(), f[col].parse().unwrap()))
        .collect()
}

fn child(dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["resume_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("KILN_RESUME_CHILD", dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning the child")
}

#[test]
fn a_killed_run_resumes_from_its_last_epoch_with_identical_losses() {
    let Some(dev) = test_device() else { return };
    let base = std::env::temp_dir().join(format!("kiln-resume-{}", std::process::id()));
    let (killed, clean): (PathBuf, PathBuf) = (base.join("killed"), base.join("clean"));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&killed).unwrap();
    std::fs::create_dir_all(&clean).unwrap();

    let mut c = child(&killed);
    let deadline = Instant::now() + Duration::from_secs(120);
    while csv_losses(&killed.join("log.csv")).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the child never finished two epochs"
        );
        assert!(c.try_wait().unwrap().is_none(), "the child exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.kill().unwrap(); // SIGKILL
    c.wait().unwrap();
    let done = csv_losses(&killed.join("log.csv")).len();
    assert!(done < EPOCHS, "the child must be killed before finishing");
    assert!(
        killed.join("backup/backup.safetensors").exists(),
        "a backup survives the kill"
    );

    let out = child(&killed).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "resumed child failed: {stderr}");
    assert!(stderr.contains("BackupAndRestore: restored"), "{stderr}");
    assert!(
        !killed.join("backup/backup.safetensors").exists(),
        "a finished run deletes its backup"
    );

    let reference = train(&dev, &clean, false).get("loss");
    let resumed = csv_losses(&killed.join("log.csv"));
    // Each epoch was logged once, either before the kill or after the restore (an epoch in
    // flight at the kill is redone from the backup), so the epochs column counts 0..EPOCHS.
    assert_eq!(
        resumed.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..EPOCHS).collect::<Vec<_>>()
    );
    assert_eq!(
        resumed.iter().map(|r| r.1).collect::<Vec<_>>(),
        reference,
        "resumed losses equal the uninterrupted run's"
    );
    let _ = std::fs::remove_dir_all(&base);
}
