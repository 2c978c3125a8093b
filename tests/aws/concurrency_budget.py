"""Does this stack's reserved concurrency fit the account? Run by the deploy
workflow before `sam deploy` (with `aws lambda get-account-settings` and the
deploy's parameters), and by tests/aws_checks.sh against a default account.

Lambda keeps 100 executions unreserved in every account and refuses a
reservation that would go below that, halfway through creating the stack.
What this stack may reserve is what is unreserved now, plus what its own
functions reserve already (an update replaces their reservations), less 100.

Usage: concurrency_budget.py --account-settings FILE [--stack NAME]
       [--template template.yaml] [Name=Value ...]
Exits 1 with a message naming the numbers when the stack would not fit.
"""

import argparse
import copy
import json
import pathlib
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import rules  # noqa: E402
from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402
from transform import BundledPolicies, packaged  # noqa: E402


def reserved_now(stack: str) -> int:
    """What the stack's deployed functions reserve (0 before its first deploy)."""
    def aws(*args):
        done = subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True)
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    listed = aws("cloudformation", "list-stack-resources", "--stack-name", stack)
    total = 0
    for resource in (listed or {}).get("StackResourceSummaries", []):
        if resource["ResourceType"] == "AWS::Lambda::Function":
            concurrency = aws("lambda", "get-function-concurrency", "--function-name", resource["PhysicalResourceId"]) or {}
            total += concurrency.get("ReservedConcurrentExecutions", 0)
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--account-settings", required=True, help="the output of aws lambda get-account-settings")
    parser.add_argument("--stack", help="the deployed stack, whose reservations an update replaces")
    parser.add_argument("--template", default=str(rules.ROOT / "template.yaml"))
    parser.add_argument("parameters", nargs="*", help="Name=Value, as given to sam deploy")
    args = parser.parse_args()
    parameters = dict(p.split("=", 1) for p in args.parameters)
    settings = json.loads(pathlib.Path(args.account_settings).read_text())["AccountLimit"]
    template = packaged(yaml_parse(pathlib.Path(args.template).read_text()))
    parameters = {k: v for k, v in parameters.items() if k in template["Parameters"]}
    transformed = transform(copy.deepcopy(template), dict(parameters), BundledPolicies())
    needed = rules.reserved_total(transformed, parameters)
    ours = reserved_now(args.stack) if args.stack else 0
    available = settings["UnreservedConcurrentExecutions"] + ours - rules.UNRESERVED_MINIMUM
    limit = settings["ConcurrentExecutions"]
    if needed > available:
        print(f"::error::the stack reserves {needed} concurrent executions; this account allows {available} more "
              f"(limit {limit}, {settings['UnreservedConcurrentExecutions']} unreserved now, {ours} held by this stack, "
              f"{rules.UNRESERVED_MINIMUM} always kept unreserved). Lower ApiConcurrency / BookingsConcurrency / "
              "QueueConcurrency or KafkaPartitions, or ask AWS for a higher Lambda concurrency limit.")
        sys.exit(1)
    print(f"reserved concurrency {needed} fits: {available} available (account limit {limit})")


if __name__ == "__main__":
    main()
