#!/usr/bin/env bash
# Sets up what is missing and runs every test: formatting and lints, the native engine and
# CLI (parity with transformers), the engine's parity and kernel tests in headless Chromium
# (wasm32 + simd128, and the relaxed-SIMD kernel), the UI's component tests (wasm-bindgen-test), the Trunk release build, and the
# app's browser runtime and offline tests (Playwright), all served from a sub-path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" CHROMEDRIVER=/usr/bin/chromedriver
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "clippy (native crates)"
cargo clippy --workspace --exclude siglens-app --exclude siglens-worker --all-targets -- -D warnings
step "native tests: engine parity + CLI"
cargo test
cargo test -p xtask   # the benchmark report's tables (xtask is not a default member)
step "engine parity in headless Chromium (wasm32 + simd128)"
CARGO_TARGET_DIR=target/wasm cargo test -p siglens-engine --target wasm32-unknown-unknown --release --test wasm_parity --test wasm_kernels
step "relaxed-SIMD int8 kernel in headless Chromium (the worker's second build)"
CARGO_TARGET_DIR=target/wasm cargo test -p siglens-engine --target wasm32-unknown-unknown --release --features relaxed-simd --test wasm_kernels
step "clippy (wasm crates)"
CARGO_TARGET_DIR=target/wasm cargo clippy --target wasm32-unknown-unknown -p siglens-app -p siglens-worker -p siglens-protocol --all-targets -- -D warnings
CARGO_TARGET_DIR=target/wasm cargo clippy --target wasm32-unknown-unknown -p siglens-engine -p siglens-worker --features siglens-worker/relaxed-simd --all-targets -- -D warnings
step "UI component tests in headless Chromium (wasm-bindgen-test)"
CARGO_TARGET_DIR=target/wasm cargo test --target wasm32-unknown-unknown -p siglens-app --release
step "trunk build --release (offline)"
CARGO_TARGET_DIR=target/wasm trunk build --release --offline --skip-version-check
step "browser runtime tests: worker, model download and cache, parity with the CLI"
mkdir -p tests/e2e/artifacts/models
target/debug/siglens quantize --model tests/fixtures/models/tiny48 --dtype q8_0 \
  --out tests/e2e/artifacts/models/tiny48-q8_0.gguf
node tests/e2e/runtime.mjs dist tests/e2e/artifacts/models target/debug/siglens
step "offline, sub-path hosting, updates and CSP (service worker)"
node tests/e2e/offline.mjs dist tests/e2e/artifacts/models
echo "all tests passed"
