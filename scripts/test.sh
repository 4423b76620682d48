#!/usr/bin/env bash
# Sets up what is missing and runs every test: formatting and lints, the native engine and
# CLI (parity with transformers), the engine's parity test in headless Chromium (wasm32 +
# simd128), and the Trunk release build with a browser smoke test.
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
step "engine parity in headless Chromium (wasm32 + simd128)"
CARGO_TARGET_DIR=target/wasm cargo test -p siglens-engine --target wasm32-unknown-unknown --release --test wasm_parity
step "clippy (wasm crates)"
CARGO_TARGET_DIR=target/wasm cargo clippy --target wasm32-unknown-unknown -p siglens-app -p siglens-worker -- -D warnings
step "trunk build --release (offline)"
CARGO_TARGET_DIR=target/wasm trunk build --release --offline --skip-version-check
step "browser smoke test of dist/"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory dist >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
sleep 1
node tests/e2e/smoke.mjs "http://127.0.0.1:$PORT/"
echo "all tests passed"
