"""What a real account holds the stack to, which neither cfn-lint nor moto
checks: each rule reads a transformed template (the output of the SAM
transform, as CloudFormation deploys it) with the parameters of one
configuration, and returns what it finds wrong, one line per problem.

transform.py runs every rule on every Kafka configuration it transforms;
`python3 tests/aws/rules.py --template OLD.yaml` runs them on another
template (an older one, to see a rule fail on the mistake it is about).

The rules (issue 31):
- concurrency: the reserved concurrency of every function the configuration
  deploys fits the account (limit − the 100 Lambda keeps unreserved), and the
  defaults fit a default account with room (≤ DEFAULT_BUDGET);
- custom resources: a custom resource waits for everything its function
  needs to answer (the VPC endpoints, for a function in the VPC), so that on
  create the function can reach its secrets and CloudFormation's S3 URL, and
  on delete the endpoints outlive it;
- alarms: every alarm on AWS/Lambda metrics names this stack's functions
  (no region-wide alarm), and each deployed function's errors and throttles
  are watched;
- consumer groups: named after the stack, in the mappings and in the IAM
  group ARNs;
- Kafka failures: bounded retries and record age, bisect, provisioned
  pollers (which those settings need), the whole failed record kept (S3 or a
  Kafka topic, not offsets in a queue), an OffsetLag alarm per consumer, and
  reserved concurrency ≥ the partitions its mappings read;
- endpoints: interface endpoints in a security group of their own that lets
  the functions in on 443; Secrets Manager, MSK's API, Lambda, STS, S3 and
  SES's API when the stack makes endpoints.
"""

import argparse
import copy
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACK, REGION, ACCOUNT = "ticketing-rules", "us-east-1", "123456789012"
# What Lambda keeps unreserved in every account (PutFunctionConcurrency
# refuses to go below it).
UNRESERVED_MINIMUM = 100
DEFAULT_ACCOUNT_LIMIT = 1000
# The defaults leave a default account room for other stacks and a second stage.
DEFAULT_BUDGET = 600
KAFKA_ESM_LIMITS = {"MaximumRetryAttempts": (0, 10000), "MaximumRecordAgeInSeconds": (60, 604800)}
ENDPOINT_SERVICES = {"secretsmanager", "kafka", "lambda", "sts", "s3"}
SES_ENDPOINT_SERVICE = "email"


