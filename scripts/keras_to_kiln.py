"""Exports a Keras model's weights to a kiln weights file: safetensors, one f32 tensor per weight
named `<layer>/<weight>` (a nested model's as `<model layer>/<layer>/<weight>`), shaped as Keras
stores it, which is the layout kiln uses. kiln loads it with `model.load_weights(path)` (or
`load_weights_by_name` for a model with fewer layers, a backbone without its top), so Keras's
ImageNet ResNet50 weights, say, work in `kiln::nn::applications::ResNet50`.

Run:     python scripts/keras_to_kiln.py MODEL.keras OUT.safetensors
Or use:  from keras_to_kiln import export; export(model, "out.safetensors")
Needs:   keras (tensorflow-cpu), numpy, safetensors
"""

import sys

import numpy as np
from safetensors.numpy import save_file


def short_name(variable):
    """A variable's own name: "kernel" (Keras 3), also from Keras 2's "conv1/kernel:0"."""
    return variable.name.split("/")[-1].split(":")[0]


def named_weights(model, prefix=""):
    """(kiln name, value) for every weight of `model`, layers in order."""
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from named_weights(layer, f"{prefix}{layer.name}/")
            continue
        for v in layer.weights:
            yield f"{prefix}{layer.name}/{short_name(v)}", np.asarray(v.numpy(), dtype=np.float32)


def export(model, path):
    """Writes `model`'s weights to `path`; returns how many tensors were written."""
    tensors = {}
    for name, value in named_weights(model):
        if name in tensors:
            raise ValueError(f"two weights are named {name}: layer names must be unique")
        tensors[name] = np.ascontiguousarray(value)
    save_file(tensors, path, metadata={"format": "kiln-weights", "source": "keras"})
    return len(tensors)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python scripts/keras_to_kiln.py MODEL.keras OUT.safetensors")
    import keras

    n = export(keras.saving.load_model(sys.argv[1]), sys.argv[2])
    print(f"wrote {n} tensors to {sys.argv[2]}")
