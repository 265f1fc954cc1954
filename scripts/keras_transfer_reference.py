"""Keras twin of examples/transfer_learning.rs: the same small ResNet (3x3 convolutions without
bias, BatchNormalization with epsilon 1.001e-5 and momentum 0.9, one basic block per stage,
16/32/64 filters, the same layer names), the same three phases on the same images (the first
3000 training images of classes 0-4, then of classes 5-9; every test image of each task), Adam,
batch 32, a full shuffle per epoch. Prints the three test accuracies and each phase's time per
step, per seed, to set kiln's result against Keras's seed-to-seed spread and speed.

Run: /tmp/tfv/bin/python scripts/keras_transfer_reference.py 1 2 3
Env: KILN_EPOCHS (per phase, default 2), KILN_SAMPLES (default 3000), KILN_DATA.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from keras_cnn_reference import idx  # noqa: E402

EPOCHS = int(os.environ.get("KILN_EPOCHS", "2"))
SAMPLES = int(os.environ.get("KILN_SAMPLES", "3000"))


def task(images, labels, lo, n):
    keep = np.flatnonzero((labels >= lo) & (labels < lo + 5))[:n]
    return images[keep].reshape(-1, 28, 28, 1), labels[keep] - lo


def small_resnet(include_top, classes=5, filters=16):
    layers = keras.layers

    def conv(x, f, k, stride, name):
        return layers.Conv2D(f, k, strides=stride, padding="same" if k == 3 else "valid",
                             use_bias=False, name=name)(x)

    def bn(x, name):
        return layers.BatchNormalization(epsilon=1.001e-5, momentum=0.9, name=name)(x)

    inputs = keras.Input((28, 28, 1), name="input_layer")
    x = layers.Activation("relu", name="conv1_relu")(bn(conv(inputs, filters, 3, 1, "conv1_conv"), "conv1_bn"))
    for stage, mult in [(2, 1), (3, 2), (4, 4)]:
        name, f = f"conv{stage}_block1", filters * mult
        stride = 2 if stage > 2 else 1
        shortcut = x
        if stride > 1:
            shortcut = bn(conv(x, f, 1, stride, f"{name}_0_conv"), f"{name}_0_bn")
        y = bn(conv(x, f, 3, stride, f"{name}_1_conv"), f"{name}_1_bn")
        y = layers.Activation("relu", name=f"{name}_1_relu")(y)
        y = bn(conv(y, f, 3, 1, f"{name}_2_conv"), f"{name}_2_bn")
        x = layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = layers.Dense(classes, name="predictions")(x)
    return keras.Model(inputs, x, name="small_resnet")


def phase(model, lr, x, y, tx, ty):
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, epochs=EPOCHS, batch_size=32, shuffle=True, verbose=2)
    per_step = (time.perf_counter() - start) / (EPOCHS * -(-len(x) // 32))
    return model.evaluate(tx, ty, batch_size=256, verbose=0)[1], per_step


def run(seed):
    images = idx("train-images").astype("float32") / 255.0
    labels = idx("train-labels").astype("int64")
    test_images = idx("t10k-images").astype("float32") / 255.0
    test_labels = idx("t10k-labels").astype("int64")
    xa, ya = task(images, labels, 0, SAMPLES)
    ta, tya = task(test_images, test_labels, 0, 10_000)
    xb, yb = task(images, labels, 5, SAMPLES)
    tb, tyb = task(test_images, test_labels, 5, 10_000)
    keras.utils.set_random_seed(seed)

    pre = small_resnet(include_top=True)
    acc_pre, t_pre = phase(pre, 1e-3, xa, ya, ta, tya)

    base = small_resnet(include_top=False)
    base.set_weights(pre.get_weights()[: len(base.get_weights())])
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(5, name="head")(base(inputs)))
    base.trainable = False
    acc_head, t_head = phase(model, 1e-3, xb, yb, tb, tyb)

    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.startswith("conv4_")
    acc_fine, t_fine = phase(model, 1e-4, xb, yb, tb, tyb)
    print(f"seed {seed}: test accuracy pretrained {acc_pre:.4f}, new head {acc_head:.4f}, "
          f"fine-tuned {acc_fine:.4f}; s/step {t_pre:.3f} {t_head:.3f} {t_fine:.3f}", flush=True)


if __name__ == "__main__":
    for s in sys.argv[1:] or ["1"]:
        run(int(s))
