#!/usr/bin/env bash
# The check to run whenever a machine with a real GPU is at hand: the GPU test suites with
# REQUIRE_GPU=1 (a missing adapter fails them), then every benchmark, each with its JSON, and
# one summary JSON with the figures the README records (best FP32 matmul GFLOP/s, MLP and CNN
# step rates, MLP epoch time, first-step time).
#
#   scripts/gpu_check.sh [OUT]             build, test and benchmark here (needs cargo)
#   scripts/gpu_check.sh --prepare FILE    build the test and bench executables here and pack
#                                          them, stripped, into FILE (.tar.xz, about 40 MB) for a
#                                          GPU machine without a Rust toolchain (same CPU
#                                          architecture, a copy of this repository)
#   scripts/gpu_check.sh --run FILE [OUT]  unpack FILE and run its executables from this
#                                          repository's root
# The packed executables built on Debian 12 need glibc 2.35 or newer where they run (Ubuntu
# 22.04 and later) and a Vulkan loader (libvulkan1) with the GPU's driver.
#
# OUT (default target/gpu-check) receives tests.log, benches.log, the benches' JSON files and
# summary.json (7 files). Every benchmark ends each timed region with a GPU wait. The script exits non-zero
# when any test or benchmark fails, after running the rest. GPU_PEAK_TFLOPS (the GPU's FP32
# peak, e.g. 67 for an H200 SXM) adds the matmul figure's share of it to the summary.
# GPU_CHECK_ONLY (an extended regex) runs only the executables whose names match, for a rerun.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The suites that exercise the adapter (device kernels, autodiff, layers and training) and the
# root package's integration tests; the browser, MPI and Keras interop suites need tools a GPU
# machine may lack and test nothing GPU-specific beyond these.
test_packages=(kiln-device kiln-graph kiln-nn kiln)
benches=(matmul conv2d train_step input_pipeline)

summary() { # $1: folder holding the benches' JSON files
    python3 - "$1" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}
m, t = load("matmul"), load("train_step")
best = 0.0
for r in m.get("results", []):
    for k in ("texture_gflops", "register_tile_gflops", "shared_tiles_gflops"):
        if isinstance(r.get(k), (int, float)):
            best = max(best, r[k])
s = {"adapter": t.get("adapter") or m.get("adapter"),
     "matmul_best_fp32_gflops": round(best, 1),
     "first_step_s": t.get("first_step_s"),
     "mlp_samples_per_s": t.get("mlp_samples_per_s"),
     "cnn_samples_per_s": t.get("cnn_samples_per_s"),
     "mlp_epoch_s": t.get("mlp_epoch_s"),
     "mlp_epoch_host_batches_s": t.get("mlp_epoch_host_batches_s")}
peak = os.environ.get("GPU_PEAK_TFLOPS")
if peak:
    s["matmul_share_of_peak"] = round(best / (float(peak) * 1e3), 4)
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(s, f)
print(json.dumps(s))
EOF
}

gpu_env() {
    export REQUIRE_GPU=1
    if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
        export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/kiln-xdg-$(id -u)"
        mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
    fi
}

# Prints "kind name path" for every test (kind "test") or bench ("bench") executable in cargo's
# JSON messages on stdin.
executables() {
    python3 -c '
import json, sys
kind = sys.argv[1]
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    if kind == "bench" and "bench" in t["kind"]:
        print("bench", t["name"], m["executable"])
    elif kind == "test" and m["profile"]["test"]:
        package = m["package_id"].split("#")[-1].split("@")[0].split("/")[-1]
        print("test", package + "-" + t["name"], m["executable"])
' "$1"
}

# Builds the test executables of test_packages and the benches; prints "kind name path" lines.
build_list() {
    local pkgs=() bench_args=()
    for p in "${test_packages[@]}"; do pkgs+=(-p "$p"); done
    for b in "${benches[@]}"; do bench_args+=(--bench "$b"); done
    cargo test --release "${pkgs[@]}" --no-run --message-format=json 2>/dev/null | executables test
    cargo bench "${bench_args[@]}" --no-run --message-format=json 2>/dev/null | executables bench
}

