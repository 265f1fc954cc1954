#!/usr/bin/env bash
# The whole test suite, in release mode, with REQUIRE_GPU=1 so a missing adapter fails the GPU
# tests instead of skipping them. Installs the Vulkan driver (lavapipe) when none is present.
cd "$(dirname "$0")/.."
. scripts/env.sh mesa-vulkan-drivers libvulkan1
export REQUIRE_GPU=1
# The real TensorBoard checks our event files (../shared/tbcheck, present in CI).
if [ -f ../shared/tbcheck/setup.sh ]; then
    export TBCHECK_VENV="$PWD/.tbcheck-venv" KILN_REQUIRE_TBCHECK=1
    bash ../shared/tbcheck/setup.sh
else
    echo "kiln: ../shared/tbcheck not found: the real-TensorBoard checks will be skipped" >&2
fi
set -x
# Style gates need rustup's rustfmt and clippy components (in rustup's default profile).
if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all -- --check; else echo "kiln: rustfmt missing (rustup component add rustfmt): format check skipped" >&2; fi
if cargo clippy --version >/dev/null 2>&1; then cargo clippy --workspace --all-targets --release -- -D warnings; else echo "kiln: clippy missing (rustup component add clippy): lint skipped" >&2; fi
cargo test --workspace --release
# Examples double as acceptance tests: each exits non-zero below its target accuracy.
KILN_TARGET_ACC=0.95 cargo run --release --example spirals
