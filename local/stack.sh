#!/usr/bin/env bash
# The local stack: PostgreSQL, Redis (plus a TLS cluster-mode Redis for the
# tests), Tansu (Kafka protocol), nx-27017 (Mongo wire protocol) and MailDev
# (SMTP with a web inbox), all on 127.0.0.1.
#
#   local/stack.sh up     install what is missing, start what is not running
#   local/stack.sh down   stop only what `up` started (reused services stay)
#   local/stack.sh status
#
# Idempotent: a service already listening on its port is reused as it is.
# Installs are cached under $TICKETING_CACHE_DIR (default ~/.cache/ticket-booking)
# so a second run on the same machine starts in seconds; nothing depends on
# that cache being there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${TICKETING_DATA_DIR:-$ROOT/.data}"
CACHE_DIR="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
STARTED_DIR="$DATA_DIR/started"

PG_PORT=5432
REDIS_PORT=6379
REDIS_CLUSTER_PORT=6390
KAFKA_PORT=19092
MONGO_PORT=27017
SMTP_PORT=1025
INBOX_PORT=1080
TANSU_VERSION=0.6.0
NX_VERSION=0.8.1
# Named after the content of our patches (install_tansu), so a broker built
# with other patches, or none, is never reused. Tests and the bench ask
# `local/stack.sh tansu-bin` for it.
TANSU_BIN="$CACHE_DIR/tansu-$TANSU_VERSION-$(cat "$ROOT"/local/tansu/*.patch | sha256sum | cut -c1-12)/bin/tansu"
NX_BIN="$CACHE_DIR/nx-$NX_VERSION/bin/nx-27017"
# Named after the lockfile, so a changed pin installs afresh.
MAILDEV_DIR="$CACHE_DIR/maildev-$(sha256sum "$ROOT/local/maildev/package-lock.json" | cut -c1-12)"

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
ok() { printf '  \033[32m✓\033[0m %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name seconds
  local deadline=$((SECONDS + $3))
  until port_open "$1"; do
    if ((SECONDS > deadline)); then
      echo "  ✗ $2 did not open port $1 within $3 s" >&2
      return 1
    fi
    sleep 0.2
  done
}

