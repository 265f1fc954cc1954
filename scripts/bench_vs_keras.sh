#!/usr/bin/env bash
# kiln against Keras on this machine, side by side: 3 alternating pairs of kiln's
# benches/train_step.rs and Keras's scripts/keras_speed.py (the tutorial MLP's fit epoch, the
# seed CNN's training step). Prints each pair's ratios, their medians and one JSON line:
# mlp_epoch_ratio = kiln / Keras epoch time (target <= 1), cnn_step_ratio = kiln / Keras
# samples/s (target >= 0.5). Installs tensorflow-cpu into .tf-venv when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh mesa-vulkan-drivers libvulkan1
if [ ! -x .tf-venv/bin/python ] || ! .tf-venv/bin/python -c 'import keras, numpy' 2>/dev/null; then
    python3 -m venv .tf-venv 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null && python3 -m venv .tf-venv; }
    .tf-venv/bin/python -m pip install -q --disable-pip-version-check tensorflow-cpu==2.21.0 numpy
fi
cargo build --release --bench train_step -q
echo "date: $(date -u +%F), $(nproc) cores"
pairs=()
for i in 1 2 3; do
    cargo bench --bench train_step -q >/dev/null
    kiln=$(cat target/bench/train_step.json)
    keras=$(.tf-venv/bin/python scripts/keras_speed.py 2>/dev/null | tail -1)
    pairs+=("$kiln|$keras")
done
printf '%s\n' "${pairs[@]}" | .tf-venv/bin/python -c '
import json, statistics, sys
mlp, cnn = [], []
for line in sys.stdin:
    k, t = (json.loads(p) for p in line.strip().split("|"))
    # The path fit takes by default: host-gathered batches on CPU adapters, GPU-gathered ones on GPUs.
    k["mlp_epoch_s"] = k["mlp_epoch_host_batches_s"] if "(Cpu," in k["adapter"] else k["mlp_epoch_s"]
    mlp.append(k["mlp_epoch_s"] / t["mlp_epoch_s"])
    cnn.append(k["cnn_samples_per_s"] / t["cnn_samples_per_s"])
    print("adapter %s: MLP epoch kiln %.2f s, Keras %.2f s, ratio %.2f; CNN step kiln %.0f, Keras %.0f samples/s, ratio %.3f"
          % (k["adapter"], k["mlp_epoch_s"], t["mlp_epoch_s"], mlp[-1], k["cnn_samples_per_s"], t["cnn_samples_per_s"], cnn[-1]))
print("median MLP epoch ratio (kiln/Keras, target <= 1): %.2f; median CNN step ratio (kiln/Keras samples/s, target >= 0.5): %.3f"
      % (statistics.median(mlp), statistics.median(cnn)))
print(json.dumps({"mlp_epoch_ratio": round(statistics.median(mlp), 3), "cnn_step_ratio": round(statistics.median(cnn), 4),
                  "mlp_ratios": [round(r, 3) for r in mlp], "cnn_ratios": [round(r, 4) for r in cnn]}))
'
