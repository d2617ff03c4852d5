#!/usr/bin/env bash
# Builds the site the server serves: the hydration bundle (wasm + JS, split into a main module
# and lazily loaded ones), the stylesheet and the public files, into the `site-root` named in
# Cargo.toml's [[workspace.metadata.leptos]] — the same settings `cargo leptos` reads, so both
# produce the same layout (`cargo leptos build --split`, without the content-hashed directory).
#   scripts/build-site.sh            optimised bundle (profile `lib-profile-release`)
#   scripts/build-site.sh --dev      unoptimised, quicker to build
source "$(dirname "$0")/common.sh"
cd "$ROOT"

mode="release"
[[ "${1:-}" == "--dev" ]] && mode="dev"

# Read the leptos metadata once; fields become shell variables (name, site_root, …).
eval "$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, shlex, sys
meta = json.load(sys.stdin)["metadata"]["leptos"][0]
def get(key, default=""):
    return meta.get(key, default)
fields = {
    "name": get("name"), "lib_package": get("lib-package"), "site_root": get("site-root"),
    "pkg_dir": get("site-pkg-dir"), "style_file": get("style-file"), "assets_dir": get("assets-dir"),
    "release_profile": get("lib-profile-release", "release"),
    "lib_features": ",".join(get("lib-features", [])),
    "lib_default_features": str(get("lib-default-features", True)).lower(),
}
for k, v in fields.items():
    print(f"{k}={shlex.quote(v)}")
')"

profile="dev"
[[ "$mode" == "release" ]] && profile="$release_profile"
cargo_args=(rustc --package "$lib_package" --lib --target wasm32-unknown-unknown --profile "$profile")
[[ -n "$lib_features" ]] && cargo_args+=(--features "$lib_features")
[[ "$lib_default_features" == "false" ]] && cargo_args+=(--no-default-features)
# Code splitting (as `cargo leptos build --split`): the splitter needs the linker's relocations.
# Passed to the entry crate's own link only, so no dependency is rebuilt for it.
cargo_args+=(-- -C link-arg=--emit-relocs)

log "compiling the hydration bundle ($profile)"
# shellcheck disable=SC2046
$(wasm_cargo) "${cargo_args[@]}"

# The splitter (tools/wasm-split, its own small workspace): a no-op once built.
cargo build --quiet --release --locked --manifest-path "$ROOT/tools/wasm-split/Cargo.toml"
splitter="$CARGO_TARGET_DIR/release/bazaar-wasm-split"
profile_dir="$profile"
[[ "$profile" == "dev" ]] && profile_dir="debug"
wasm_in="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile_dir/${lib_package//-/_}.wasm"
pkg_root="$site_root/$pkg_dir"

# The runner's own bundle, loaded only by the model page's "Try it" worker: built for speed,
# with wasm SIMD128 (chosen at compile time: wasm has no run-time CPU feature detection).
runner_profile="wasm-runner"
[[ "$mode" == "dev" ]] && runner_profile="dev"
log "compiling the runner's browser bundle ($runner_profile)"
# shellcheck disable=SC2046
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  $(wasm_cargo) build --package runner-web --lib --target wasm32-unknown-unknown --profile "$runner_profile"
runner_dir="$runner_profile"
[[ "$runner_profile" == "dev" ]] && runner_dir="debug"
runner_in="$CARGO_TARGET_DIR/wasm32-unknown-unknown/$runner_dir/runner_web.wasm"

# Nothing to do when the compiled wasm, the stylesheet, the assets and the mode are unchanged.
source_key="$( (cat "$wasm_in" "$runner_in" "$splitter" "$style_file"; echo "$mode"; find "$assets_dir" -type f -exec cat {} +) | sha256sum | cut -c1-32)"
if [[ -f "$pkg_root/current" && -d "$pkg_root/$(cat "$pkg_root/current")" \
      && "$(cat "$pkg_root/source" 2>/dev/null)" == "$source_key" ]]; then
  log "site is up to date ($site_root)"
  exit 0
fi

staging="$(mktemp -d)"
scratch="$(mktemp -d)"
trap 'rm -rf "$staging" "$scratch"' EXIT
# The lazily loaded pages (app/src/lazy_pages.rs) go into wasm modules of their own,
# `split_*.wasm` (one per group of pages) and `chunk_*.wasm` (code some groups share), which the
# loader `__wasm_split.*.js` fetches when a page needs them; `lazy_modules.json` tells the
# server which files to preload with a lazy page. The main module goes on to wasm-bindgen,
# keeping the exports the lazy modules link against.
log "splitting the lazily loaded pages out of the bundle"
"$splitter" "$wasm_in" "$staging" "$scratch/$name.wasm" "$name" >/dev/null
wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle \
  --out-dir "$staging" --out-name "$name" "$scratch/$name.wasm"
if [[ "$mode" == "release" ]]; then
  log "optimising the wasm for size"
  for wasm in "$staging"/*.wasm; do
    "$ROOT/scripts/wasm-opt.sh" "$wasm"
  done
fi
wasm-bindgen --target web --no-typescript --out-dir "$staging" --out-name runner_web "$runner_in"
if [[ "$mode" == "release" ]]; then
  "$ROOT/scripts/wasm-opt.sh" --speed "$staging/runner_web_bg.wasm"
fi
cp "$style_file" "$staging/$name.css"

# Content-addressed directory: a new build gets new URLs, so browsers may cache forever.
hash="$(cat "$staging"/* | sha256sum | cut -c1-16)"
mkdir -p "$pkg_root"
if [[ ! -d "$pkg_root/$hash" ]]; then
  for file in "$staging"/*; do
    gzip -9 -k -n "$file"
    brotli -q 11 -k "$file"
  done
  chmod 755 "$staging"
  mv "$staging" "$pkg_root/$hash.tmp" && mv "$pkg_root/$hash.tmp" "$pkg_root/$hash"
  mkdir -p "$staging"
fi
echo "$hash" >"$pkg_root/current.tmp" && mv "$pkg_root/current.tmp" "$pkg_root/current"
# Keep the previous bundle for pages still open in browsers; drop older ones.
find "$pkg_root" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -printf '%T@ %p\n' | sort -rn | tail -n +2 \
  | cut -d' ' -f2- | xargs -r rm -rf

cp -r "$assets_dir"/. "$site_root"/
echo "$source_key" >"$pkg_root/source"
log "site built in $site_root (bundle $pkg_dir/$hash: $(du -h "$pkg_root/$hash/${name}_bg.wasm" | cut -f1) wasm, $(du -h "$pkg_root/$hash/${name}_bg.wasm.br" | cut -f1) brotli; runner $(du -h "$pkg_root/$hash/runner_web_bg.wasm" | cut -f1) wasm, $(du -h "$pkg_root/$hash/runner_web_bg.wasm.br" | cut -f1) brotli)"