apt_updated=""
apt_install() {
  if [[ -z "$apt_updated" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The C toolchain pieces rdkafka's bundled librdkafka (cmake-build) needs.
ensure_build_deps() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  command -v c++ >/dev/null || missing+=(g++)
  for pkg in libcurl4-openssl-dev libsasl2-dev libssl-dev zlib1g-dev libzstd-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    say "Installing build dependencies: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  ok "build dependencies present"
}

mark_started() { echo "$2" >"$STARTED_DIR/$1"; }

start_postgres() {
  if port_open $PG_PORT; then
    ok "postgres: reusing the server on 127.0.0.1:$PG_PORT"
    return
  fi
  say "Starting PostgreSQL"
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
  wait_port $PG_PORT postgres 30
  # A fresh Debian cluster wants a password over TCP; give the default URL one.
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  mark_started postgres "pg_ctlcluster $version main stop"
  ok "postgres: started $version on 127.0.0.1:$PG_PORT"
}

start_redis() {
  if port_open $REDIS_PORT; then
    ok "redis: reusing the server on 127.0.0.1:$REDIS_PORT"
    return
  fi
  say "Starting Redis"
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port $REDIS_PORT --save "" --appendonly no \
    --dir "$DATA_DIR" --pidfile "$DATA_DIR/redis.pid" --logfile "$DATA_DIR/redis.log"
  wait_port $REDIS_PORT redis 15
  mark_started redis "kill \$(cat '$DATA_DIR/redis.pid')"
  ok "redis: started on 127.0.0.1:$REDIS_PORT"
}

# A second Redis shaped like ElastiCache in production: cluster mode (one
# node owning all 16384 slots) and TLS only, with a CA made here. Tests use
# it to prove the cluster client, hash-tagged scripts and TLS; `make dev`
# does not need it.
start_redis_cluster() {
  # Machine-wide (the cache dir), not per checkout: another clone that
  # reuses this server finds its CA at the same path.
  local tls="$CACHE_DIR/redis-tls"
  if port_open $REDIS_CLUSTER_PORT; then
    if [[ -s "$tls/ca.crt" ]]; then
      ok "redis-cluster: reusing the server on 127.0.0.1:$REDIS_CLUSTER_PORT"
      return
    fi
    # Its CA is gone, so no client can verify it: replace it.
    [[ -s "$tls/redis.pid" ]] && kill "$(cat "$tls/redis.pid")" 2>/dev/null
    pkill -f "redis-server.*:$REDIS_CLUSTER_PORT" 2>/dev/null || true
    sleep 0.5
  fi
  say "Starting Redis in cluster mode with TLS"
  command -v redis-server >/dev/null || apt_install redis-server
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$tls"
  if [[ ! -s "$tls/server.crt" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ticketing local CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/ext.cnf"
    openssl x509 -req -days 3650 -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
      -extfile "$tls/ext.cnf" -out "$tls/server.crt" 2>/dev/null
  fi
  rm -f "$tls/nodes.conf"
  redis-server --daemonize yes --bind 127.0.0.1 --port 0 --tls-port $REDIS_CLUSTER_PORT \
    --tls-cert-file "$tls/server.crt" --tls-key-file "$tls/server.key" --tls-ca-cert-file "$tls/ca.crt" \
    --tls-auth-clients no --tls-cluster yes --cluster-enabled yes --cluster-config-file "$tls/nodes.conf" \
    --cluster-announce-ip 127.0.0.1 --save "" --appendonly no \
    --dir "$tls" --pidfile "$tls/redis.pid" --logfile "$tls/redis.log"
  wait_port $REDIS_CLUSTER_PORT redis-cluster 15
  local cli=(redis-cli --tls --cacert "$tls/ca.crt" -p $REDIS_CLUSTER_PORT)
  "${cli[@]}" CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null
  local deadline=$((SECONDS + 15))
  until "${cli[@]}" CLUSTER INFO | grep -q 'cluster_state:ok'; do
    ((SECONDS < deadline)) || { echo "  ✗ redis-cluster did not reach cluster_state:ok" >&2; return 1; }
    sleep 0.2
  done
  mark_started redis-cluster "kill \$(cat '$tls/redis.pid')"
  ok "redis-cluster: started on 127.0.0.1:$REDIS_CLUSTER_PORT (TLS, CA $tls/ca.crt)"
}

# Tansu 0.6.0 from crates.io and its own Cargo.lock, with one patch to
# tansu-storage (local/tansu/): its fetch sleeps out the consumer's whole
# fetch.wait.max.ms even when it already has records, which put 10–20 ms on
# every Kafka hop of the booking pipeline.
install_tansu() {
  say "Installing Tansu $TANSU_VERSION (patched) into $CACHE_DIR (once per machine; ~10 min on 2 cores)"
  ensure_build_deps
  # The target dir survives an interrupted install, so a rerun resumes.
  local build="$CACHE_DIR/tansu-build" storage="$CACHE_DIR/tansu-build/tansu-storage"
  rm -rf "$build/sources" "$storage" && mkdir -p "$build/sources/src"
  # A throwaway manifest whose `cargo fetch` unpacks tansu-storage's sources.
  printf '[package]\nname = "tansu-sources"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\ntansu-storage = "=%s"\n' \
    "$TANSU_VERSION" >"$build/sources/Cargo.toml"
  touch "$build/sources/src/lib.rs"
  (cd "$build/sources" && cargo fetch --quiet)
  cp -r "$(cd "$build/sources" && cargo metadata --format-version 1 --locked | python3 -c '
import json, os, sys
print(next(os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"] if p["name"] == "tansu-storage"))')" \
    "$storage"
  # The ceiling keeps git from treating a cache inside some work tree as
  # part of that repository (it would then apply paths from its root).
  for patch in "$ROOT"/local/tansu/*.patch; do
    (cd "$storage" && GIT_CEILING_DIRECTORIES="$build" git apply "$patch")
  done
  CARGO_TARGET_DIR="$build" cargo install tansu --version "$TANSU_VERSION" --locked --features dynostore \
    --config "patch.crates-io.tansu-storage.path='$storage'" --root "$(dirname "$(dirname "$TANSU_BIN")")" --quiet
  rm -rf "$build"
  # Builds from earlier patch sets.
  local installed
  installed="$(dirname "$(dirname "$TANSU_BIN")")"
  find "$CACHE_DIR" -maxdepth 1 -name 'tansu-*' ! -path "$installed" -exec rm -rf {} +
}

start_kafka() {
  # Installed even when a broker is reused: the fault tests and the bench
  # start private brokers.
  [[ -x "$TANSU_BIN" ]] || install_tansu
  if port_open $KAFKA_PORT; then
    ok "kafka: reusing the broker on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  # In memory: Tansu's SQLite engine parses its SQL afresh on every fetch,
  # and the emulator's consumers fetch ~100 times a second each, which cost
  # half a core with nothing to read (and a quarter of the machine under
  # load). The catch: stopping the broker drops what it holds; see
  # docs/decisions.md, "The local broker keeps its log in memory".
  say "Starting Tansu (Kafka protocol), log in memory"
  mkdir -p "$DATA_DIR"
  # exec: the recorded pid must be Tansu's own, not a subshell's, or
  # `down` would kill the subshell and leave the broker running.
  (cd "$DATA_DIR" && exec nohup "$TANSU_BIN" broker \
    --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --storage-engine "memory://tansu/" >"$DATA_DIR/tansu.log" 2>&1) &
  echo $! >"$DATA_DIR/tansu.pid"
  wait_port $KAFKA_PORT tansu 30
  mark_started kafka "kill \$(cat '$DATA_DIR/tansu.pid')"
  ok "kafka: Tansu started on 127.0.0.1:$KAFKA_PORT"
}

start_mongo() {
  # Installed even when a server is reused: the fault tests start private
  # copies of it.
  if [[ ! -x "$NX_BIN" ]]; then
    say "Installing nx-27017 $NX_VERSION (Mongo wire protocol on SQLite) into $CACHE_DIR"
    python3 -m venv "$CACHE_DIR/nx-$NX_VERSION" 2>/dev/null || { apt_install python3-venv && python3 -m venv "$CACHE_DIR/nx-$NX_VERSION"; }
    "$CACHE_DIR/nx-$NX_VERSION/bin/pip" install --quiet --disable-pip-version-check "nx-27017==$NX_VERSION"
  fi
  if port_open $MONGO_PORT; then
    ok "mongo: reusing the server on 127.0.0.1:$MONGO_PORT"
    return
  fi
  say "Starting nx-27017 with storage in $DATA_DIR/events.db"
  nohup "$NX_BIN" --db "$DATA_DIR/events.db" --host 127.0.0.1 -p $MONGO_PORT \
    --log-file "$DATA_DIR/nx.log" --pid-file "$DATA_DIR/nx.pid" >"$DATA_DIR/nx.out" 2>&1 &
  echo $! >"$DATA_DIR/nx.launcher.pid"
  wait_port $MONGO_PORT nx-27017 30
  mark_started mongo "kill \$(cat '$DATA_DIR/nx.launcher.pid')"
  ok "mongo: nx-27017 started on 127.0.0.1:$MONGO_PORT"
}

start_maildev() {
  if port_open $SMTP_PORT; then
    ok "mail: reusing the SMTP server on 127.0.0.1:$SMTP_PORT"
    return
  fi
  if [[ ! -x "$MAILDEV_DIR/node_modules/.bin/maildev" ]]; then
    command -v npm >/dev/null || apt_install nodejs npm
    say "Installing MailDev from local/maildev/package-lock.json into $MAILDEV_DIR"
    mkdir -p "$MAILDEV_DIR"
    cp "$ROOT/local/maildev/package.json" "$ROOT/local/maildev/package-lock.json" "$MAILDEV_DIR/"
    # MailDev 3 asks for Node 18+ in its engines but some dependencies name
    # newer majors; it runs on Debian's Node 20, so the warning is noise.
    (cd "$MAILDEV_DIR" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
    find "$CACHE_DIR" -maxdepth 1 -name 'maildev-*' ! -path "$MAILDEV_DIR" -exec rm -rf {} +
  fi
  say "Starting MailDev (inbox kept in $DATA_DIR/mail)"
  mkdir -p "$DATA_DIR/mail"
  nohup "$MAILDEV_DIR/node_modules/.bin/maildev" --ip 127.0.0.1 --smtp $SMTP_PORT --web $INBOX_PORT \
    --mail-directory "$DATA_DIR/mail" >"$DATA_DIR/maildev.log" 2>&1 &
  echo $! >"$DATA_DIR/maildev.pid"
  wait_port $SMTP_PORT maildev 30
  wait_port $INBOX_PORT "maildev inbox" 30
  mark_started mail "kill \$(cat '$DATA_DIR/maildev.pid')"
  ok "mail: MailDev on smtp://127.0.0.1:$SMTP_PORT, inbox http://localhost:$INBOX_PORT"
}

up() {
  mkdir -p "$DATA_DIR" "$CACHE_DIR" "$STARTED_DIR"
  say "Local stack (data in $DATA_DIR, installs cached in $CACHE_DIR)"
  ensure_build_deps
  start_postgres
  start_redis
  start_redis_cluster
  start_kafka
  start_mongo
  start_maildev
}

# down: stop every service stack.sh started; down NAME...: only those.
down() {
  shopt -s nullglob
  local any="" markers=("$STARTED_DIR"/*)
  (($# == 0)) || markers=("${@/#/$STARTED_DIR/}")
  for marker in "${markers[@]}"; do
    [[ -f "$marker" ]] || continue
    any=1
    local name
    name="$(basename "$marker")"
    bash -c "$(cat "$marker")" 2>/dev/null && ok "stopped $name" || echo "  - $name was already stopped"
    rm -f "$marker"
  done
  [[ -n "$any" ]] || ok "nothing to stop (every service was reused, not started here)"
}

status() {
  for entry in "postgres $PG_PORT" "redis $REDIS_PORT" "redis-cluster $REDIS_CLUSTER_PORT" "kafka $KAFKA_PORT" "mongo $MONGO_PORT" "mail $SMTP_PORT" "inbox $INBOX_PORT"; do
    set -- $entry
    if port_open "$2"; then ok "$1 listening on 127.0.0.1:$2"; else echo "  ✗ $1 not listening on 127.0.0.1:$2"; fi
  done
}

case "${1:-up}" in
  up) up ;;
  down) shift; down "$@" ;;
  status) status ;;
  tansu-bin) echo "$TANSU_BIN" ;; # for scripts that run a broker of their own (bench/run.sh)
  *) echo "usage: $0 up | down [service...] | status | tansu-bin" >&2; exit 2 ;;
esac
