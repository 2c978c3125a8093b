"""Deploy rehearsal, first stage: the SAM transform CloudFormation itself runs,
for every KafkaSource × KafkaAuth (the unsupported ones must be refused by
the template's Rules), and the account rules of rules.py on its output.

cfn-lint and `sam validate --lint` read template.yaml as written and passed a
template the transform refuses (a Kafka event source with several topics).
This runs aws-sam-translator, the version the pinned SAM CLI ships, on
template.yaml with realistic parameters for both Kafka setups (MSK and
self-managed with SCRAM), then checks the result against the Lambda API's own
constraints from botocore's service model, which cfn-lint does not know:
one topic per event source mapping, and consumer groups unique across the
stack's Kafka mappings. Writes each transformed template to .data/aws/ for
cfn-lint. Exits non-zero, naming every problem, if any setup fails.
"""

import copy
import json
import pathlib
import sys

import botocore.session
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "us-east-1"
COMMON = {
    "SubnetIds": "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
    "SecurityGroupIds": "sg-0a1b2c3d4e5f60001",
    "VpcId": "vpc-0a1b2c3d4e5f60001",
    "DatabaseUrlSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ticketing/database-url-AbCdEf",
    "MongoUrlSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ticketing/mongo-url-AbCdEf",
    "JwtSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ticketing/jwt-AbCdEf",
    "TicketSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ticketing/tickets-AbCdEf",
    "RedisUrlSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ticketing/redis-url-AbCdEf",
    "AllowedOrigins": "https://tickets.example.com",
    "MailFrom": "Box Office <tickets@tickets.example.com>",
    "MailSenderIdentity": "tickets.example.com",
    "RouteTableIds": "rtb-0a1b2c3d4e5f60001,rtb-0a1b2c3d4e5f60002",
}
MSK = {
    "MskClusterArn": f"arn:aws:kafka:{REGION}:{ACCOUNT}:cluster/ticketing/0a1b2c3d-1111-2222-3333-444455556666-7",
    "MskClusterName": "ticketing",
}
SELF_MANAGED = {"KafkaBootstrapServers": "b-1.kafka.internal:9096,b-2.kafka.internal:9096"}
SCRAM = {"KafkaScramSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:AmazonMSK_ticketing-AbCdEf"}
# Every KafkaSource × KafkaAuth. The supported ones are transformed and
# checked; the template's Rules must refuse the others before anything is
# created (IAM auth exists only on MSK; the event source mappings
# authenticate to MSK with IAM and to a self-managed Kafka with SCRAM, so a
# client that authenticates otherwise would read what its mapping cannot).
SUPPORTED = {("msk", "iam"), ("self-managed", "scram")}
COMBINATIONS = {
    (source, auth): {**COMMON, **(MSK if source == "msk" else SELF_MANAGED), **(SCRAM if auth == "scram" else {}), "KafkaAuth": auth}
    for source in ("msk", "self-managed")
    for auth in ("iam", "scram", "tls", "plaintext")
}
# The names the rest of the checks use for the two supported setups.
SETUPS = {"msk": COMBINATIONS[("msk", "iam")], "self-managed": COMBINATIONS[("self-managed", "scram")]}


class BundledPolicies:
    """The AWS managed policy names SAM attaches; no IAM call offline."""

    def load(self):
        from samtranslator.internal.managed_policies import get_bundled_managed_policy_map

        return get_bundled_managed_policy_map("aws")


def packaged(template):
    """What `sam package` does to the template: code and layers in S3."""
    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://rehearsal-artifacts/functions.zip"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = "s3://rehearsal-artifacts/layer.zip"
    return template


def lambda_api_problems(transformed):
    """The Lambda API's limits on what the transform produced."""
    shapes = botocore.session.get_session().get_service_model("lambda")
    request = shapes.operation_model("CreateEventSourceMapping").input_shape
    max_topics = request.members["Topics"].metadata.get("max")
    problems, groups = [], {}
    for name, resource in transformed["Resources"].items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource["Properties"]
        topics = props.get("Topics", [])
        if max_topics is not None and len(topics) > max_topics:
            problems.append(f"{name}: {len(topics)} topics, the Lambda API takes at most {max_topics}")
        config = props.get("AmazonManagedKafkaEventSourceConfig") or props.get("SelfManagedKafkaEventSourceConfig")
        group = (config or {}).get("ConsumerGroupId")
        group = json.dumps(group, sort_keys=True) if isinstance(group, dict) else group
        condition = resource.get("Condition", "")
        if group is not None:
            groups.setdefault((condition, group), []).append(name)
    for (_, group), names in groups.items():
        if len(names) > 1:
            problems.append(f"consumer group {group} is used by {', '.join(names)}; each Kafka mapping needs its own")
    return problems


def run(template_path: pathlib.Path, write: bool = True) -> int:
    import rules

    out = ROOT / ".data" / "aws"
    out.mkdir(parents=True, exist_ok=True)
    raw = yaml_parse(template_path.read_text())
    template = packaged(raw)
    failed = False
    for (source, auth), parameters in COMBINATIONS.items():
        setup = f"{source}/{auth}"
        refused = rules.refusals(raw, parameters)
        if (source, auth) not in SUPPORTED:
            if refused:
                print(f"{setup}: refused by the template: {refused[0]}")
            else:
                failed = True
                print(f"{setup}: unsupported, but no Rule of the template refuses it (it would deploy and not work)")
            continue
        if refused:
            failed = True
            print(f"{setup}: supported, but the template refuses it: {'; '.join(refused)}")
        try:
            transformed = transform(copy.deepcopy(template), dict(parameters), BundledPolicies())
        except InvalidDocumentException as err:
            failed = True
            for cause in err.causes:
                print(f"{setup}: transform: {cause.message}")
            continue
        problems = lambda_api_problems(transformed) + rules.check(transformed, parameters, setup)
        for problem in dict.fromkeys(problems):
            print(f"{setup}: {problem}")
        failed |= bool(problems)
        name = "msk" if source == "msk" else "self-managed"
        if write:
            (out / f"transformed-{name}.json").write_text(json.dumps(transformed, indent=1))
        mappings = sum(r["Type"] == "AWS::Lambda::EventSourceMapping" for r in transformed["Resources"].values())
        print(f"{setup}: {len(transformed['Resources'])} resources, {mappings} event source mappings, "
              f"{rules.reserved_total(transformed, parameters)} reserved concurrent executions")
    return 1 if failed else 0


def main():
    sys.exit(run(ROOT / "template.yaml"))


if __name__ == "__main__":
    main()
