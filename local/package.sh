#!/usr/bin/env bash
# make package: every function built for Lambda with cargo-lambda + zig (no
# Docker), then each bootstrap's size. Also fetches the DocumentDB CA bundle
# into its layer when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOOLS="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}/tools"
if [[ ! -x "$TOOLS/bin/sam" || ! -x "$TOOLS/bin/cargo-lambda" ]] || ! "$TOOLS/bin/python" -c "import ziglang" 2>/dev/null; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang
fi
export PATH="$TOOLS/bin:$PATH" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0

bundle=layers/documentdb-ca/global-bundle.pem
if [[ ! -s "$bundle" ]]; then
  curl -fsS --max-time 20 -o "$bundle" https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem ||
    { rm -f "$bundle"; echo "!! could not download the DocumentDB CA bundle: the layer will be empty and TLS to DocumentDB will fail" >&2; }
fi

# librdkafka 2.12 includes <curl/curl.h> whenever WITH_OAUTHBEARER_OIDC is
# defined, and its config.h always defines it (to 0 here: no curl, no OIDC).
# zig's sysroot has no curl headers, so lend it the host's; nothing of curl
# is compiled in or linked.
ensure_curl_headers() {
  local src
  src=$(dirname "$(find /usr/include -name curl.h -path '*curl/curl.h' | head -n1)")
  [[ -n "$src" && "$src" != "." ]] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcurl4-openssl-dev >/dev/null; ensure_curl_headers; return; }
  mkdir -p .data/zig-include && rm -rf .data/zig-include/curl && cp -r "$src" .data/zig-include/curl
  export CFLAGS_x86_64_unknown_linux_gnu="-isystem $PWD/.data/zig-include"
}
ensure_curl_headers

# `sam build` is the build the deploy workflow runs: for each function in
# template.yaml its Rust builder runs `cargo lambda build --release --bin
# <function>` inside the function's folder (in source, so every function
# shares the workspace's target directory and only the first one compiles
# the dependency tree) and copies the bootstrap to .aws-sam/build. Functions
# defined twice (MSK and self-managed Kafka variants) are built once.
start=$SECONDS
sam build --parallel
echo "==> sam build: $((SECONDS - start)) s"
echo "==> bootstrap sizes (.aws-sam/build/<resource>/bootstrap)"
for dir in .aws-sam/build/*/; do
  [[ -f "$dir/bootstrap" ]] && printf '  %-32s %s\n' "$(basename "$dir")" "$(du -h "$dir/bootstrap" | cut -f1)"
done
