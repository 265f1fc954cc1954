//! End-to-end training on real data: Fashion-MNIST subsets reach stated accuracies within CI
//! time, with both the MLP of the TensorFlow tutorial and a small CNN. The test script installs
//! the dataset and sets KILN_REQUIRE_DATA=1; elsewhere a missing dataset skips with the reason.

use kiln::device::testing::test_device;
use kiln::nn::prelude::*;

fn data() -> Option<FashionMnist> {
    match FashionMnist::load() {
        Ok(d) => Some(d),
        Err(e) if std::env::var("KILN_REQUIRE_DATA").as_deref() != Ok("1") => {
            eprintln!("skipping Fashion-MNIST training test: {e}");
            None
        }
        Err(e) => panic!("KILN_REQUIRE_DATA=1 but {e}"),
    }
}

#[test]
fn mlp_on_6000_images_for_2_epochs_reaches_80_percent() {
    let (Some(dev), Some(d)) = (test_device(), data()) else {
        return;
    };
    let mut m = Sequential::with_seed(&dev, 42);
    m.add(Flatten::new()).unwrap();
    m.add(Dense::new(128).activation("relu").unwrap()).unwrap();
    m.add(Dense::new(10)).unwrap();
    m.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    let h = m
        .fit(
            &d.train_images.slice(0, 6000),
            &d.train_labels.slice(0, 6000),
            FitConfig::epochs(2).verbose(0).seed(1),
        )
        .unwrap();
    let test = m
        .evaluate(
            &d.test_images.slice(0, 2000),
            &d.test_labels.slice(0, 2000),
            256,
        )
        .unwrap();
    let acc = test.get("accuracy").unwrap();
    eprintln!("MLP: test accuracy {acc:.4} after 2 epochs on 6,000 images");
    assert!(
        acc >= 0.80,
        "test accuracy {acc} after 2 epochs on 6,000 images (history {:?})",
        h.get("accuracy")
    );
}

#[test]
fn cnn_on_3000_images_for_2_epochs_reaches_76_percent() {
    let (Some(dev), Some(d)) = (test_device(), data()) else {
        return;
    };
    let mut m = Sequential::with_seed(&dev, 7);
    m.add(Reshape::new(&[28, 28, 1])).unwrap();
    m.add(
        Conv2D::new(16, 3)
            .padding("same")
            .unwrap()
            .activation("relu")
            .unwrap(),
    )
    .unwrap();
    m.add(MaxPooling2D::new(2)).unwrap();
    m.add(BatchNormalization::new()).unwrap();
    m.add(Flatten::new()).unwrap();
    m.add(Dropout::new(0.2).unwrap()).unwrap();
    m.add(Dense::new(10)).unwrap();
    m.compile(
        Optimizer::adam(1e-3),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m.fit(
        &d.train_images.slice(0, 3000),
        &d.train_labels.slice(0, 3000),
        FitConfig::epochs(2).verbose(0).seed(1),
    )
    .unwrap();
    let acc = m
        .evaluate(
            &d.test_images.slice(0, 1000),
            &d.test_labels.slice(0, 1000),
            100,
        )
        .unwrap()
        .get("accuracy")
        .unwrap();
    eprintln!("CNN: test accuracy {acc:.4} after 2 epochs on 3,000 images");
    assert!(acc >= 0.76, "CNN test accuracy {acc}");
}