# Runs "kind name path" lines from stdin in $1 (OUT); returns the number of failures.
run_list() {
    local out=$1 fails=0 kind name exe work
    work=$(mktemp -d)
    : >"$out/tests.log"
    : >"$out/benches.log"
    while read -r kind name exe; do
        if [ -n "${GPU_CHECK_ONLY:-}" ] && ! [[ $name =~ $GPU_CHECK_ONLY ]]; then
            continue
        fi
        if [ "$kind" = test ]; then
            echo "== $name" | tee -a "$out/tests.log"
            # Integration tests find their fixtures from the repository root.
            if ! (cd "$root" && "$exe" --test-threads=1 </dev/null >>"$out/tests.log" 2>&1); then
                echo "FAILED: $name" | tee -a "$out/tests.log"
                fails=$((fails + 1))
            fi
        else
            echo "== bench $name" | tee -a "$out/benches.log"
            # The benches write target/bench/NAME.json under their working directory.
            if (cd "$work" && "$exe" </dev/null >"$work/$name.log" 2>&1); then
                cp "$work/target/bench/$name.json" "$out/" 2>/dev/null || true
                tail -n 3 "$work/$name.log"
            else
                echo "FAILED: bench $name (see $out/benches.log)" | tee -a "$out/benches.log"
                fails=$((fails + 1))
            fi
            cat "$work/$name.log" >>"$out/benches.log"
        fi
    done
    rm -rf "$work"
    grep -h "^test result" "$out/tests.log" | awk '{p+=$4; f+=$6} END {print "tests: " p " passed, " f " failed"}'
    return "$fails"
}

case "${1:-}" in
--prepare)
    file=${2:?usage: scripts/gpu_check.sh --prepare FILE.tar.xz}
    dir=$(mktemp -d)
    mkdir -p "$dir/bin"
    : >"$dir/list"
    # Tests that read sources or fixtures through env!("CARGO_MANIFEST_DIR") look for this
    # checkout's path; --run makes it point at the copy it runs in.
    echo "$root" >"$dir/root"
    build_list | while read -r kind name exe; do
        cp "$exe" "$dir/bin/$name"
        strip "$dir/bin/$name" 2>/dev/null || true
        echo "$kind $name bin/$name" >>"$dir/list"
    done
    tar -C "$dir" -cf - . | xz -6 -T0 >"$file"
    echo "packed $(wc -l <"$dir/list") executables into $file ($(du -h "$file" | cut -f1))"
    rm -rf "$dir"
    ;;
--run)
    file=${2:?usage: scripts/gpu_check.sh --run FILE.tar.xz [OUT]}
    out=${3:-target/gpu-check}
    mkdir -p "$out" && out=$(cd "$out" && pwd)
    dir=$(mktemp -d)
    xz -dc "$file" | tar -C "$dir" -xf - || { echo "gpu_check: cannot unpack $file" >&2; exit 1; }
    built=$(cat "$dir/root")
    if [ "$built" != "$root" ] && [ ! -e "$built" ]; then
        mkdir -p "$(dirname "$built")" && ln -s "$root" "$built"
    fi
    gpu_env
    nvidia-smi 2>/dev/null | head -n 12 || true
    sed "s| bin/| $dir/bin/|" "$dir/list" | run_list "$out"
    fails=$?
    summary "$out"
    exit "$fails"
    ;;
*)
    command -v cargo >/dev/null || { echo "gpu_check: no cargo here; pack the executables with --prepare on a machine that has it, then use --run" >&2; exit 1; }
    out=${1:-target/gpu-check}
    mkdir -p "$out" && out=$(cd "$out" && pwd)
    gpu_env
    nvidia-smi 2>/dev/null | head -n 12 || true
    build_list >"$out/list"
    run_list "$out" <"$out/list"
    fails=$?
    summary "$out"
    exit "$fails"
    ;;
esac
