"""Keras reference for examples/fashion_mnist_cnn.rs: the same model, Adam with the learning rate
decayed from 1e-3 to 0 by CosineDecay over the run, batch 32, a full shuffle per epoch, 2 epochs,
on the Debian dataset files. Prints the test accuracy per seed, to compare kiln's result with
Keras's seed-to-seed spread. `--constant` trains with a constant 1e-3 instead.

Run: python3 -m venv /tmp/tfv && /tmp/tfv/bin/pip install tensorflow-cpu numpy
     /tmp/tfv/bin/python scripts/keras_cnn_reference.py 1 2 3
"""

import gzip
import os
import sys

import numpy as np
import tensorflow as tf

DATA = os.environ.get("KILN_DATA", "/usr/share/datasets/fashion-mnist")


def idx(prefix):
    name = [f for f in sorted(os.listdir(DATA)) if f.startswith(prefix)][0]
    path = os.path.join(DATA, name)
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)


def run(seed, constant):
    x_train = idx("train-images").astype("float32") / 255.0
    y_train = idx("train-labels").astype("int64")
    x_test = idx("t10k-images").astype("float32") / 255.0
    y_test = idx("t10k-labels").astype("int64")
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Input((28, 28)),
            tf.keras.layers.Reshape((28, 28, 1)),
            tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            tf.keras.layers.MaxPooling2D(2, 2, padding="same"),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(256, activation="relu"),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(
            1e-3
            if constant
            else tf.keras.optimizers.schedules.CosineDecay(1e-3, 2 * len(x_train) // 32)
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=2, shuffle=True, verbose=0)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"seed {seed}: test accuracy {acc:.4f}, test loss {loss:.4f}")


if __name__ == "__main__":
    constant = "--constant" in sys.argv
    for s in [a for a in sys.argv[1:] if a != "--constant"] or ["1"]:
        run(int(s), constant)
