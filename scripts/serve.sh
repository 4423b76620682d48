#!/usr/bin/env bash
# Sets up what is missing, builds the release app with Trunk (no downloads) and serves it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" CARGO_TARGET_DIR=target/wasm
# No live-reload script: this serves the app as a user gets it (service worker included).
exec trunk serve --release --offline --skip-version-check --no-autoreload \
  --address 127.0.0.1 --port "${PORT:-8080}"
