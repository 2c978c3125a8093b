#!/usr/bin/env bash
# make bench: a release gateway on :3100 against bench-only data (its own
# database, Redis database, collections and topics), then the measurements
# (bench/src), then the Artillery walk (tests/load). Writes bench/out/:
# report.md, latency.png, artillery.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
ARTILLERY_VERSION=2.0.21 # the last release that runs on Node.js 20
export APP_ENV=local RUST_LOG=warn \
  DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/ticketing_bench \
  REDIS_URL=redis://127.0.0.1:6379/2 MONGO_COLLECTION_PREFIX=bench_ \
  TOPIC_PREFIX="bench.$(date +%s)." \
  BOOKINGS_PER_IP_PER_MINUTE=0 REGISTRATIONS_PER_IP_PER_MINUTE=0 LOGIN_IP_MAX_ATTEMPTS=1000000 # one load client address
PORT="${BENCH_PORT:-3100}"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { # port tenths-of-a-second
  for _ in $(seq "$2"); do port_open "$1" && return; sleep 0.1; done
}
# Whatever this script started in the background (broker, gateway, watch)
# stops with it.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; }
if [[ -z "${BENCH_ONLY:-}" && ! -x "$CACHE/artillery-$ARTILLERY_VERSION/node_modules/.bin/artillery" ]]; then
  echo "==> Installing Artillery $ARTILLERY_VERSION (npm) into $CACHE"
  mkdir -p "$CACHE/artillery-$ARTILLERY_VERSION"
  # Artillery pulls in Playwright, whose install would download a browser.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix "$CACHE/artillery-$ARTILLERY_VERSION" "artillery@$ARTILLERY_VERSION"
fi

echo "==> Building release binaries"
cargo build --release --quiet -p local-gateway -p bench

# A broker of its own, started empty, so a run does not depend on what the
# shared broker has been through (a test suite, earlier runs, `make dev`).
KAFKA_PORT="${BENCH_KAFKA_PORT:-19192}"
if port_open "$KAFKA_PORT"; then
  echo "port $KAFKA_PORT is taken; set BENCH_KAFKA_PORT to a free one" >&2
  exit 1
fi
"$(local/stack.sh tansu-bin)" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
  --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine memory://tansu/ >.data/bench-tansu.log 2>&1 &
wait_port "$KAFKA_PORT" 100
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"

target/release/local-gateway setup --fresh >/dev/null
target/release/local-gateway serve --port "$PORT" >.data/bench-gateway.log 2>&1 &
wait_port "$PORT" 50

# BENCH_ONLY=bookings: the floors and the booking rows alone (about a
# minute); BENCH_ONLY=rush: the floors and the on-sale rush (about three);
# BENCH_ONLY=gates: door check-in; BENCH_ONLY=mail: the notifier's
# throughput and lag into MailDev.
# Either skips cargo lambda watch and Artillery.
if [[ -z "${BENCH_ONLY:-}" ]]; then
  # The same requests under `cargo lambda watch` (make watch), for the
  # emulator's own cost. Functions are compiled on their first call, so warm
  # the two the bench uses; if that fails the bench skips these rows.
  WATCH_PORT="${BENCH_WATCH_PORT:-3200}"
  export PATH="$CACHE/tools/bin:$PATH"
  if ! command -v cargo-lambda >/dev/null; then
    python3 -m venv "$CACHE/tools"
    "$CACHE/tools/bin/pip" install --quiet --disable-pip-version-check cargo-lambda==1.9.2
  fi
  cargo lambda watch --release -P "$WATCH_PORT" -A 127.0.0.1 --ignore-changes >.data/bench-watch.log 2>&1 &
  wait_port "$WATCH_PORT" 600
  echo "==> cargo lambda watch --release on :$WATCH_PORT (compiling events-seats and bookings-create on first call)"
  if curl -sf --max-time 900 -o /dev/null "http://127.0.0.1:$WATCH_PORT/events/taylor-swift-eras-tour/seats" &&
    [[ "$(curl -s --max-time 900 -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$WATCH_PORT/bookings")" == 401 ]]; then
    export BENCH_WATCH_URL="http://127.0.0.1:$WATCH_PORT"
  else
    echo "   (cargo lambda watch did not answer; its rows are skipped, see .data/bench-watch.log)"
  fi
fi

echo "==> Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load generator on the same cores"
target/release/bench run "http://127.0.0.1:$PORT"

[[ -n "${BENCH_ONLY:-}" ]] && exit 0
echo "==> Artillery $ARTILLERY_VERSION: register → login → browse → seats → book, ramping 2 → 20 buyers/s"
ARTILLERY_DISABLE_TELEMETRY=true "$CACHE/artillery-$ARTILLERY_VERSION/node_modules/.bin/artillery" run \
  --target "http://127.0.0.1:$PORT" --output bench/out/artillery.json tests/load/booking-flow.yml >.data/artillery.log 2>&1 ||
  echo "   (artillery reported failed expectations; see .data/artillery.log)"
python3 - <<'PY' | tee -a bench/out/report.md
import json
report = json.load(open("bench/out/artillery.json"))["aggregate"]
counters, rt = report.get("counters", {}), report.get("summaries", {}).get("http.response_time", {})
codes = ", ".join(f"{k.rsplit('.', 1)[1]}: {v}" for k, v in sorted(counters.items()) if k.startswith("http.codes."))
print(f"\nArtillery walk (tests/load/booking-flow.yml): {counters.get('vusers.created', 0)} buyers, "
      f"{counters.get('vusers.completed', 0)} completed, {counters.get('vusers.failed', 0)} failed; "
      f"{counters.get('http.requests', 0)} requests ({codes}); response time p50 {rt.get('median')} ms, "
      f"p95 {rt.get('p95')} ms, p99 {rt.get('p99')} ms, max {rt.get('max')} ms.")
PY
