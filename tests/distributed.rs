//! Data-parallel training under a real `mpirun` (OpenMPI, every rank on lavapipe): 2 ranks of
//! batch 16 end 50 steps with the weights, loss and accuracy (and, sharded, validation loss and
//! accuracy) of 1 process of batch 32 over the same sample order; killing one rank with SIGKILL ends the job with an error within 60 s, and
//! the job restarted (here with another world size, 1 rank of batch 32) resumes from the backup
//! and ends with the weights of an uninterrupted run, up to rounding. The ranks run
//! examples/fashion_mnist_distributed.rs (`cargo build --release --features mpi --example
//! fashion_mnist_distributed` first; the test script does). Needs Fashion-MNIST.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples/fashion_mnist_distributed");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release --features mpi --example fashion_mnist_distributed",
        bin.display()
    );
    bin
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln_dist_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `mpirun -np ranks` of the example. Ranks yield while they wait in MPI: on a 2-core machine
/// the spinning rank would otherwise starve the other's (software) GPU.
fn mpirun(ranks: usize, batch: usize, epochs: usize, pace_ms: u64, dir: &Path) -> Command {
    let mut c = Command::new("mpirun");
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "--mca",
        "mpi_yield_when_idle",
        "1",
    ])
    .args(["-np", &ranks.to_string()])
    .arg(example())
    .env("LP_NUM_THREADS", "1")
    .env("KILN_SAMPLES", "1600")
    .env("KILN_BATCH", batch.to_string())
    .env("KILN_EPOCHS", epochs.to_string())
    .env("KILN_VALIDATE", "0")
    .env("KILN_PACE_MS", pace_ms.to_string())
    .env("KILN_RUN_DIR", dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

fn run_ok(mut c: Command) -> String {
    let out = c
        .output()
        .expect("running mpirun (apt-get install openmpi-bin)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mpirun failed:\n{text}");
    text
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(dir.join("final.weights.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, bytemuck_f32(t.data())))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn bytemuck_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Largest |a - b| relative to the tensor's largest magnitude, over all tensors.
fn max_rel_diff(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len());
    let mut worst = 0f32;
    for ((na, va), (nb, vb)) in a.iter().zip(b) {
        assert_eq!(na, nb);
        let scale = va.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        for (x, y) in va.iter().zip(vb) {
            worst = worst.max((x - y).abs() / scale);
        }
    }
    worst
}

fn csv_column(dir: &Path, col: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(dir.join("log.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == col).unwrap();
    lines
        .map(|l| l.split(',').nth(i).unwrap().parse().unwrap())
        .collect()
}

fn have_data() -> bool {
    match kiln::nn::data::FashionMnist::load() {
        Ok(_) => true,
        Err(e) if std::env::var("KILN_REQUIRE_DATA").as_deref() != Ok("1") => {
            eprintln!("skipping the distributed tests: {e}");
            false
        }
        Err(e) => panic!("KILN_REQUIRE_DATA=1 but {e}"),
    }
}

#[test]
fn two_ranks_of_16_train_like_one_process_of_32() {
    if !have_data() {
        return;
    }
    let (one, two) = (tmp("one"), tmp("two"));
    // With validation (sharded over the ranks) and rank 0's TensorBoard asking for batch-level
    // logs and a confusion matrix: collectives every rank must reach alike.
    let validated = |ranks, batch, dir: &Path| {
        let mut c = mpirun(ranks, batch, 1, 0, dir);
        c.env("KILN_VALIDATE", "1");
        c
    };
    run_ok(validated(1, 32, &one));
    let printed = run_ok(validated(2, 16, &two));
    assert!(
        printed.contains("\"ranks\": 2") && printed.contains("\"steps\": 50"),
        "{printed}"
    );
    let diff = max_rel_diff(&weights(&one), &weights(&two));
    eprintln!("2 x 16 vs 1 x 32 after 50 steps: weights differ by {diff:e} (relative)");
    assert!(diff <= 1e-5, "weights differ by {diff:e} (relative)");
    for col in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        let (a, b) = (csv_column(&one, col), csv_column(&two, col));
        assert_eq!(a.len(), 1);
        assert!(
            (a[0] - b[0]).abs() <= 1e-5 * a[0].abs().max(1.0),
            "{col}: {a:?} vs {b:?}"
        );
    }
    // Only rank 0 wrote the logs.
    assert!(two.join("tensorboard/train").is_dir());
    for d in [one, two] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_killed_rank_ends_the_job_and_a_restart_resumes_from_the_backup() {
    if !have_data() {
        return;
    }
    let (full, killed) = (tmp("full"), tmp("killed"));
    run_ok(mpirun(2, 16, 4, 0, &full));
    let mut job = mpirun(2, 16, 4, 1500, &killed).spawn().unwrap();
    let start = Instant::now();
    while !killed.join("backup/backup.safetensors").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no backup appeared"
        );
        assert!(
            job.try_wait().unwrap().is_none(),
            "the job ended before a rank was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(killed.join("rank1.pid")).unwrap();
    let status = Command::new("kill")
        .args(["-9", pid.trim()])
        .status()
        .unwrap();
    assert!(status.success());
    let killed_at = Instant::now();
    let ended = loop {
        if let Some(s) = job.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "the job still runs 60 s after a rank died"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!ended.success(), "a job that lost a rank must fail");
    eprintln!("the job ended {:?} after the kill", killed_at.elapsed());
    // Restart on one rank of batch 32: the same global batch, another world size.
    let printed = run_ok(mpirun(1, 32, 4, 0, &killed));
    assert!(printed.contains("BackupAndRestore: restored"), "{printed}");
    // The same updates summed in another order (one rank's mean of 32 against two means of
    // 16) round differently: 9.6e-7 to 1.8e-5 after the 150 steps since the backup, measured.
    let diff = max_rel_diff(&weights(&full), &weights(&killed));
    eprintln!("resumed on 1 rank vs uninterrupted on 2: weights differ by {diff:e} (relative)");
    assert!(
        diff <= 1e-4,
        "the resumed job's weights differ by {diff:e} (relative)"
    );
    for d in [full, killed] {
        let _ = std::fs::remove_dir_all(&d);
    }
}
