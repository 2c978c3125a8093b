#!/usr/bin/env bash
# Checks in a real browser (Debian's Chromium driven by playwright-core; no
# browser download), run by `make test` after the Rust tests, with the stack
# running and the workspace and web app built: the gateway on a free port,
# pages served from two other origins (CORS), then the web app itself.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ ! -x /usr/bin/chromium ]]; then
  echo "==> Installing Chromium (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
  echo "==> Installing playwright-core (npm, lockfile) into tests/browser"
  (cd tests/browser && npm ci --silent --no-audit --no-fund)
fi
# Topics (and so consumer groups) of this run only, as the Rust tests do:
# the broker keeps a killed earlier gateway's group members for a while, and
# a new member of those groups waits for them before it gets any partition
# (seen as a dashboard that never moved in a run right after another).
mkdir -p .data
export TOPIC_PREFIX="browser.$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')."
"${CARGO_TARGET_DIR:-target}/debug/local-gateway" setup >.data/browser-setup.log 2>&1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
gateway_port=$(free_port) allowed_port=$(free_port) other_port=$(free_port)
ALLOWED_ORIGINS="http://localhost:$allowed_port" "${CARGO_TARGET_DIR:-target}/debug/local-gateway" serve --port "$gateway_port" \
  >.data/browser-gateway.log 2>&1 &
gateway_pid=$!
trap 'kill $gateway_pid 2>/dev/null || true; wait $gateway_pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$gateway_port") 2>/dev/null && break; sleep 0.1; done
node tests/browser/cors.mjs "http://127.0.0.1:$gateway_port" "$allowed_port" "$other_port"
node tests/browser/app.mjs "http://127.0.0.1:$gateway_port"
