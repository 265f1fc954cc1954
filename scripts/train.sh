#!/usr/bin/env bash
# The main job: the TensorFlow basic-classification tutorial on Fashion-MNIST, on the GPU (or
# lavapipe), writing a TensorBoard run under runs/. Installs the Vulkan driver and the dataset
# (Debian's dataset-fashion-mnist) when they are missing.
cd "$(dirname "$0")/.."
. scripts/env.sh mesa-vulkan-drivers libvulkan1 dataset-fashion-mnist
cargo run --release --example fashion_mnist "$@"
echo "View the run: pip install tensorboard && tensorboard --logdir runs"
