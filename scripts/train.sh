#!/usr/bin/env bash
# The main job: trains a model on the GPU (or lavapipe) and prints the adapter, loss and accuracy.
# Installs the Vulkan driver when none is present.
cd "$(dirname "$0")/.."
. scripts/env.sh mesa-vulkan-drivers libvulkan1
exec cargo run --release --example spirals "$@"
