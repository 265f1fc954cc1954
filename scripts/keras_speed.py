"""Keras's side of scripts/bench_vs_keras.sh, on the same models, batch and data sizes as
kiln's benches/train_step.rs: the tutorial MLP's `fit` epoch (60,000 synthetic 28x28 images,
batch 32, Adam, no validation, verbose=0; the median wall time of epochs 2 and 3) and the seed
CNN's training step as a `tf.function` GradientTape step, the model of kiln's bench ('same'
convolution and pooling, softmax output; batch 32, samples/s over 100 steps after 10 warm-up
steps). Prints one JSON line."""
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

rng = np.random.default_rng(0)
x = rng.random((60000, 28, 28), dtype=np.float32)
y = (np.arange(60000) % 10).astype(np.int32)


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times = getattr(self, "times", []) + [time.perf_counter() - self.t]


mlp = keras.Sequential([
    keras.Input((28, 28)),
    keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10),
])
mlp.compile(optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"])
times = EpochTimes()
mlp.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[times])
mlp_epoch = float(np.median(times.times[1:]))

cnn = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
    keras.layers.MaxPooling2D(padding="same"),
    keras.layers.Flatten(),
    keras.layers.Dense(256, activation="relu"),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
opt = keras.optimizers.Adam(1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy()
xb = tf.constant(x[:32, :, :, None])
yb = tf.constant(y[:32])


@tf.function
def step(xb, yb):
    with tf.GradientTape() as tape:
        loss = loss_fn(yb, cnn(xb, training=True))
    grads = tape.gradient(loss, cnn.trainable_variables)
    opt.apply_gradients(zip(grads, cnn.trainable_variables))
    return loss


for _ in range(10):
    step(xb, yb).numpy()
t = time.perf_counter()
for _ in range(100):
    loss = step(xb, yb)
loss.numpy()
cnn_rate = 100 * 32 / (time.perf_counter() - t)
print(json.dumps({"mlp_epoch_s": round(mlp_epoch, 3), "cnn_samples_per_s": round(cnn_rate, 1)}))
