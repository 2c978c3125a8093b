#!/usr/bin/env bash
# The API against its own contract, run by `make test`: a local gateway on
# its own port, then schemathesis generating requests from openapi.yaml (as
# served at /openapi.json) and checking every answer: no 5xx, only
# documented statuses and content types, bodies matching their schemas,
# invalid input refused. Prints "contract: N passed, M failed" (operations).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
ST_VERSION=4.32.5
ST="$CACHE/schemathesis-$ST_VERSION"
PORT="${CONTRACT_PORT:-3200}"
EXAMPLES="${CONTRACT_EXAMPLES:-30}"
OUT=.data/contract
rm -rf "$OUT" && mkdir -p "$OUT"

if [[ ! -x "$ST/bin/st" ]]; then
  echo "==> Installing schemathesis $ST_VERSION (PyPI) into $ST"
  python3 -m venv "$ST" && "$ST/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

target/debug/local-gateway serve --port "$PORT" >"$OUT/gateway.log" 2>&1 &
gateway=$!
trap 'kill $gateway 2>/dev/null' EXIT
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 150); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  sleep 0.2
done

token=$(curl -fs -XPOST "$base/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@ticketing.local","password":"admin-password-local"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["token"])') || {
  echo "contract: could not log in as the local admin"; echo "contract: 0 passed, 1 failed"; exit 1; }

# One worker: CPython 3.11's AST module is not thread-safe under
# hypothesis' lambda introspection ("AST constructor recursion depth
# mismatch"). positive_data_acceptance is left out: a schema-valid booking of random
# seat ids is rightly a 404/409, not a 2xx. POST /auth/logout is left out
# too: it revokes the very token the run authenticates with, after which
# every other operation could only answer 401 (the Rust suite tests it).
# Everything else runs.
"$ST/bin/st" run "$base/openapi.json" \
  --checks all --exclude-checks positive_data_acceptance --exclude-path /auth/logout \
  --header "Authorization: Bearer $token" \
  --max-examples "$EXAMPLES" --workers 1 --seed 20261125 \
  --phases examples,coverage,fuzzing,stateful \
  --report junit --report-dir "$OUT" 2>&1 | tee "$OUT/schemathesis.log" | tail -60
status=${PIPESTATUS[0]}

python3 - "$OUT" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
cases = failed = 0
for path in glob.glob(f"{sys.argv[1]}/*.xml"):
    for case in ET.parse(path).getroot().iter("testcase"):
        cases += 1
        failed += any(child.tag in ("failure", "error") for child in case)
print(f"contract: {cases - failed} passed, {failed} failed")
PY
exit "$status"
