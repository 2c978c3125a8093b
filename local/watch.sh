#!/usr/bin/env bash
# `make watch`: every function under `cargo lambda watch` (the Lambda Runtime
# API emulator, hot reload) on :3000, with the router table from Cargo.toml.
# For development and smoke tests only: measured, it hangs for good at about
# 110 concurrent connections. Kafka consumers are invoked through
#   POST /2015-03-31/functions/<name>/invocations  (body: an MSK event)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The functions refuse to start without APP_ENV (no public default secrets
# by accident); this is the local stack, so say so unless told otherwise.
export APP_ENV="${APP_ENV:-local}"
CACHE_DIR="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
local/stack.sh up
if ! command -v cargo-lambda >/dev/null; then
  if [[ ! -x "$CACHE_DIR/tools/bin/cargo-lambda" ]]; then
    python3 -m venv "$CACHE_DIR/tools"
    "$CACHE_DIR/tools/bin/pip" install --quiet --disable-pip-version-check cargo-lambda==1.9.2
  fi
  export PATH="$CACHE_DIR/tools/bin:$PATH"
fi
cargo build --quiet -p local-gateway
target/debug/local-gateway setup
echo "==> cargo lambda watch on http://localhost:${PORT:-3000} (not for load: hangs past ~110 connections)"
exec cargo lambda watch -P "${PORT:-3000}" -A 127.0.0.1
