#!/usr/bin/env bash
# Sets up what is missing and runs every test: formatting and lints, the native engine and
# CLI (parity with transformers), and the engine's wasm32 + simd128 build.
# Not yet here (issue 2 note): the engine parity test inside headless Chromium, and the
# Trunk release build with a browser smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" TRUNK_SKIP_VERSION_CHECK=1 CHROMEDRIVER=/usr/bin/chromedriver
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "clippy (native crates)"
cargo clippy --workspace --exclude siglens-app --exclude siglens-worker --all-targets -- -D warnings
step "native tests: engine parity + CLI"
cargo test
step "engine compiles for wasm32-unknown-unknown + simd128"
CARGO_TARGET_DIR=target/wasm cargo build -p siglens-engine --target wasm32-unknown-unknown --release
echo "all tests passed"
