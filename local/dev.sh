#!/usr/bin/env bash
# `make dev`: the whole API on http://localhost:3000 against the real stores.
# Ctrl-C stops the gateway and every service this script started; services
# that were already running before are left as they were.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

local/stack.sh up
trap 'echo; echo "==> Stopping what make dev started"; local/stack.sh down' EXIT

echo "==> Building the gateway and the functions"
cargo build --quiet -p local-gateway

echo "==> Migrating and seeding"
target/debug/local-gateway setup

cat <<INFO
==> Running
  API           http://localhost:3000  (routes from template.yaml)
  PostgreSQL    127.0.0.1:5432  database ticketing
  Redis         127.0.0.1:6379
  Kafka (Tansu) 127.0.0.1:19092
  Mongo (nx)    127.0.0.1:27017  database events_demo
  JWT secret    ${JWT_SECRET:+from JWT_SECRET}${JWT_SECRET:-the public local default (APP_ENV=local only)}
  Logs          JSON on this terminal; Ctrl-C stops everything started here
INFO
target/debug/local-gateway serve --port "${PORT:-3000}"
