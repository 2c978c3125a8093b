#!/usr/bin/env bash
# `sam local start-api` on this machine: the same functions, in Lambda-like
# containers under the Runtime Interface Emulator SAM CLI ships, against the
# local stores. No image can be pulled here, so the Lambda base image is
# built from Debian (debootstrap) and imported under the name SAM asks for.
#
#   local/sam-local.sh up     install and start what is missing, serve on :$SAM_PORT (3000)
#   local/sam-local.sh down   stop what `up` started (a reused dockerd stays)
#
# What runs where:
#   - dockerd (Debian's docker.io) with no iptables, NAT or forwarding: the
#     containers reach the host only on the bridge (172.17.0.1), and the
#     stores are forwarded there by socat (PostgreSQL, Redis, Mongo);
#   - a Kafka broker of its own (Tansu) listening and advertised on the
#     bridge, since a broker advertised on 127.0.0.1 is unreachable from a
#     container;
#   - the HTTP functions: `sam local start-api --warm-containers EAGER`, each
#     binary built here by cargo (debug) as its `bootstrap`;
#   - the Kafka consumers and the sweeper: the local event-source emulator of
#     `local-gateway serve` (on a port of its own), reading the same broker,
#     since SAM has no local Kafka event source; `sam local invoke` runs a
#     consumer with an MSK event on demand (tests/sam_local_smoke.sh does).
# Traffic stays between this machine and the containers this script started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
DATA="$ROOT/.data/sam-local"
STARTED="$DATA/started"
PORT="${SAM_PORT:-3000}"
BRIDGE=172.17.0.1
KAFKA_PORT="${SAM_KAFKA_PORT:-19292}"
BASE_IMAGE="public.ecr.aws/lambda/provided:al2023-x86_64"
TOOLS="$CACHE_DIR/tools"
export PATH="$TOOLS/bin:$HOME/.cargo/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok() { printf '  \033[32m✓\033[0m %s\n' "$*"; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
wait_port() { # host port seconds what
  local deadline=$((SECONDS + $3))
  until port_open "$1" "$2"; do
    ((SECONDS > deadline)) && { echo "  ✗ $4 did not open $1:$2 within $3 s" >&2; return 1; }
    sleep 0.2
  done
}
background() { # name command...: started by us, so `down` stops it
  local name=$1; shift
  "$@" >"$DATA/$name.log" 2>&1 &
  echo $! >"$STARTED/$name"
}

# The settings every function container gets (the template's ARNs and AWS
# addresses replaced by the local stores on the bridge); a database, Mongo
# prefix and Redis database of their own, like the tests'.
function_env() {
  cat <<EOF
{"APP_ENV": "local", "DATABASE_URL": "postgres://postgres:postgres@$BRIDGE:5432/ticketing_sam",
 "MONGO_URL": "mongodb://$BRIDGE:27017/?directConnection=true", "MONGO_DATABASE": "events_sam",
 "MONGO_COLLECTION_PREFIX": "sam_", "REDIS_URL": "redis://$BRIDGE:6379/2", "KAFKA_BROKERS": "$BRIDGE:$KAFKA_PORT",
 "ALLOWED_ORIGINS": "http://localhost:$PORT,http://127.0.0.1:$PORT", "RUST_LOG": "info"}
EOF
}
# The same settings for processes on the host: `env "${HOST_ENV[@]}" cmd`.
HOST_ENV=(APP_ENV=local DATABASE_URL="postgres://postgres:postgres@127.0.0.1:5432/ticketing_sam"
  MONGO_DATABASE=events_sam MONGO_COLLECTION_PREFIX=sam_ REDIS_URL="redis://127.0.0.1:6379/2"
  KAFKA_BROKERS="$BRIDGE:$KAFKA_PORT")

