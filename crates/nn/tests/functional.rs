//! The functional API: graphs with skip connections, shared layers, several inputs and outputs;
//! their training checked against hand computations, ResNet50's table against Keras's own
//! output, and bad graphs refused with errors naming the layer.

mod common;

use common::{array, quiet, tmp, with_architecture};
use kiln_device::rng::Rng;
use kiln_device::testing::test_device;
use kiln_nn::applications::ResNet50;
use kiln_nn::init::Initializer;
use kiln_nn::prelude::*;

#[test]
fn resnet50_prints_keras_own_table_and_counts() {
    let Some(dev) = test_device() else { return };
    let model = ResNet50::new().build(&dev).unwrap();
    // Printed by Keras 3.15.1: keras.applications.ResNet50(weights=None).summary().
    let keras = include_str!("golden/keras_resnet50_summary.txt");
    assert_eq!(model.summary(), keras);
    assert_eq!(model.count_params(), (25_636_712, 25_583_592, 53_120));
    let notop = ResNet50::new().include_top(false).build(&dev).unwrap();
    assert_eq!(notop.count_params().0, 23_587_712);
    assert!(model.get_layer("conv5_block3_3_conv").is_some());
}

/// x -> Dense(8, relu) -> Dense(8) added to the Dense(8, relu) output (a skip) -> Dense(2).
fn residual(dev: &Device) -> Model {
    let x = Input::new(&[4]);
    let h = Dense::new(8).activation("relu").unwrap().apply(&x);
    let branch = Dense::new(8).named("branch").apply(&h);
    let sum = Add::new().apply_many(&[&h, &branch]);
    let out = Dense::new(2).named("out").apply(&sum);
    let mut m = Model::with_seed(dev, 3, &[&x], &[&out]).unwrap();
    m.compile(
        Optimizer::adam(0.02),
        Loss::SparseCategoricalCrossentropy { from_logits: true },
        &[MetricKind::Accuracy],
    )
    .unwrap();
    m
}

#[test]
fn a_residual_model_trains_and_shows_its_skip_connection() {
    let Some(dev) = test_device() else { return };
    let mut rng = Rng::new(1);
    let x = array(&mut rng, &[256, 4]);
    let labels: Vec<u32> = x
        .as_f32()
        .unwrap()
        .chunks(4)
        .map(|r| u32::from(r[0] * r[1] > 0.0))
        .collect();
    let y = Array::u32(labels, &[256]).unwrap();
    let mut m = residual(&dev);
    let h = m.fit(&x, &y, quiet(25, 32)).unwrap();
    let loss = h.get("loss");
    assert!(loss[24] < loss[0] * 0.6, "{loss:?}");
    assert!(h.get("accuracy")[24] > 0.85, "{:?}", h.get("accuracy"));
    let table = m.summary();
    assert!(
        table.contains("Connected to") && table.contains("dense[0][0],"),
        "{table}"
    );
    let add = m.graph_nodes().into_iter().find(|n| n.op == "Add").unwrap();
    assert_eq!(add.inputs, ["functional/dense", "functional/branch"]);
}