class Evaluator:
    """Enough of CloudFormation's intrinsic functions to read the values a
    configuration deploys: a Ref to a resource stays a marker."""

    def __init__(self, template: dict, parameters: dict[str, str]):
        self.template = template
        self.parameters = parameters
        self.values: dict[str, bool] = {}

    def parameter(self, name: str):
        pseudo = {"AWS::StackName": STACK, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        declared = self.template.get("Parameters", {}).get(name)
        if declared is None:
            return f"<Ref {name}>"
        value = self.parameters.get(name, declared.get("Default", ""))
        value = str(value)
        kind = declared.get("Type", "String")
        return [v for v in value.split(",")] if kind.startswith("List") or kind == "CommaDelimitedList" else value

    def holds(self, name: str | None) -> bool:
        if name is None:
            return True
        if name not in self.values:
            self.values[name] = bool(self(self.template.get("Conditions", {})[name]))
        return self.values[name]

    def __call__(self, node):
        if isinstance(node, list):
            return [v for v in (self(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Fn::", "Ref", "Condition")):
            return {k: v for k, v in ((k, self(v)) for k, v in node.items()) if v is not NO_VALUE}
        (fn, arg), = node.items()
        if fn == "Ref":
            if arg == "AWS::NoValue":
                return NO_VALUE
            return self.parameter(arg) if arg in self.template.get("Parameters", {}) or arg.startswith("AWS::") else f"<Ref {arg}>"
        if fn == "Condition":
            return self.holds(arg)
        if fn == "Fn::If":
            return self(arg[1] if self.holds(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            return self(arg[0]) == self(arg[1])
        if fn == "Fn::Not":
            return not self(arg[0])
        if fn == "Fn::And":
            return all(self(a) for a in arg)
        if fn == "Fn::Or":
            return any(self(a) for a in arg)
        if fn == "Fn::Contains":
            return self(arg[1]) in self(arg[0])
        if fn == "Fn::Join":
            return arg[0].join(str(v) for v in self(arg[1]))
        if fn == "Fn::Split":
            return str(self(arg[1])).split(arg[0])
        if fn == "Fn::Select":
            values = self(arg[1])
            index = int(self(arg[0]))
            return values[index] if index < len(values) else f"<no item {index}>"
        if fn == "Fn::FindInMap":
            name, first, second = (str(self(a)) for a in arg[:3])
            return self.template["Mappings"][name][first][second]
        if fn == "Fn::GetAtt":
            target = arg if isinstance(arg, str) else ".".join(arg)
            return f"<GetAtt {target}>"
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self(v) for k, v in arg[1].items()})

            def value(match):
                name = match.group(1)
                if name in extra:
                    return str(extra[name])
                if "." in name:
                    return f"<GetAtt {name}>"
                resolved = self({"Ref": name})
                return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

            return re.sub(r"\$\{([^}!]+)\}", value, text)
        if fn in ("Fn::GetAZs", "Fn::ImportValue", "Fn::Base64", "Fn::Cidr"):
            return f"<{fn}>"
        return {fn: self(arg)}


NO_VALUE = object()


def deployed(template: dict, ev: Evaluator) -> dict[str, dict]:
    """The resources this configuration creates, their properties evaluated."""
    out = {}
    for name, resource in template["Resources"].items():
        if ev.holds(resource.get("Condition")):
            evaluated = copy.deepcopy(resource)
            evaluated["Properties"] = ev(resource.get("Properties", {}))
            out[name] = evaluated
    return out


def referenced(node) -> set[str]:
    """Logical ids a node refers to (Ref, GetAtt, ${...} in Sub)."""
    found = set()
    if isinstance(node, list):
        for n in node:
            found |= referenced(n)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value.split(".")[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(value, str):
                    found |= referenced(value[1])
            else:
                found |= referenced(value)
    return found


def dependencies(template: dict, name: str) -> set[str]:
    """Everything `name` waits for, directly or through what it waits for."""
    resources = template["Resources"]
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        resource = resources.get(current)
        if resource is None:
            continue
        depends = resource.get("DependsOn", [])
        direct = (set([depends] if isinstance(depends, str) else depends)
                  | referenced(resource.get("Properties", {})) | referenced(resource.get("UpdatePolicy", {})))
        for dep in direct & set(resources):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def functions(resources: dict[str, dict]) -> dict[str, dict]:
    return {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}


def kafka_mappings(resources: dict[str, dict]) -> dict[str, dict]:
    return {n: r for n, r in resources.items() if r["Type"] == "AWS::Lambda::EventSourceMapping"
            and r["Properties"].get("Topics")}


def mapping_function(mapping: dict, resources: dict[str, dict]) -> str:
    """The function a mapping invokes (through its alias, if it names one)."""
    target = mapping["Properties"]["FunctionName"]
    match = re.match(r"<(?:Ref|GetAtt) ([A-Za-z0-9]+)", str(target))
    name = match.group(1) if match else str(target)
    alias = resources.get(name, {})
    if alias.get("Type") == "AWS::Lambda::Alias":
        match = re.match(r"<(?:Ref|GetAtt) ([A-Za-z0-9]+)", str(alias["Properties"]["FunctionName"]))
        return match.group(1) if match else name
    return name


def grouped(problems: dict[str, list[str]]) -> list[str]:
    """One line per kind of problem, naming where it occurs."""
    return [f"{what}: {', '.join(sorted(where))}" for what, where in problems.items() if where]


# ---------------------------------------------------------------- the rules
def rule_concurrency(template, ev, resources, parameters, setup):
    problems = []
    limit = int(ev.parameter("AccountConcurrencyLimit")) if "AccountConcurrencyLimit" in template.get("Parameters", {}) else DEFAULT_ACCOUNT_LIMIT
    reserved = {n: int(r["Properties"].get("ReservedConcurrentExecutions", 0)) for n, r in functions(resources).items()}
    total = sum(reserved.values())
    if "AccountConcurrencyLimit" not in template.get("Parameters", {}):
        problems.append("no AccountConcurrencyLimit parameter: the budget is not stated against the account's limit")
    if total > limit - UNRESERVED_MINIMUM:
        top = ", ".join(f"{n} {c}" for n, c in sorted(reserved.items(), key=lambda kv: -kv[1])[:4])
        problems.append(f"the functions reserve {total} concurrent executions; an account limit of {limit} "
                        f"allows {limit - UNRESERVED_MINIMUM} (Lambda keeps {UNRESERVED_MINIMUM} unreserved); largest: {top}")
    overridden = {k for k in parameters if k.endswith("Concurrency")}
    if not overridden and total > DEFAULT_BUDGET:
        problems.append(f"the default reserved concurrency is {total}, above the budget of {DEFAULT_BUDGET} for a default account")
    return problems


def rule_custom_resources(template, ev, resources, parameters, setup):
    problems = []
    endpoints = {n for n, r in resources.items() if r["Type"] == "AWS::EC2::VPCEndpoint"}
    for name, resource in resources.items():
        if not (resource["Type"].startswith("Custom::") or resource["Type"] == "AWS::CloudFormation::CustomResource"):
            continue
        token = referenced(template["Resources"][name]["Properties"].get("ServiceToken"))
        function = next((t for t in token if template["Resources"].get(t, {}).get("Type") == "AWS::Lambda::Function"), None)
        if function is None:  # an alias or version: the function behind it
            for t in token:
                function = next(iter(referenced(template["Resources"].get(t, {}).get("Properties", {}).get("FunctionName"))), None)
                if function:
                    break
        if function is None or "VpcConfig" not in resources.get(function, {}).get("Properties", {}):
            continue
        waits = dependencies(template, name)
        missing = sorted(endpoints - waits)
        if missing:
            problems.append(f"custom resource {name} (answered by {function}, in the VPC) does not wait for the "
                            f"VPC endpoints {', '.join(missing)}: on create its function cannot reach them yet, on delete they go first")
    return problems


def alarm_metrics(alarm: dict) -> list[dict]:
    props = alarm["Properties"]
    if "MetricName" in props:
        return [{"Namespace": props.get("Namespace"), "MetricName": props["MetricName"], "Dimensions": props.get("Dimensions", [])}]
    out = []
    for query in props.get("Metrics", []):
        metric = (query.get("MetricStat") or {}).get("Metric")
        if metric:
            out.append({"Namespace": metric.get("Namespace"), "MetricName": metric.get("MetricName"), "Dimensions": metric.get("Dimensions", [])})
    return out


def rule_alarms(template, ev, resources, parameters, setup):
    problems, watched = [], {"Errors": set(), "Throttles": set(), "OffsetLag": set()}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        for metric in alarm_metrics(resource):
            if metric["Namespace"] != "AWS/Lambda":
                continue
            names = [d.get("Value") for d in metric["Dimensions"] if d.get("Name") == "FunctionName"]
            if not names:
                problems.append(f"alarm {name} watches AWS/Lambda {metric['MetricName']} of every function in the region")
            for value in names:
                match = re.match(r"<Ref ([A-Za-z0-9]+)", str(value))
                if match and metric["MetricName"] in watched:
                    watched[metric["MetricName"]].add(match.group(1))
    unwatched: dict[str, list[str]] = {}
    for function in functions(resources):
        if "Migrator" in function:
            continue  # invoked by CloudFormation only; its failure fails the deploy
        for metric in ("Errors", "Throttles"):
            if function not in watched[metric]:
                unwatched.setdefault(f"no alarm of this stack watches the {metric} of", []).append(function)
    consumers = {mapping_function(m, resources) for m in kafka_mappings(resources).values()}
    unwatched["no OffsetLag alarm for the consumer"] = sorted(consumers - watched["OffsetLag"])
    return problems + grouped(unwatched)


def rule_consumer_groups(template, ev, resources, parameters, setup):
    wrong: dict[str, list[str]] = {}
    for name, mapping in kafka_mappings(resources).items():
        props = mapping["Properties"]
        config = props.get("AmazonManagedKafkaEventSourceConfig") or props.get("SelfManagedKafkaEventSourceConfig") or {}
        group = str(config.get("ConsumerGroupId", ""))
        if not group.startswith(f"{STACK}-"):
            wrong.setdefault(f"consumer groups not named after the stack ({STACK}-…), so a second stage in the account "
                             "collides with them", []).append(group)
    for name, resource in resources.items():
        if resource["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        for arn in re.findall(r"arn:aws:kafka:[^'\"]*:group/[^'\" ]+", str(resource["Properties"])):
            if not arn.rsplit("/", 1)[1].startswith(f"{STACK}-"):
                wrong.setdefault(f"{name} grants consumer groups not named after the stack", []).append(arn.rsplit("/", 1)[1])
    return grouped(wrong)


def rule_kafka_failures(template, ev, resources, parameters, setup):
    wrong: dict[str, list[str]] = {}
    partitions: dict[str, int] = {}
    count = int(ev.parameter("KafkaPartitions")) if "KafkaPartitions" in template.get("Parameters", {}) else 3
    for name, mapping in kafka_mappings(resources).items():
        props = mapping["Properties"]
        for key, (low, high) in KAFKA_ESM_LIMITS.items():
            value = props.get(key)
            if value is None or not (low <= int(value) <= high):
                wrong.setdefault(f"mappings without a bounded {key} (a poison record is retried for ever)", []).append(name)
        if props.get("BisectBatchOnFunctionError") is not True:
            wrong.setdefault("mappings that do not bisect a failing batch (BisectBatchOnFunctionError)", []).append(name)
        if not (props.get("ProvisionedPollerConfig") or {}).get("MinimumPollers"):
            wrong.setdefault("mappings without ProvisionedPollerConfig (Kafka retry and bisect settings need provisioned mode)", []).append(name)
        destination = str(((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination", ""))
        bucket = destination.startswith("<GetAtt ") and template["Resources"].get(destination[8:].split(".")[0], {}).get("Type") == "AWS::S3::Bucket"
        if not (destination.startswith("kafka://") or ":s3:::" in destination or bucket):
            wrong.setdefault(f"mappings that keep only offsets of a failed batch ({destination or 'nowhere'}), not the "
                             "whole record (an S3 bucket or a Kafka topic)", []).append(name)
        subnets = [a for a in props.get("SourceAccessConfigurations") or [] if a.get("Type") == "VPC_SUBNET"]
        if props.get("SelfManagedEventSource") and len(subnets) < min(2, len(ev.parameter("SubnetIds"))):
            wrong.setdefault("self-managed mappings that reach the brokers from one subnet (one AZ)", []).append(name)
        function = mapping_function(mapping, resources)
        partitions[function] = partitions.get(function, 0) + count * len(props["Topics"])
    for function, needed in sorted(partitions.items()):
        reserved = int(resources.get(function, {}).get("Properties", {}).get("ReservedConcurrentExecutions", 0))
        if reserved < needed:
            wrong.setdefault(f"consumers reserving fewer invocations than the partitions they read ({count} per topic)",
                             []).append(f"{function} {reserved} < {needed}")
    return grouped(wrong)


def rule_endpoints(template, ev, resources, parameters, setup):
    problems = []
    endpoints = {n: r for n, r in resources.items() if r["Type"] == "AWS::EC2::VPCEndpoint"}
    if not endpoints:
        return problems
    services = {str(r["Properties"]["ServiceName"]).rsplit(".", 1)[1]: n for n, r in endpoints.items()}
    needed = set(ENDPOINT_SERVICES)
    if any(r["Type"] == "AWS::Lambda::Function" and "MAIL_FROM" in str(r["Properties"].get("Environment")) for r in resources.values()):
        needed.add(SES_ENDPOINT_SERVICE)
    if "SesEndpoint" in template.get("Parameters", {}) and ev.parameter("SesEndpoint") != "api":
        needed.discard(SES_ENDPOINT_SERVICE)
    for service in sorted(needed - set(services)):
        problems.append(f"no {service} VPC endpoint, and the functions have no NAT (CreateVpcEndpoints is true)")
    # The endpoints' group admits the functions' first group (a CloudFormation
    # list parameter cannot be iterated into ingress rules).
    function_groups = set(ev.parameter("SecurityGroupIds")[:1])
    for name, endpoint in endpoints.items():
        props = endpoint["Properties"]
        if props.get("VpcEndpointType") != "Interface":
            continue
        groups = props.get("SecurityGroupIds", [])
        if set(map(str, groups)) & function_groups or not groups:
            problems.append(f"{name} sits in the functions' own security group; give the endpoints a group of their own")
            continue
        for group in groups:
            match = re.match(r"<(?:GetAtt|Ref) ([A-Za-z0-9]+)", str(group))
            sg = resources.get(match.group(1)) if match else None
            if sg is None:
                continue
            ingress = list(sg["Properties"].get("SecurityGroupIngress", []))
            ingress += [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
                        and match.group(1) in str(r["Properties"].get("GroupId"))]
            sources = {str(i.get("SourceSecurityGroupId")) for i in ingress if int(i.get("FromPort", -1)) <= 443 <= int(i.get("ToPort", -1))}
            if not function_groups <= sources:
                problems.append(f"{name}'s security group does not let the functions' groups in on 443")
    return problems


RULES = [rule_concurrency, rule_custom_resources, rule_alarms, rule_consumer_groups, rule_kafka_failures, rule_endpoints]


def reserved_total(transformed: dict, parameters: dict[str, str]) -> int:
    """The reserved concurrency of every function this configuration deploys."""
    ev = Evaluator(transformed, parameters)
    return sum(int(r["Properties"].get("ReservedConcurrentExecutions", 0)) for r in functions(deployed(transformed, ev)).values())


def check(transformed: dict, parameters: dict[str, str], setup: str) -> list[str]:
    ev = Evaluator(transformed, parameters)
    resources = deployed(transformed, ev)
    problems = []
    for rule in RULES:
        problems += rule(transformed, ev, resources, parameters, setup)
    return problems


def refusals(template: dict, parameters: dict[str, str]) -> list[str]:
    """The template's Rules that refuse these parameters, by their messages."""
    ev = Evaluator(template, parameters)
    refused = []
    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not ev(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not ev(assertion["Assert"]):
                refused.append(f"{name}: {assertion.get('AssertDescription', '(no message)')}")
    return refused


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    args = parser.parse_args()
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    import transform

    sys.exit(transform.run(pathlib.Path(args.template), write=False))


if __name__ == "__main__":
    main()
