#!/usr/bin/env bash
# Smoke test under `cargo lambda watch`, the Lambda Runtime API emulator:
# one HTTP function through its router (register, then login) and one Kafka
# consumer through the Invoke API with an MSK-format fixture.
# Run by `make test` after the Rust tests; needs the stack running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE_DIR="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
PORT="${WATCH_PORT:-3001}"
if ! command -v cargo-lambda >/dev/null; then
  if [[ ! -x "$CACHE_DIR/tools/bin/cargo-lambda" ]]; then
    echo "==> Installing cargo-lambda (PyPI) into $CACHE_DIR/tools"
    python3 -m venv "$CACHE_DIR/tools"
    "$CACHE_DIR/tools/bin/pip" install --quiet --disable-pip-version-check cargo-lambda==1.9.2
  fi
  export PATH="$CACHE_DIR/tools/bin:$PATH"
fi

mkdir -p .data
cargo lambda watch -P "$PORT" -A 127.0.0.1 --ignore-changes >.data/watch.log 2>&1 &
watch_pid=$!
trap 'kill $watch_pid 2>/dev/null || true; wait $watch_pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.2; done

passed=0 failed=0
check() { # name expected actual
  if [[ "$3" == *"$2"* ]]; then passed=$((passed + 1)); echo "  ✓ $1"; else failed=$((failed + 1)); echo "  ✗ $1: expected $2, got: $3"; fi
}
base="http://127.0.0.1:$PORT"
email="watch-$(date +%s%N)@example.test"
# cargo lambda builds each function on its first call, resolving features for
# that one package, which can differ from the workspace build make test just
# did and so recompile shared dependencies: allow the first calls minutes.
out=$(curl -s --max-time 1200 -XPOST "$base/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"name\":\"Watch\",\"password\":\"watch-pass-1\"}" -w ' HTTP%{http_code}' || true)
check "POST /auth/register under cargo lambda watch" 'HTTP202' "$out"
out=$(curl -s --max-time 600 -XPOST "$base/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"watch-pass-1\"}" -w ' HTTP%{http_code}' || true)
check "POST /auth/login under cargo lambda watch" '"token"' "$out"
out=$(curl -s --max-time 600 -XPOST "$base/2015-03-31/functions/seat-projector/invocations" \
  --data-binary @tests/fixtures/msk/booking-cancelled.json || true)
check "seat-projector invoked with an MSK event" '"processed":1' "$out"
out=$(curl -s --max-time 60 -XPOST "$base/2015-03-31/functions/seat-projector/invocations" \
  --data-binary @tests/fixtures/msk/booking-cancelled.json || true)
check "the same MSK event again is a no-op" '"skippedDuplicates":1' "$out"
echo "watch smoke: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
