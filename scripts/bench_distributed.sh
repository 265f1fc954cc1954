#!/usr/bin/env bash
# Step time and communication time per step of data-parallel training, np = 1 and 2, alternating
# (3 pairs), on the tutorial MLP: 1 epoch of 6,400 Fashion-MNIST images, global batch 32
# (np=1: 32 per rank; np=2: 16 per rank), no validation. Each line is the example's JSON:
# ms_per_step (whole step), readback_ms_per_step (waiting for the step's GPU work and the
# gradient readback), all_reduce_ms_per_step, gradient_bytes_per_step. Needs the mpi feature's
# packages (apt-get install libopenmpi-dev openmpi-bin libclang-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh libopenmpi-dev openmpi-bin libclang-dev dataset-fashion-mnist
cargo build --release --features mpi --example fashion_mnist_distributed
bin=target/release/examples/fashion_mnist_distributed
run() {
    local np=$1 batch=$2 dir
    dir=$(mktemp -d)
    LP_NUM_THREADS=${LP_NUM_THREADS:-$((2 / np > 0 ? 2 / np : 1))} KILN_SAMPLES=6400 KILN_EPOCHS=1 \
        KILN_BATCH=$batch KILN_VALIDATE=0 KILN_RUN_DIR="$dir" \
        mpirun --allow-run-as-root --oversubscribe --mca mpi_yield_when_idle 1 -np "$np" "$bin" \
        | grep '^{'
    rm -rf "$dir"
}
echo "adapter: $(cargo run --release -q --example device_info 2>/dev/null | head -1)"
for pair in 1 2 3; do
    run 1 32
    run 2 16
done