#[test]
fn a_shared_layer_is_one_weight_whose_gradient_sums_both_calls() {
    let Some(dev) = test_device() else { return };
    // y = W x1 + W x2 with one W; one SGD step on MSE against t must give
    // W - lr * dL/dW, dL/dW = (x1 + x2)^T 2 (y - t) / (batch * outputs).
    let (a, b) = (Input::new(&[3]), Input::new(&[3]));
    let shared = Shared::new(
        Dense::new(2)
            .use_bias(false)
            .kernel_initializer(Initializer::Constant(0.1)),
    );
    let sum = Add::new().apply_many(&[&shared.apply(&a), &shared.apply(&b)]);
    let mut m = Model::new(&dev, &[&a, &b], &[&sum]).unwrap();
    assert_eq!(m.weights().len(), 1, "one layer, one kernel");
    let lr = 0.1;
    m.compile(Optimizer::sgd(lr), Loss::MeanSquaredError, &[])
        .unwrap();
    let x1 = [1.0f32, 2.0, -1.0, 0.5, 0.0, 1.0];
    let x2 = [0.0f32, 1.0, 1.0, -2.0, 1.0, 0.5];
    let t = [1.0f32, 0.0, -1.0, 2.0];
    let arr = |v: &[f32], s: &[usize]| Array::f32(v.to_vec(), s).unwrap();
    let (xa, xb, ty) = (arr(&x1, &[2, 3]), arr(&x2, &[2, 3]), arr(&t, &[2, 2]));
    m.fit([&xa, &xb], &ty, quiet(1, 2)).unwrap();
    let mut grad = [0.0f64; 6];
    for r in 0..2 {
        let s: Vec<f64> = (0..3)
            .map(|k| (x1[r * 3 + k] + x2[r * 3 + k]) as f64)
            .collect();
        for o in 0..2 {
            let y: f64 = s.iter().map(|v| v * 0.1).sum();
            let d = 2.0 * (y - t[r * 2 + o] as f64) / 4.0;
            for k in 0..3 {
                grad[k * 2 + o] += s[k] * d;
            }
        }
    }
    let want: Vec<f64> = grad.iter().map(|g| 0.1 - lr as f64 * g).collect();
    let got = m.get_weights().unwrap().remove(0);
    for (g, w) in got.iter().zip(&want) {
        assert!((*g as f64 - w).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

#[test]
fn two_inputs_and_two_outputs_train_with_their_own_losses_and_weights() {
    let Some(dev) = test_device() else { return };
    let (a, b) = (Input::named("a", &[4]), Input::named("b", &[2]));
    let joined = Concatenate::new().apply_many(&[&a, &b]);
    let reg = Dense::new(1).named("reg").apply(&joined);
    let cls = Dense::new(3).named("cls").apply(&a);
    let mut m = Model::with_seed(&dev, 5, &[&a, &b], &[&reg, &cls]).unwrap();
    let spec = |loss, weight, metrics: &[MetricKind]| OutputSpec {
        loss,
        weight,
        metrics: metrics.to_vec(),
    };
    let ce = Loss::SparseCategoricalCrossentropy { from_logits: true };
    m.compile_outputs(
        Optimizer::adam(0.01),
        vec![
            spec(Loss::MeanSquaredError, 0.5, &[]),
            spec(ce, 2.0, &[MetricKind::Accuracy]),
        ],
    )
    .unwrap();
    let mut rng = Rng::new(7);
    let (xa, xb) = (array(&mut rng, &[64, 4]), array(&mut rng, &[64, 2]));
    let target: Vec<f32> = (0..64)
        .map(|i| xa.as_f32().unwrap()[i * 4] + xb.as_f32().unwrap()[i * 2])
        .collect();
    let yr = Array::f32(target.clone(), &[64, 1]).unwrap();
    let labels: Vec<u32> = (0..64).map(|i| (i % 3) as u32).collect();
    let yc = Array::u32(labels.clone(), &[64]).unwrap();
    let logs = m.evaluate([&xa, &xb], [&yr, &yc], 16).unwrap();
    let keys: Vec<&str> = logs.values.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["loss", "reg_loss", "cls_loss", "cls_accuracy"]);
    // The losses by hand from the model's own outputs.
    let outs = m.predict_outputs([&xa, &xb], 16).unwrap();
    let mse: f64 = (0..64)
        .map(|i| (outs[0].as_f32().unwrap()[i] - target[i]) as f64)
        .map(|d| d * d)
        .sum::<f64>()
        / 64.0;
    let xent: f64 = (0..64)
        .map(|i| {
            let z: Vec<f64> = outs[1].as_f32().unwrap()[i * 3..i * 3 + 3]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let max = z.iter().cloned().fold(f64::MIN, f64::max);
            let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            lse - z[labels[i] as usize]
        })
        .sum::<f64>()
        / 64.0;
    let close = |k: &str, want: f64| {
        let got = logs.get(k).unwrap() as f64;
        assert!(
            (got - want).abs() < 1e-4 * want.abs().max(1.0),
            "{k}: {got} vs {want}"
        );
    };
    close("reg_loss", mse);
    close("cls_loss", xent);
    close("loss", 0.5 * mse + 2.0 * xent);
    let h = m.fit([&xa, &xb], [&yr, &yc], quiet(10, 16)).unwrap();
    assert!(
        h.get("reg_loss")[9] < h.get("reg_loss")[0],
        "{:?}",
        h.get("reg_loss")
    );
    let e = m.fit(&xa, &yr, quiet(1, 16)).unwrap_err().to_string();
    assert!(e.contains("2 inputs, got 1"), "{e}");
}

#[test]
fn bad_graphs_are_errors_naming_the_layer() {
    let Some(dev) = test_device() else { return };
    let (a, b) = (Input::named("a", &[4]), Input::named("b", &[3]));
    let out = Dense::new(2).named("only_a").apply(&a);
    let e = Model::new(&dev, &[&a, &b], &[&out])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("\"b\"") && e.contains("not connected"), "{e}");
    let uses_b = Dense::new(2).named("uses_b").apply(&b);
    let e = Model::new(&dev, &[&a], &[&uses_b])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("disconnected") && e.contains("uses_b") && e.contains("\"b\""),
        "{e}"
    );
    let wide = Dense::new(5).apply(&a);
    let bad_add = Add::new().named("join").apply_many(&[&out, &wide]);
    let e = Model::new(&dev, &[&a], &[&bad_add])
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("join") && e.contains("[2]") && e.contains("[5]"),
        "{e}"
    );
    let x = Input::new(&[4]);
    let one = Dense::new(2).named("twin").apply(&x);
    let two = Dense::new(2).named("twin").apply(&one);
    let e = Model::new(&dev, &[&x], &[&two]).err().unwrap().to_string();
    assert!(e.contains("twin") && e.contains("unique"), "{e}");
    // A file whose graph has a cycle: each of two layers reads the other.
    let x = Input::new(&[4]);
    let h = Dense::new(4).named("first").apply(&x);
    let o = Dense::new(4).named("second").apply(&h);
    let m = Model::new(&dev, &[&x], &[&o]).unwrap();
    let path = tmp("cycle.safetensors");
    m.save(&path).unwrap();
    let cyclic = with_architecture(&path, "cyclic.safetensors", |arch| {
        for l in arch["layers"].as_array_mut().unwrap() {
            if l["name"] == "first" {
                l["inbound_nodes"] = serde_json::json!([[["second", 0, 0, {}]]]);
            }
        }
    });
    let e = load_model(&cyclic, &dev).err().unwrap().to_string();
    assert!(
        e.contains("cycle") && (e.contains("first") || e.contains("second")),
        "{e}"
    );
}
