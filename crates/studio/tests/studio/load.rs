//! A bounded load test on 127.0.0.1: 8 concurrent clients make 500 predictions and 500 page
//! and data requests while a training run appends to the logdir. Every answer must be a 200;
//! p50 and p99 latencies are printed (and written to target/tmp/studio-load.json for the
//! README). Not a speed target: the figures are recorded, only errors fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiln_nn::callbacks::UpdateFreq;

use crate::fixture::{self, agent, get, json};

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn batch_points(url: &str) -> usize {
    let (code, body) = get(
        &agent(),
        &format!("{url}/api/runs/live/scalars?tag=train/batch_loss"),
    );
    if code != 200 {
        return 0;
    }
    json(&body)["points"].as_array().map_or(0, |a| a.len())
}

#[test]
fn eight_clients_a_thousand_requests_while_training_writes() {
    let Some(f) = fixture::fixture() else { return };
    let logdir = std::env::temp_dir().join(format!("kiln-studio-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logdir);
    std::fs::create_dir_all(&logdir).unwrap();
    // The training run: 1-epoch fits back to back until the load is done, batch scalars every
    // 5 steps, every report option on.
    let stop = Arc::new(AtomicBool::new(false));
    let trainer = {
        let (stop, dir) = (stop.clone(), logdir.join("live"));
        std::thread::spawn(move || {
            let dev = kiln_device::testing::test_device().unwrap();
            let data = kiln_nn::data::FashionMnist::load().unwrap();
            let mut fits = 0;
            while !stop.load(Ordering::Relaxed) || fits == 0 {
                fixture::train(&dev, &data, &dir, 32, 1e-3, 1, UpdateFreq::Batches(5));
                fits += 1;
            }
            fits
        })
    };
    let s = fixture::start(&logdir, Some(&f.model), 10 << 20);
    let t = Instant::now();
    while batch_points(&s.url) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the training run never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = batch_points(&s.url);
    let paths = [
        "/".to_string(),
        "/api/runs".into(),
        "/api/runs/live/scalars?tag=train/batch_loss".into(),
        "/report?run=live".into(),
        "/compare?runs=live".into(),
        "/assets/compare.js".into(),
    ];
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|k| {
            let (url, png, paths) = (s.url.clone(), f.png.clone(), paths.clone());
            std::thread::spawn(move || {
                let a = agent();
                let (mut predict, mut pages, mut errors) = (Vec::new(), Vec::new(), Vec::new());
                for i in (k..1000).step_by(8) {
                    let t = Instant::now();
                    let result = if i % 2 == 0 {
                        a.post(format!("{url}/api/predict"))
                            .header("Content-Type", "image/png")
                            .send(&png[..])
                    } else {
                        a.get(format!("{url}{}", paths[(i / 2) % paths.len()]))
                            .call()
                    };
                    match result {
                        Ok(mut r) if r.status() == 200 => {
                            let _ = r.body_mut().with_config().limit(64 << 20).read_to_vec();
                        }
                        Ok(r) => errors.push(format!("request {i}: status {}", r.status())),
                        Err(e) => errors.push(format!("request {i}: {e}")),
                    }
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    if i % 2 == 0 {
                        predict.push(ms)
                    } else {
                        pages.push(ms)
                    }
                }
                (predict, pages, errors)
            })
        })
        .collect();
    let (mut predict, mut pages, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for c in clients {
        let (p, g, e) = c.join().unwrap();
        predict.extend(p);
        pages.extend(g);
        errors.extend(e);
    }
    let wall = started.elapsed().as_secs_f64();
    let after = batch_points(&s.url);
    stop.store(true, Ordering::Relaxed);
    let fits = trainer.join().unwrap();
    assert_eq!(predict.len(), 500);
    assert_eq!(pages.len(), 500);
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
    assert!(
        after > before,
        "the training run appended during the load ({before} -> {after} batch points)"
    );
    let report = serde_json::json!({
        "clients": 8, "predictions": 500, "page_and_data_requests": 500, "errors": 0,
        "wall_s": wall, "training_fits": fits, "batch_points_during_load": after - before,
        "predict_ms": {"p50": percentile(&mut predict, 0.5), "p99": percentile(&mut predict, 0.99)},
        "pages_ms": {"p50": percentile(&mut pages, 0.5), "p99": percentile(&mut pages, 0.99)},
    });
    println!("studio load: {report}");
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("studio-load.json");
    std::fs::write(out, report.to_string()).unwrap();
    let _ = std::fs::remove_dir_all(&logdir);
}
