//! Compiled pipelines kept on disk (disk_cache.rs): where the backend has a pipeline cache
//! (Vulkan, lavapipe included) a device writes it when dropped, the next process starts from
//! it and computes the same, and a damaged file is replaced, never trusted. Where the backend
//! has none (GL) no file is made.

use kiln_device::ops::elementwise::{UnaryOp, unary};
use kiln_device::{Device, DeviceError, DeviceOptions};

fn open(dir: &std::path::Path) -> Option<Device> {
    let options = DeviceOptions {
        pipeline_cache: Some(dir.to_path_buf()),
        ..DeviceOptions::from_env().unwrap()
    };
    match Device::with_options(&options) {
        Ok(d) => Some(d),
        Err(e @ DeviceError::NoAdapter { .. }) => {
            assert!(std::env::var("REQUIRE_GPU").as_deref() != Ok("1"), "{e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// exp of a ramp, computed on `dev`.
fn compute(dev: &Device) -> Vec<f32> {
    let x: Vec<f32> = (0..300).map(|i| i as f32 / 100.0).collect();
    let (bx, by) = (dev.upload(&x).unwrap(), dev.zeros(1200).unwrap());
    unary(dev, UnaryOp::Exp, &bx, &by, 300).unwrap();
    dev.submit();
    dev.read_f32(&by).unwrap()
}

#[test]
fn pipelines_are_kept_on_disk_and_a_damaged_file_is_replaced() {
    let dir = std::env::temp_dir().join(format!("kiln-pipeline-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let Some(dev) = open(&dir) else { return };
    let Some(file) = dev.pipeline_cache_file().map(|p| p.to_path_buf()) else {
        assert!(
            !dev.info().pipeline_cache,
            "the adapter has a pipeline cache but it is unused"
        );
        assert!(!dir.exists(), "no pipeline cache: nothing written");
        return;
    };
    assert!(file.starts_with(&dir));
    let want = compute(&dev);
    drop(dev);
    let saved = std::fs::read(&file).expect("the cache is written when the device drops");
    assert!(saved.len() > 64, "{} bytes", saved.len());

    let dev = open(&dir).unwrap();
    assert_eq!(
        compute(&dev),
        want,
        "a pipeline from the cache computes the same"
    );
    drop(dev);

    std::fs::write(&file, b"not a pipeline cache, and not from this driver").unwrap();
    let dev = open(&dir).unwrap();
    assert_eq!(compute(&dev), want, "a damaged cache is ignored");
    drop(dev);
    let rewritten = std::fs::read(&file).unwrap();
    assert!(
        rewritten.len() > 64 && !rewritten.starts_with(b"not a pipeline"),
        "replaced"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
