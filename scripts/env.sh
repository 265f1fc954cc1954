# Sourced by scripts/train.sh and scripts/test.sh: makes sure a Vulkan driver is present
# (lavapipe on machines without a GPU) and the Rust toolchain is on PATH.
set -euo pipefail

need_pkgs=()
for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "kiln: missing packages ${need_pkgs[*]} and no apt-get: install a Vulkan driver (Mesa lavapipe) and libvulkan1 by hand" >&2
        exit 1
    fi
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "kiln: installing ${need_pkgs[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "kiln: cargo not found; install Rust from rustup (https://rustup.rs)" >&2; exit 1; }

# lavapipe's WSI initialises libwayland, which complains on headless machines without this.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
    export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/kiln-xdg-$(id -u)"
    mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
fi
