#!/usr/bin/env bash
# Sets up what is missing, builds the release app with Trunk (no downloads) and serves it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" CARGO_TARGET_DIR=target/wasm
exec trunk serve --release --offline --skip-version-check --address 127.0.0.1 --port "${PORT:-8080}"
