#!/usr/bin/env bash
# Installs everything the build and the tests need. Idempotent: a second run only checks.
#   scripts/setup.sh          what the run and test commands need
#   scripts/setup.sh --dev    also cargo-leptos, for `cargo leptos watch` (a long compile)
source "$(dirname "$0")/common.sh"

want_dev=0
[[ "${1:-}" == "--dev" ]] && want_dev=1

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Browser for the end-to-end tests, compressors for the static assets, Python (with venv) for
# the seed and runner data scripts, Vulkan on the CPU (llvmpipe) for the runner's wgpu tests.
apt_install chromium brotli python3 python3-venv ca-certificates mesa-vulkan-drivers

# --- wasm32 toolchain -------------------------------------------------------------------------
if [[ "$(wasm_cargo)" == "cargo" ]]; then
  log "wasm32: using rustup's wasm32-unknown-unknown target"
else
  apt_install rustc-web cargo-web rust-web-src lld-22
  sysroot_lib="$(/usr/bin/rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib"
  if ! compgen -G "$sysroot_lib/libstd-*.rlib" >/dev/null; then
    log "wasm32: building the standard library once for Debian's rustc (about 2 minutes)"
    scratch="$(mktemp -d)"
    mkdir -p "$scratch/src"
    printf '[package]\nname = "wasm-std"\nversion = "0.0.0"\nedition = "2021"\n[lib]\ncrate-type = ["cdylib"]\n' >"$scratch/Cargo.toml"
    echo 'pub fn probe() -> usize { std::vec![1u8].len() }' >"$scratch/src/lib.rs"
    (cd "$scratch" && RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$scratch/target" \
      $(wasm_cargo) build --quiet --release -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown)
    mkdir -p "$sysroot_lib"
    find "$scratch/target/wasm32-unknown-unknown/release/deps" -name 'lib*.rlib' ! -name 'libwasm_std*' \
      -exec cp {} "$sysroot_lib/" \;
    rm -rf "$scratch"
  fi
  log "wasm32: using Debian's $(/usr/bin/rustc --version)"
fi

# --- wasm-bindgen CLI, exactly the version in Cargo.lock ---------------------------------------
[[ -f "$ROOT/Cargo.lock" ]] || (cd "$ROOT" && cargo generate-lockfile)
wb_version="$(locked_wasm_bindgen_version)"
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wb_version" ]]; then
  log "installing wasm-bindgen-cli $wb_version"
  cargo install --quiet --force wasm-bindgen-cli --version "$wb_version"
fi

# --- end-to-end test tooling (Playwright drives Debian's Chromium; no browser download) --------
if [[ ! -d "$ROOT/end2end/node_modules" || "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules" ]]; then
  log "installing end-to-end test packages"
  (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  touch "$ROOT/end2end/node_modules"
fi

# --- moto (S3 stand-in for the storage tests) --------------------------------------------------
# A private virtualenv at target/moto-venv; the tests find target/moto-venv/bin/moto_server
# (or the path in BAZAAR_MOTO_SERVER). Skipped when the pinned version is already there.
moto_version="5.2.5"
moto_venv="$ROOT/target/moto-venv"
if [[ "$("$moto_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" != "$moto_version" \
      || ! -x "$moto_venv/bin/moto_server" ]]; then
  log "installing moto $moto_version (S3 stand-in) into $moto_venv"
  python3 -m venv "$moto_venv"
  "$moto_venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$moto_version"
fi
# --- end moto ----------------------------------------------------------------------------------

if ((want_dev)) && ! command -v cargo-leptos >/dev/null; then
  log "installing cargo-leptos (long: compiles from source)"
  if [[ "$(wasm_cargo)" == "cargo" ]]; then
    cargo install --locked cargo-leptos --features no_downloads
  else
    RUSTC=/usr/bin/rustc /usr/bin/cargo install --locked cargo-leptos --features no_downloads
  fi
fi
log "set-up complete"
