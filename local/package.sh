#!/usr/bin/env bash
# make package: `sam build` of every function with cargo-lambda + zig (no
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

# One release build of every binary first: sam then finds each one built
# and only copies it, instead of 20 cargo runs queueing on one target dir.
start=$SECONDS
cargo lambda build --release --workspace --exclude local-gateway --exclude e2e-tests --exclude bench
echo "==> cargo lambda build: $((SECONDS - start)) s"
start=$SECONDS
sam build --cached
echo "==> sam build: $((SECONDS - start)) s"
echo "==> bootstrap sizes"
for dir in .aws-sam/build/*/; do
  [[ -f "$dir/bootstrap" ]] && printf '  %-40s %s\n' "$(basename "$dir")" "$(du -h "$dir/bootstrap" | cut -f1)"
done
