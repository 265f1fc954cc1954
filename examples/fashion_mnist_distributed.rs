//! The TensorFlow tutorial's MLP on Fashion-MNIST, data-parallel over MPI (Horovod's recipe):
//! one process per GPU, each training on its shard of every global batch, gradients averaged
//! with one all-reduce per step, rank 0 writing the TensorBoard run, the CSV log, the backup and
//! the final weights.
//!
//! Build: `cargo build --release --features mpi --example fashion_mnist_distributed`
//! (needs `apt-get install libopenmpi-dev openmpi-bin libclang-dev`).
//! Run: `mpirun -np 2 target/release/examples/fashion_mnist_distributed` on one machine, or
//! `mpirun -H host1,host2 -np 2 target/release/examples/fashion_mnist_distributed` on two
//! (as root in a container add `--allow-run-as-root`; more ranks than cores: `--oversubscribe`).
//! Killed, it is restarted with the same command (any -np) and resumes after the last epoch.
//! Env: KILN_EPOCHS (default 5), KILN_SAMPLES, KILN_BATCH (per rank, default 32: the global
//! batch is KILN_BATCH x ranks), KILN_SEED, KILN_VALIDATE (0: no validation), KILN_PACE_MS
//! (sleep after each epoch, for tests), KILN_TARGET_ACC, KILN_RUN_DIR.

use std::rc::Rc;
use std::time::{Duration, Instant};

use kiln::nn::callbacks::{BackupAndRestore, CsvLogger};
use kiln::nn::distributed::DataParallel;
use kiln::nn::prelude::*;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(key) {
        Ok(v) => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid value")),
        Err(_) => Ok(default),
    }
}

/// Sleeps after each epoch (so a test can kill a rank mid-run).
struct Pace(Duration);
impl Callback for Pace {
    fn on_epoch_end(&mut self, _e: usize, _l: &Logs, _m: &mut Model) -> kiln::nn::Result<bool> {
        std::thread::sleep(self.0);
        Ok(false)
    }
}

fn main() -> anyhow::Result<()> {
    let dp = Rc::new(DataParallel::mpi()?);
    let (rank, world) = (dp.rank(), dp.world_size());
    let dev = Device::with_options(&dp.device_options()?)?;
    let run = env_or("KILN_RUN_DIR", "runs/fashion_mnist_distributed".to_string())?;
    std::fs::create_dir_all(&run)?;
    std::fs::write(
        format!("{run}/rank{rank}.pid"),
        std::process::id().to_string(),
    )?;
    println!("rank {rank}/{world}: adapter {}", dev.info());

    let data = FashionMnist::load()?;
    let n = env_or("KILN_SAMPLES", data.train_images.len())?.min(data.train_images.len());
    let (x, y) = (data.train_images.slice(0, n), data.train_labels.slice(0, n));
    let batch = env_or("KILN_BATCH", 32usize)?;
    let epochs = env_or("KILN_EPOCHS", 5usize)?;

    let mut model = Sequential::with_seed(&dev, env_or("KILN_SEED", 42u64)?);
    model.add(Flatten::new())?;
    model.add(Dense::new(128).activation("relu")?)?;
    model.add(Dense::new(10))?;
    model.build(&[28, 28])?;
    model.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )?;

    let mut cfg = FitConfig::epochs(epochs)
        .batch_size(batch)
        .seed(1)
        .data_parallel(&dp)
        .callback(BackupAndRestore::new(format!("{run}/backup")))
        .callback(CsvLogger::new(format!("{run}/log.csv")))
        .callback(
            TensorBoard::new(format!("{run}/tensorboard"))
                .update_freq(UpdateFreq::Batches(10))
                .confusion_matrix(true),
        )
        .callback(Pace(Duration::from_millis(env_or("KILN_PACE_MS", 0u64)?)));
    if env_or("KILN_VALIDATE", 1u8)? != 0 {
        cfg = cfg.validation_data(data.test_images.clone(), data.test_labels.clone());
    }
    let started = Instant::now();
    let history = model.fit(&x, &y, cfg)?;
    let took = started.elapsed();

    let s = dp.stats();
    if dp.is_root() {
        let steps = s.steps.max(1) as f64;
        println!(
            "{{\"ranks\": {world}, \"batch_per_rank\": {batch}, \"steps\": {}, \"seconds\": {:.3}, \
             \"ms_per_step\": {:.3}, \"readback_ms_per_step\": {:.3}, \"all_reduce_ms_per_step\": {:.3}, \
             \"gradient_bytes_per_step\": {}}}",
            s.steps,
            took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / steps,
            s.readback.as_secs_f64() * 1e3 / steps,
            s.all_reduce.as_secs_f64() * 1e3 / steps,
            s.gradient_bytes / s.steps.max(1),
        );
        model.save_weights(format!("{run}/final.weights.safetensors"))?;
        if let Some(last) = history.logs.last() {
            println!("last epoch: {}", last.format());
        }
        if let Ok(target) = std::env::var("KILN_TARGET_ACC") {
            let target: f32 = target.parse()?;
            let acc = history.get("val_accuracy").last().copied().unwrap_or(0.0);
            anyhow::ensure!(
                acc >= target,
                "val_accuracy {acc:.4} is below KILN_TARGET_ACC={target}"
            );
        }
    }
    Ok(())
}
