# Shared by the scripts in this directory: paths and the wasm32 toolchain choice.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# Tools installed by `cargo install` land here.
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# Prints how to invoke cargo for wasm32: rustup's own target when installed, otherwise
# Debian's toolchain (rustc-web) whose wasm32 std `setup.sh` builds once.
wasm_cargo() {
  if command -v rustup >/dev/null 2>&1 \
     && rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "cargo"
  else
    # Debian's rustc expects a `rust-lld` it does not ship; LLVM's own lld links wasm32.
    echo "env RUSTC=/usr/bin/rustc CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=$(debian_lld) /usr/bin/cargo"
  fi
}

# The newest LLVM lld from Debian's packages (installed by setup.sh with the toolchain).
debian_lld() {
  local lld
  lld="$(compgen -G '/usr/lib/llvm-*/bin/lld' | sort -V | tail -n 1 || true)"
  echo "${lld:-/usr/lib/llvm-22/bin/lld}"
}

# The exact wasm-bindgen version in Cargo.lock; the CLI must match it.
locked_wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}
