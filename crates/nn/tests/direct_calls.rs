//! Layers called directly, outside a built model (which checks its input shapes first), on a
//! tensor of the wrong shape or rank: an error naming the layer, never a panic.

use kiln_device::testing::test_device;
use kiln_nn::CallCtx;
use kiln_nn::prelude::*;

fn err_of(r: kiln_nn::Result<impl std::fmt::Debug>) -> String {
    r.map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

/// Every image layer on a tensor that is not a batch of images [batch, height, width, channels].
#[test]
fn an_image_layer_called_on_a_non_image_is_an_error() {
    let Some(dev) = test_device() else { return };
    let f = || Factor::Symmetric(0.1);
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(RandomFlip::new(FlipMode::HorizontalAndVertical, None)),
        Box::new(RandomCrop::new(2, 2, None)),
        Box::new(RandomTranslation::new(f(), f())),
        Box::new(RandomRotation::new(f())),
        Box::new(RandomZoom::new(f(), None)),
        Box::new(RandomContrast::new(f())),
        Box::new(Resizing::new(2, 2)),
        Box::new(CenterCrop::new(2, 2)),
    ];
    let flat = Tensor::from_f32(&dev, &[0.5; 12], &[2, 6]).unwrap();
    let scalar = Tensor::from_f32(&dev, &[0.5], &[]).unwrap();
    for layer in &layers {
        for x in [&flat, &scalar] {
            let e = err_of(layer.call(x, &CallCtx::new(true, 1)));
            assert!(
                e.contains(layer.class_name()),
                "{}: {e}",
                layer.class_name()
            );
        }
    }
}

/// A built BatchNormalization on a tensor without its channel count on the last axis, and a
/// Reshape and Concatenate on tensors without a batch axis.
#[test]
fn built_layers_called_on_a_wrong_shape_are_errors() {
    let Some(dev) = test_device() else { return };
    let mut m = Sequential::new(&dev);
    m.add(BatchNormalization::new()).unwrap();
    m.add(Reshape::new(&[2, 2])).unwrap();
    m.build(&[4]).unwrap();
    let ctx = CallCtx::new(true, 1);
    let scalar = Tensor::from_f32(&dev, &[1.0], &[]).unwrap();
    let three = Tensor::from_f32(&dev, &[1.0; 6], &[2, 3]).unwrap();
    let names = m.layer_names();
    let (bn, reshape) = (
        m.get_layer(names[0]).unwrap(),
        m.get_layer(names[1]).unwrap(),
    );
    for x in [&scalar, &three] {
        let e = err_of(bn.call(x, &ctx));
        assert!(
            e.contains("BatchNormalization") && e.contains("4 channels"),
            "{e}"
        );
    }
    assert!(err_of(reshape.call(&scalar, &ctx)).contains("batch axis"));
    let e = err_of(Concatenate::new().call_inputs(&[scalar.clone(), scalar], &ctx));
    assert!(e.contains("Concatenate"), "{e}");
}
