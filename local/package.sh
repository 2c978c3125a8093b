#!/usr/bin/env bash
# make package: `sam build` of every function with cargo-lambda + zig (no
# Docker), then each bootstrap's size.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TOOLS="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}/tools"
if [[ ! -x "$TOOLS/bin/sam" || ! -x "$TOOLS/bin/cargo-lambda" ]] || ! "$TOOLS/bin/python" -c "import ziglang" 2>/dev/null; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang
fi
export PATH="$TOOLS/bin:$PATH" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0
time sam build --parallel --cached
echo "==> bootstrap sizes"
for dir in .aws-sam/build/*/; do
  [[ -f "$dir/bootstrap" ]] && printf '  %-40s %s\n' "$(basename "$dir")" "$(du -h "$dir/bootstrap" | cut -f1)"
done
