#!/usr/bin/env bash
# make bench: a release gateway on :3100 against bench-only data (its own
# database, Redis database, collections and topics), then the measurements.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export APP_ENV=local RUST_LOG=warn \
  DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/ticketing_bench \
  REDIS_URL=redis://127.0.0.1:6379/2 MONGO_COLLECTION_PREFIX=bench_ \
  TOPIC_PREFIX="bench.$(date +%s)."
PORT="${BENCH_PORT:-3100}"

echo "==> Building release binaries"
cargo build --release --quiet -p local-gateway -p bench
target/release/local-gateway setup >/dev/null
target/release/local-gateway serve --port "$PORT" >.data/bench-gateway.log 2>&1 &
gateway=$!
trap 'kill $gateway 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

echo "==> Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load generator on the same cores"
target/release/bench run "http://127.0.0.1:$PORT"
