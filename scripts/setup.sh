#!/usr/bin/env bash
# Installs what siglens needs and is missing; skips what is already there.
# Versions: ../shared/TOOLCHAIN.md (wasm-bindgen-cli must equal wasm-bindgen in Cargo.lock).
set -euo pipefail
cd "$(dirname "$0")/.."

WBG_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
TRUNK_VERSION=0.21.14
step() { printf '\n== %s\n' "$*"; }

if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  step "rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then rustup component add clippy rustfmt; fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WBG_VERSION" ]; then
  step "wasm-bindgen-cli $WBG_VERSION (~7 min)"
  # Not --locked: the registry mirror lacks one pinned transitive version (TOOLCHAIN.md).
  cargo install wasm-bindgen-cli --version "$WBG_VERSION"
fi
if [ "$(trunk --version 2>/dev/null | awk '{print $2}')" != "$TRUNK_VERSION" ]; then
  step "trunk $TRUNK_VERSION (~13 min)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
fi
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ]; then
  step "npm: binaryen 132 (wasm-opt), playwright-core"
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  step "Debian chromium + chromium-driver"
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi
step "fetching crates"
cargo fetch --locked >/dev/null 2>&1 || cargo fetch
echo "setup done"
