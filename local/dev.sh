#!/usr/bin/env bash
# `make dev`: the whole API on http://localhost:3000 against the real stores.
# Ctrl-C stops the gateway and every service this script started; services
# that were already running before are left as they were.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The functions refuse to start without APP_ENV (no public default secrets
# by accident); this is the local stack, so say so unless told otherwise.
export APP_ENV="${APP_ENV:-local}"

# Stop on exit only what this run started: a service that an earlier
# `make stack` started was running before make dev, so it stays up.
started_dir="${TICKETING_DATA_DIR:-.data}/started"
started_before="$(ls "$started_dir" 2>/dev/null || true)"
local/stack.sh up
started_here="$(comm -13 <(sort <<<"$started_before") <(ls "$started_dir" 2>/dev/null | sort))"
stop_started_here() {
  echo
  echo "==> Stopping what make dev started"
  if [[ -n "$started_here" ]]; then
    # shellcheck disable=SC2086 # one service name per word
    local/stack.sh down $started_here
  else
    echo "  nothing to stop (every service was already running)"
  fi
}
trap stop_started_here EXIT

web/build.sh

echo "==> Building the gateway and the functions"
cargo build --quiet -p local-gateway

echo "==> Migrating and seeding"
target/debug/local-gateway setup

cat <<INFO
==> Running
  Web app       http://localhost:3000  (web/dist; \`make web\` rebuilds it)
  API           http://localhost:3000  (routes from template.yaml)
  PostgreSQL    127.0.0.1:5432  database ticketing
  Redis         127.0.0.1:6379
  Kafka (Tansu) 127.0.0.1:19092
  Mongo (nx)    127.0.0.1:27017  database events_demo
  Mail inbox    http://localhost:1080  (MailDev: every e-mail the notifier sends; SMTP 127.0.0.1:1025)
  JWT secret    ${JWT_SECRET:+from JWT_SECRET}${JWT_SECRET:-the public local default (APP_ENV=local only)}
  Logs          JSON on this terminal; Ctrl-C stops everything started here
INFO
target/debug/local-gateway serve --port "${PORT:-3000}"
