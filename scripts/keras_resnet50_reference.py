"""The Keras side of tests/keras_interop.rs: a randomly initialised Keras ResNet50 (logits, no
softmax) whose BatchNormalization statistics are calibrated on random images (each layer's
moving mean and variance set to its input's batch statistics, so activations keep a unit scale
through the 16 blocks), its weights exported with keras_to_kiln.py, and its logits for two
other random images, in inference mode.

Run: python scripts/keras_resnet50_reference.py OUT_DIR   (writes weights.safetensors and
     reference.safetensors with the input images and Keras's logits)
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from keras_to_kiln import export  # noqa: E402


def main(out):
    keras.utils.set_random_seed(7)
    model = keras.applications.ResNet50(weights=None, classifier_activation=None)
    rng = np.random.default_rng(7)
    # Calibrate: with momentum 0, one training-mode call sets each layer's moving statistics
    # to its batch statistics.
    bns = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    for bn in bns:
        bn.momentum = 0.0
    calib = rng.uniform(-1, 1, (4, 224, 224, 3)).astype("float32")
    model(calib, training=True)
    for bn in bns:
        bn.momentum = 0.99
        gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
        bn.gamma.assign(gamma * rng.uniform(0.8, 1.2, gamma.shape).astype("float32"))
        bn.beta.assign(beta + rng.uniform(-0.1, 0.1, beta.shape).astype("float32"))
    images = rng.uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    logits = np.asarray(model(images, training=False), dtype=np.float32)
    os.makedirs(out, exist_ok=True)
    n = export(model, os.path.join(out, "weights.safetensors"))
    save_file({"images": images, "logits": logits}, os.path.join(out, "reference.safetensors"))
    print(f"{n} tensors; logits range {logits.min():.3f}..{logits.max():.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
