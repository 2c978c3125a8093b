#!/usr/bin/env bash
# Builds the web app into web/dist, which the local gateway serves at /.
# Installs Node (Debian) and the locked npm packages when they are missing
# or the lockfile changed; otherwise a rebuild takes about a second.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v npm >/dev/null; then
  echo "==> Installing Node.js and npm (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
lock_sum="$(sha256sum package-lock.json | cut -c1-16)"
if [[ "$(cat node_modules/.lock-sum 2>/dev/null)" != "$lock_sum" ]]; then
  echo "==> Installing the web app's packages (npm ci, lockfile)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" >node_modules/.lock-sum
fi
echo "==> Type-checking the web app (tsc, strict)"
node_modules/.bin/tsc -p .
echo "==> Building the web app (web/dist)"
node build.mjs
