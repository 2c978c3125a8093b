#!/usr/bin/env bash
# The fan's path through `sam local start-api` (local/sam-local.sh): each
# request runs its function in its own Lambda container. Register, log in,
# list events, read a seat map, book two seats, see the booking RESERVED
# (through Kafka and the emulated event source), pay, fetch its tickets,
# read an event's waiting line, cancel; then one consumer run by
# `sam local invoke` with an MSK event.
# `make sam-smoke` starts what it needs and stops it after.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT="${SAM_PORT:-3000}"
base="http://127.0.0.1:$PORT"
export PATH="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}/tools/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1

passed=0 failed=0
check() { # name expected actual
  if [[ "$3" == *"$2"* ]]; then passed=$((passed + 1)); echo "  ✓ $1"; else failed=$((failed + 1)); echo "  ✗ $1: expected $2, got: ${3:0:300}"; fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
call() { curl -s --max-time 60 "$@" -w ' HTTP%{http_code}'; }

email="sam-$(date +%s%N)@example.test"
out=$(call -XPOST "$base/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"name\":\"Sam Local\",\"password\":\"sam-local-pw-1\"}")
check "POST /auth/register" 'HTTP202' "$out"
out=$(call -XPOST "$base/auth/login" -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"sam-local-pw-1\"}")
check "POST /auth/login" 'HTTP200' "$out"
token=$(echo "${out% HTTP*}" | json 'd["data"]["token"]')
out=$(call "$base/events")
check "GET /events" 'local-jazz-night' "$out"
out=$(call "$base/events/local-jazz-night/seats?status=available")
check "GET /events/{id}/seats" 'HTTP200' "$out"
seats=$(echo "${out% HTTP*}" | json '",".join(json.dumps(s["id"]) for s in d["data"]["seats"][:2])')
out=$(call -XPOST "$base/bookings" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d "{\"eventId\":\"local-jazz-night\",\"seatIds\":[$seats]}")
check "POST /bookings (two seats)" 'HTTP201' "$out"
booking=$(echo "${out% HTTP*}" | json 'd["data"]["id"]')
status=""
for _ in $(seq 100); do
  status=$(curl -s --max-time 30 "$base/bookings/$booking" -H "Authorization: Bearer $token" | json 'd["data"]["status"]')
  [[ "$status" == RESERVED ]] && break
  sleep 0.3
done
check "the booking becomes RESERVED (Kafka → seat-reserver → booking-status)" 'RESERVED' "$status"
out=$(call -XPOST "$base/bookings/$booking/pay" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"paymentMethod":{"type":"card","cardNumber":"4242 4242 4242 4242"}}')
check "POST /bookings/{id}/pay" '"CONFIRMED"' "$out"
out=$(call "$base/bookings/$booking/tickets" -H "Authorization: Bearer $token")
check "GET /bookings/{id}/tickets (two signed tickets with QR codes)" '2 True' \
  "$(echo "${out% HTTP*}" | json 'len(d["data"]["tickets"]), all("<svg" in t["qrSvg"] for t in d["data"]["tickets"])' 2>/dev/null)"
out=$(call "$base/events/local-jazz-night/queue")
check "GET /events/{id}/queue (no on-sale: a JSON 409 from its container)" 'NO_ON_SALE' "$out"
out=$(call -XPUT "$base/bookings/$booking/cancel" -H "Authorization: Bearer $token")
check "PUT /bookings/{id}/cancel (refunded)" '"CANCELLED"' "$out"
out=$(sam local invoke SeatProjectorFunction --template .data/sam-local/template.json --skip-pull-image \
  --event tests/fixtures/msk/booking-cancelled.json 2>/dev/null || true)
# A second run finds the same message already applied: processed or a known
# duplicate, never dead-lettered.
handled=$(echo "$out" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(r["processed"]+r["skippedDuplicates"], r["deadLettered"])' 2>/dev/null || true)
check "sam local invoke seat-projector with an MSK event (handled once, nothing dead-lettered)" '1 0' "$handled"
echo "sam local: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