install_tools() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v socat >/dev/null || missing+=(socat)
  if ((${#missing[@]})); then
    say "Installing ${missing[*]} (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [[ ! -x "$TOOLS/bin/sam" ]]; then
    say "Installing aws-sam-cli (PyPI) into $TOOLS"
    python3 -m venv "$TOOLS"
    "$TOOLS/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
  fi
  ok "docker.io, debootstrap, socat, sam $(sam --version | awk '{print $NF}')"
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then
    ok "dockerd: reusing the running daemon"
    return
  fi
  local driver=overlay2
  mkdir -p "$CACHE_DIR/docker"
  background dockerd dockerd --iptables=false --ip6tables=false --ip-forward=false --storage-driver=$driver \
    --data-root "$CACHE_DIR/docker" --pidfile "$DATA/dockerd.pid"
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  if ! docker info >/dev/null 2>&1; then
    # Without overlay2 in the kernel, vfs works everywhere (slower, bigger).
    kill "$(cat "$STARTED/dockerd")" 2>/dev/null || true
    sleep 1
    driver=vfs
    background dockerd dockerd --iptables=false --ip6tables=false --ip-forward=false --storage-driver=$driver \
      --data-root "$CACHE_DIR/docker-vfs" --pidfile "$DATA/dockerd.pid"
    for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  docker info >/dev/null 2>&1 || { echo "  ✗ dockerd did not start; see $DATA/dockerd.log" >&2; exit 1; }
  ok "dockerd started ($driver, no iptables)"
}

base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    ok "base image $BASE_IMAGE present"
    return
  fi
  local rootfs="$CACHE_DIR/lambda-rootfs"
  if [[ ! -x "$rootfs/bin/sh" ]]; then
    say "Building the Lambda base image from Debian bookworm (debootstrap, once per machine)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian >"$DATA/debootstrap.log" 2>&1
  fi
  mkdir -p "$rootfs/var/task" "$rootfs/var/runtime" "$rootfs/opt"
  tar -C "$rootfs" -c . | docker import - "$BASE_IMAGE" >/dev/null
  ok "base image $BASE_IMAGE imported"
}

forward_stores() {
  for port in 5432 6379 27017; do
    if port_open "$BRIDGE" "$port"; then
      ok "$BRIDGE:$port already answers"
      continue
    fi
    background "forward-$port" socat "TCP-LISTEN:$port,bind=$BRIDGE,fork,reuseaddr" "TCP:127.0.0.1:$port"
    wait_port "$BRIDGE" "$port" 10 "socat"
    ok "forwarding $BRIDGE:$port → 127.0.0.1:$port"
  done
  if ! port_open "$BRIDGE" "$KAFKA_PORT"; then
    background tansu "$("$ROOT/local/stack.sh" tansu-bin)" broker --listener-url "tcp://$BRIDGE:$KAFKA_PORT" \
      --advertised-listener-url "tcp://$BRIDGE:$KAFKA_PORT" --storage-engine memory://tansu/
    wait_port "$BRIDGE" "$KAFKA_PORT" 30 "tansu"
  fi
  ok "kafka broker on $BRIDGE:$KAFKA_PORT (advertised there, so containers reach it)"
}

build_functions() {
  say "Building the functions (cargo, debug) and laying out one bootstrap per function"
  (cd "$ROOT" && cargo build --quiet --bins)
  local target="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
  for crate in "$ROOT"/functions/*/; do
    local name
    name=$(basename "$crate")
    mkdir -p "$DATA/functions/$name"
    cp -f "$target/$name" "$DATA/functions/$name/bootstrap"
  done
  "$TOOLS/bin/python" "$ROOT/local/sam_local_template.py" "$ROOT/template.yaml" "$DATA" "$(function_env)"
  ok "$(ls "$DATA/functions" | wc -l) functions; template $DATA/template.json"
}

up() {
  mkdir -p "$DATA" "$STARTED"
  install_tools
  "$ROOT/local/stack.sh" up
  start_dockerd
  base_image
  forward_stores
  build_functions
  env "${HOST_ENV[@]}" "$ROOT/target/debug/local-gateway" setup >/dev/null
  ok "database ticketing_sam migrated and seeded"
  # The event-source emulator and the schedule (its own HTTP port is unused).
  background emulator env "${HOST_ENV[@]}" "$ROOT/target/debug/local-gateway" serve --port "${SAM_EMULATOR_PORT:-3290}"
  wait_port 127.0.0.1 "${SAM_EMULATOR_PORT:-3290}" 30 "the event-source emulator"
  ok "Kafka consumers and the sweeper fed by the local emulator"
  say "sam local start-api on http://127.0.0.1:$PORT (warm containers start first)"
  # sam gives a container the shell's value of any variable the template
  # declares (make test exports the tests' settings), so none may be set.
  unset APP_ENV DATABASE_URL MONGO_URL MONGO_DATABASE MONGO_COLLECTION_PREFIX REDIS_URL KAFKA_BROKERS ALLOWED_ORIGINS RUST_LOG
  background sam-api sam local start-api --template "$DATA/template.json" --host 127.0.0.1 --port "$PORT" \
    --skip-pull-image --warm-containers EAGER
  wait_port 127.0.0.1 "$PORT" 600 "sam local start-api"
  ok "serving; logs in $DATA/sam-api.log"
}

down() {
  [[ -d "$STARTED" ]] || return 0
  docker ps -q --filter "ancestor=$BASE_IMAGE" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
  for file in "$STARTED"/sam-api "$STARTED"/emulator "$STARTED"/tansu "$STARTED"/forward-* "$STARTED"/dockerd; do
    [[ -f "$file" ]] || continue
    kill "$(cat "$file")" 2>/dev/null || true
    rm -f "$file"
  done
  # SAM's rapid images' containers may outlive the API process briefly.
  docker ps -aq --filter "label=sam.cli.container.type" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
  ok "stopped what sam-local.sh started"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: local/sam-local.sh up|down" >&2; exit 2 ;;
esac
