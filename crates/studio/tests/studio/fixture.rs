//! The studio tests' shared world: two real Fashion-MNIST runs (2 epochs of an MLP on 6,000
//! images each, with every TensorBoard option the report reads, different units and learning
//! rates), the first run's saved model, a test image that model classifies clearly (as a PNG),
//! and servers started in-process on 127.0.0.1 with a free port.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use kiln_nn::callbacks::{TensorBoard, UpdateFreq};
use kiln_nn::data::FashionMnist;
use kiln_nn::prelude::*;
use kiln_summary::HParam;

pub struct Fixture {
    pub logdir: PathBuf,
    pub model: PathBuf,
    /// A test image (PNG) the model gives its true class with probability > 0.9.
    pub png: Vec<u8>,
    pub label: usize,
}

static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();

/// Trains a Fashion-MNIST MLP into `dir` (a TensorBoard run) and returns it.
pub fn train(
    dev: &Device,
    data: &FashionMnist,
    dir: &Path,
    units: usize,
    lr: f32,
    epochs: usize,
    update: UpdateFreq,
) -> Model {
    let mut m = Sequential::with_seed(dev, 7);
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(units).activation("relu").unwrap())
        .unwrap();
    m.add(Dense::new(10)).unwrap();
    m.compile(
        Optimizer::adam(lr),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    let tb = TensorBoard::new(dir)
        .histogram_freq(1)
        .write_images(9)
        .confusion_matrix(true)
        .write_grads(true)
        .activation_histograms(&["dense"])
        .eval_examples(300)
        .update_freq(update)
        .hparams(&[
            ("units", HParam::Num(units as f64)),
            ("learning_rate", HParam::Num(lr as f64)),
        ]);
    let cfg = FitConfig::epochs(epochs)
        .batch_size(32)
        .verbose(0)
        .validation_data(
            data.test_images.slice(0, 1000),
            data.test_labels.slice(0, 1000),
        )
        .callback(tb);
    m.fit(
        &data.train_images.slice(0, 6000),
        &data.train_labels.slice(0, 6000),
        cfg,
    )
    .unwrap();
    m.into_model()
}

pub fn fixture() -> Option<&'static Fixture> {
    FIXTURE
        .get_or_init(|| {
            let dev = kiln_device::testing::test_device()?;
            let data = FashionMnist::load()
                .expect("Fashion-MNIST (apt-get install dataset-fashion-mnist)");
            let logdir = std::env::temp_dir().join(format!("kiln-studio-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&logdir);
            let mut m = train(
                &dev,
                &data,
                &logdir.join("mlp_64"),
                64,
                1e-3,
                2,
                UpdateFreq::Epoch,
            );
            train(
                &dev,
                &data,
                &logdir.join("mlp_32"),
                32,
                3e-3,
                2,
                UpdateFreq::Epoch,
            );
            let model = logdir.join("mlp_64").join("model.safetensors");
            m.save(&model).unwrap();
            // The first test image past the validation slice that the model gets right with
            // p > 0.9, rounded to 8-bit grey as a user's PNG would be.
            let (x, y) = (
                data.test_images.slice(1000, 1200),
                data.test_labels.as_u32().unwrap(),
            );
            let p = m.probabilities(&x).unwrap();
            let p = p.as_f32().unwrap();
            let i = (0..200)
                .find(|&i| {
                    let label = y[1000 + i] as usize;
                    p[i * 10 + label] > 0.9
                })
                .expect("a clearly classified test image");
            let px: Vec<u8> = x.as_f32().unwrap()[i * 784..(i + 1) * 784]
                .iter()
                .map(|v| (v * 255.0).round() as u8)
                .collect();
            let mut png = Vec::new();
            image::GrayImage::from_raw(28, 28, px)
                .unwrap()
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .unwrap();
            Some(Fixture {
                logdir,
                model,
                png,
                label: y[1000 + i] as usize,
            })
        })
        .as_ref()
}

pub fn classes() -> Vec<String> {
    kiln_nn::data::FASHION_MNIST_CLASSES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A studio server on a free port; it stops when dropped.
pub struct Server {
    pub url: String,
    pub port: u16,
    _rt: tokio::runtime::Runtime,
}

pub fn start(logdir: &Path, model: Option<&Path>, max_upload: usize) -> Server {
    let predictor = model.map(|m| kiln_studio::Predictor::load(m, Some(classes())).unwrap());
    let state = Arc::new(kiln_studio::AppState {
        store: kiln_studio::RunStore::open(logdir).unwrap(),
        predictor,
        classes: classes(),
        max_upload,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move { axum::serve(listener, kiln_studio::router(state)).await });
    Server {
        url: format!("http://127.0.0.1:{port}"),
        port,
        _rt: rt,
    }
}

/// An HTTP agent that returns error statuses as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

/// (status, body) of a GET.
pub fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    let mut r = agent.get(url).call().unwrap();
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// (status, body) of a POST.
pub fn post(agent: &ureq::Agent, url: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut r = agent
        .post(url)
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let b = r
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    (r.status().as_u16(), b)
}

pub fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
