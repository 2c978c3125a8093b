"""Deploy rehearsal: template.yaml deployed into an offline AWS (moto).

For each Kafka setup (MSK with IAM auth, self-managed Kafka with SCRAM):

1. the SAM transform, as CloudFormation runs it (transform.py), with
   parameters naming real resources made first in moto: VPC, subnets,
   security group, route tables, the three secrets (and the SCRAM one), an
   MSK cluster, the S3 bucket holding the code;
2. CreateStack with the transformed template, every resource created by
   moto's own backends (moto_shims.py fills six resource types moto's
   CloudFormation lacks, through those same backends); the Migrations
   custom resource is answered as the migrator would answer it; the stack
   must reach CREATE_COMPLETE and give its outputs;
3. checks on what was deployed, one per promise of the template: every
   function published behind its `live` alias with reserved concurrency, its
   own log group with a retention, no secret in its environment, waiting for
   the Migrations; gradual deploys with alarm rollback; one topic per event
   source mapping; the VPC endpoints;
4. IAM parity: every AWS call each function's code makes
   (`local-gateway aws-calls`, from each function's AWS_ACCESS) and every
   call the Lambda service makes with the role (event source mappings, logs,
   tracing, network interfaces) is allowed by the deployed role, and every
   statement of the stack's own policies is needed by one of them;
5. the web app: a private bucket only the stack's CloudFront distribution
   may read, and a distribution that sends every API route to the HTTP API
   (the first matching behaviour, as CloudFront picks) and everything else
   (/, index.html, /assets/*) to the bucket, with the seat map cached no
   longer than its Cache-Control's second;
6. an update deploy (new code, a changed parameter) must reach
   UPDATE_COMPLETE, and the checks hold again.

What moto cannot show, and only a real account can: MSK, RDS Proxy,
DocumentDB and ElastiCache themselves (they come in as parameters), function
code running in the VPC, CodeDeploy actually shifting traffic, quotas.

Usage: rehearsal.py [--calls-bin PATH-TO-local-gateway] [--only msk|self-managed]
Exits non-zero naming every failed check.
"""

import argparse
import ast
import copy
import logging
import fnmatch
import io
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import zipfile

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
# The AWS managed policies SAM attaches (logs, X-Ray, VPC access, MSK) exist in IAM.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

import boto3  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from rehearsal_support import moto_shims  # noqa: E402  (installs the shims; a package, as moto names models by module)
from moto.server import ThreadedMotoServer  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402
from transform import BundledPolicies, packaged  # noqa: E402

from samtranslator.translator.transform import transform  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
REGION = os.environ["AWS_DEFAULT_REGION"]
BUCKET = "rehearsal-artifacts"
MSK_CLUSTER_NAME = "ticketing"
SECRET_SETTINGS = {"DATABASE_URL", "MONGO_URL", "REDIS_URL", "JWT_SECRET", "ORIGIN_VERIFY_SECRET", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_USERNAME"}
# What the Lambda service itself does with every function's role.
SERVICE_CALLS_EVERY_FUNCTION = [
    ("logs:CreateLogStream", "${log-group}"),
    ("logs:PutLogEvents", "${log-group}"),
    ("xray:PutTraceSegments", "*"),
    ("xray:PutTelemetryRecords", "*"),
    ("ec2:CreateNetworkInterface", "*"),
    ("ec2:DescribeNetworkInterfaces", "*"),
    ("ec2:DeleteNetworkInterface", "*"),
    ("ec2:AssignPrivateIpAddresses", "*"),
    ("ec2:UnassignPrivateIpAddresses", "*"),
]
# SDK operations whose IAM actions depend on their arguments, as the service
# authorises them: SES v2 SendEmail is ses:SendRawEmail with Raw content
# and ses:SendEmail otherwise, checked on the sender identity and, when the
# call names one, on the configuration set (SES developer guide, "Controlling
# access to Amazon SES", and the SES v2 API reference's SendEmail).
def ses_send_email(args: dict[str, str], region: str, account: str) -> list[tuple[str, str]]:
    action = "ses:SendRawEmail" if args.get("Content") == "Raw" else "ses:SendEmail"
    needs = [(action, args["FromEmailAddressIdentityArn"])]
    if args.get("ConfigurationSetName"):
        needs.append((action, f"arn:aws:ses:{region}:{account}:configuration-set/{args['ConfigurationSetName']}"))
    return needs


SDK_OPERATIONS = {"sesv2:SendEmail": ses_send_email}
# What AWS's own policies SAM attaches grant beyond those needs (logs:CreateLogGroup
# and the like) is theirs to define; only the stack's own policies must be exact.
AWS_MANAGED = "arn:aws:iam::aws:policy/"


class Failures:
    def __init__(self):
        self.items: list[str] = []

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.items.append(what)
        return ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def function_zip(marker: str) -> bytes:
    """A stand-in for the cargo-lambda build: no code runs in the rehearsal."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", f"#!/bin/sh\n# rehearsal artifact {marker}\nexit 1\n")
    return buffer.getvalue()


class Rehearsal:
    def __init__(self, endpoint: str, calls_bin: str, template: str):
        self.endpoint = endpoint
        self.template = template
        self.calls_bin = calls_bin
        self.client = lambda service: boto3.client(service, endpoint_url=endpoint, region_name=REGION)
        self.account = self.client("sts").get_caller_identity()["Account"]

    # ------------------------------------------------------------ the infra
    def infrastructure(self) -> dict[str, str]:
        """What the infrastructure stack would hand over, made in moto."""
        ec2, sm, kafka, s3 = (self.client(s) for s in ("ec2", "secretsmanager", "kafka", "s3"))
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
        group = ec2.create_security_group(GroupName="functions", Description="functions", VpcId=vpc)["GroupId"]
        tables = [ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"] for _ in subnets]
        secret = lambda name, value: sm.create_secret(Name=name, SecretString=value)["ARN"]  # noqa: E731
        infra = {
            "VpcId": vpc,
            "SubnetIds": ",".join(subnets),
            "SecurityGroupIds": group,
            "RouteTableIds": ",".join(tables),
            "DatabaseUrlSecretArn": secret("ticketing/database-url", "postgres://app@proxy.example:5432/ticketing?sslmode=verify-full"),
            "MongoUrlSecretArn": secret("ticketing/mongo-url", "mongodb://app@docdb.example:27017/?tls=true"),
            "JwtSecretArn": secret("ticketing/jwt", "x" * 48),
            "TicketSecretArn": secret("ticketing/tickets", "t" * 48),
            "ScramSecretArn": secret("AmazonMSK_ticketing", json.dumps({"username": "app", "password": "p" * 20})),
            "RedisUrlSecretArn": secret("ticketing/redis-url", "rediss://:auth-token@clustercfg.ticketing.example:6379"),
        }
        cluster = kafka.create_cluster_v2(
            ClusterName=MSK_CLUSTER_NAME,
            Provisioned={
                "BrokerNodeGroupInfo": {"InstanceType": "kafka.m5.large", "ClientSubnets": subnets, "SecurityGroups": [group]},
                "KafkaVersion": "3.6.0",
                "NumberOfBrokerNodes": 2,
            },
        )
        infra["MskClusterArn"] = cluster["ClusterArn"]
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="layer.zip", Body=function_zip("layer"))
        return infra

    def parameters(self, setup: str, infra: dict[str, str]) -> dict[str, str]:
        common = {k: infra[k] for k in ("VpcId", "SubnetIds", "SecurityGroupIds", "RouteTableIds", "DatabaseUrlSecretArn", "MongoUrlSecretArn", "JwtSecretArn", "TicketSecretArn", "RedisUrlSecretArn")}
        common["AllowedOrigins"] = "https://tickets.example.com"
        common["MailFrom"] = "Box Office <tickets@tickets.example.com>"
        common["MailSenderIdentity"] = "tickets.example.com"
        common["Stage"] = "rehearsal"
        if setup == "msk":
            return {**common, "MskClusterArn": infra["MskClusterArn"], "MskClusterName": MSK_CLUSTER_NAME, "KafkaAuth": "iam"}
        return {
            **common,
            "KafkaBootstrapServers": "b-1.kafka.internal:9096,b-2.kafka.internal:9096",
            "KafkaScramSecretArn": infra["ScramSecretArn"],
            "KafkaAuth": "scram",
        }

    # ------------------------------------------------------------ deploying
    def deploy(self, stack: str, setup: str, parameters: dict[str, str], code_key: str, update: bool, failures: Failures):
        s3, cfn = self.client("s3"), self.client("cloudformation")
        s3.put_object(Bucket=BUCKET, Key=code_key, Body=function_zip(code_key))
        template = packaged(yaml_parse(pathlib.Path(self.template).read_text()))
        parameters = {k: v for k, v in parameters.items() if k in template.get("Parameters", {})}
        self.last_parameters = parameters
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = f"s3://{BUCKET}/{code_key}"
        transformed = transform(copy.deepcopy(template), dict(parameters), BundledPolicies())
        sent = without_false_conditions(transformed, parameters) if update else transformed
        # Templates over 51,200 bytes must come from S3, as with a real account.
        s3.put_object(Bucket=BUCKET, Key=f"{stack}.json", Body=json.dumps(sent).encode())
        url = f"https://{BUCKET}.s3.amazonaws.com/{stack}.json"
        args = dict(
            StackName=stack,
            TemplateURL=url,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        started = len(moto_shims.CUSTOM_RESOURCE_REQUESTS)
        (cfn.update_stack if update else cfn.create_stack)(**args)
        self.answer_custom_resources(started)
        want = "UPDATE_COMPLETE" if update else "CREATE_COMPLETE"
        status = self.wait(stack, want)
        failures.check(status == want, f"{setup}: stack {stack} ended {status}, not {want}")
        return transformed

    def answer_custom_resources(self, since: int):
        """The migrator's answer: CloudFormation waits for a PUT of the result
        to the request's ResponseURL (a pre-signed S3 URL on AWS)."""
        deadline = time.time() + 30
        while time.time() < deadline and len(moto_shims.CUSTOM_RESOURCE_REQUESTS) <= since:
            time.sleep(0.1)
        for request in moto_shims.CUSTOM_RESOURCE_REQUESTS[since:]:
            print(f"    custom resource {request['LogicalResourceId']}: {request['RequestType']} sent to "
                  f"{request['FunctionArn'].split(':function:')[1]}; answered SUCCESS for it (no code runs here)")
            url = request["ResponseURL"].replace("http://host.docker.internal", "http://127.0.0.1")
            body = json.dumps({
                "Status": "SUCCESS", "Reason": "rehearsal", "PhysicalResourceId": "ticketing-migrations",
                "StackId": request["StackId"], "RequestId": request["RequestId"],
                "LogicalResourceId": request["LogicalResourceId"], "Data": {"migrations": 0},
            }).encode()
            # moto routes by host name; on AWS the URL is a pre-signed S3 one.
            headers = {"Host": f"cloudformation.{REGION}.amazonaws.com", "Content-Type": "application/json"}
            urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT", headers=headers), timeout=10).read()

    def wait(self, stack: str, want: str) -> str:
        cfn = self.client("cloudformation")
        deadline = time.time() + 60
        while True:
            status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            if status == want or status.endswith("FAILED") or time.time() > deadline:
                return status
            time.sleep(0.2)

    # ------------------------------------------------------------- checking
    def deployed_functions(self, stack: str, transformed: dict) -> dict[str, dict]:
        """binary name -> the deployed function's configuration. Found by name
        (CloudFormation names a function <stack>-<logical id>-<suffix>): moto
        does not list every resource type in DescribeStackResources."""
        lam = self.client("lambda")
        functions = {}
        for page in lam.get_paginator("list_functions").paginate():
            for summary in page["Functions"]:
                name = summary["FunctionName"]
                if not name.startswith(f"{stack}-"):
                    continue
                logical = name[len(stack) + 1:].rsplit("-", 1)[0]
                template_entry = transformed["Resources"][logical]
                binary = template_entry["Metadata"]["BuildProperties"]["Binary"]
                functions[binary] = {"logical": logical, "template": template_entry, **lam.get_function(FunctionName=name)}
        return functions

    def check_stack(self, setup: str, stack: str, transformed: dict, failures: Failures):
        lam, logs, cfn = self.client("lambda"), self.client("logs"), self.client("cloudformation")
        functions = self.deployed_functions(stack, transformed)
        # The conditions that hold for this setup's parameters (a sender is
        # set, so the notifier is deployed with the setup's Kafka variant).
        holding = {"UseMsk", "NotifyFromMsk"} if setup == "msk" else {"UseSelfManagedKafka", "NotifyFromSelfManagedKafka"}
        deployed = [r for r in transformed["Resources"].values()
                    if r["Type"] == "AWS::Lambda::Function" and r.get("Condition", next(iter(holding))) in holding]
        expected = {r["Metadata"]["BuildProperties"]["Binary"] for r in deployed}
        failures.check(set(functions) == expected, f"{setup}: deployed functions {sorted(functions)} != template's {sorted(expected)}")
        # Both stacks' groups together pass one page of DescribeLogGroups.
        groups = {g["logGroupName"]: g for page in logs.get_paginator("describe_log_groups").paginate() for g in page["logGroups"]}
        for binary, fn in functions.items():
            name = fn["Configuration"]["FunctionName"]
            env = fn["Configuration"].get("Environment", {}).get("Variables", {})
            leaked = sorted(SECRET_SETTINGS & set(env) | {k for k, v in env.items() if "{{resolve:" in str(v)})
            failures.check(not leaked, f"{setup}: {binary} has secrets in its environment: {leaked}")
            concurrency = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
            failures.check(bool(concurrency), f"{setup}: {binary} has no reserved concurrency")
            aliases = [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]]
            failures.check("live" in aliases, f"{setup}: {binary} has no live alias")
            group = fn["Configuration"].get("LoggingConfig", {}).get("LogGroup")
            failures.check(bool(group) and groups.get(group, {}).get("retentionInDays") is not None,
                           f"{setup}: {binary} logs to {group!r}, which is not a log group of the stack with a retention")
            depends = fn["template"].get("DependsOn", [])
            depends = [depends] if isinstance(depends, str) else depends
            if binary != "migrator":
                failures.check("Migrations" in depends, f"{setup}: {binary} does not wait for the Migrations")
        codedeploy = self.client("codedeploy")
        group_count = 0
        for app in codedeploy.list_applications()["applications"]:
            for group_name in codedeploy.list_deployment_groups(applicationName=app)["deploymentGroups"]:
                if not group_name.startswith(f"{stack}-"):
                    continue
                group_count += 1
                group = codedeploy.get_deployment_group(applicationName=app, deploymentGroupName=group_name)["deploymentGroupInfo"]
                failures.check("AllAtOnce" not in group.get("deploymentConfigName", ""), f"{setup}: deployment group {group_name} shifts all at once")
                # moto's GetDeploymentGroup leaves alarmConfiguration empty (a
                # TODO in moto), so it is read from its backend, in this process.
                from moto.codedeploy.models import codedeploy_backends

                stored = codedeploy_backends[self.account][REGION].deployment_groups[app][group_name]
                alarms = stored.alarm_configuration or {}
                rollback = group.get("autoRollbackConfiguration") or {}
                failures.check(bool(alarms.get("enabled") and alarms.get("alarms")), f"{setup}: deployment group {group_name} has no rollback alarms")
                failures.check("DEPLOYMENT_STOP_ON_ALARM" in rollback.get("events", []), f"{setup}: deployment group {group_name} does not roll back on alarm")
        for binary, fn in functions.items():
            alias = transformed["Resources"].get(f"{fn['logical']}Aliaslive", {})
            gradual = "CodeDeployLambdaAliasUpdate" in alias.get("UpdatePolicy", {})
            failures.check(gradual or binary == "migrator", f"{setup}: {binary} is not deployed gradually")
        # SAM gives a conditional function's deployment group no Condition
        # (its fix is behind a feature toggle), so both Kafka variants have one.
        failures.check(group_count >= len(functions) - 1, f"{setup}: {group_count} deployment groups for {len(functions)} functions (all but the migrator)")
        mappings = lam.list_event_source_mappings()["EventSourceMappings"]
        ours = [m for m in mappings if any(m["FunctionArn"].startswith(fn["Configuration"]["FunctionArn"]) for fn in functions.values())]
        sources = sum(1 for r in deployed for e in r.get("Properties", {}).get("Events", {}).values()
                      if e.get("Type") in ("MSK", "SelfManagedKafka"))
        if sources == 0:  # the transformed template has mappings, not events
            sources = sum(1 for r in transformed["Resources"].values()
                          if r["Type"] == "AWS::Lambda::EventSourceMapping" and r.get("Condition", next(iter(holding))) in holding)
        failures.check(len(ours) == sources, f"{setup}: {len(ours)} Kafka event source mappings, expected {sources} (one per consumed topic)")
        for mapping in ours:
            failures.check(len(mapping.get("Topics", [])) == 1, f"{setup}: mapping {mapping['UUID']} has topics {mapping.get('Topics')}")
        endpoints = {e["ServiceName"].rsplit(".", 1)[1] for e in self.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]}
        failures.check({"secretsmanager", "kafka", "lambda", "sts", "s3", "email"} <= endpoints,
                       f"{setup}: VPC endpoints {sorted(endpoints)} miss some of secretsmanager, kafka, lambda, sts, s3, email")
        # A custom resource waits for whatever its function needs to answer
        # (the endpoints, from inside the VPC): rules.py on what was deployed.
        import rules

        ev = rules.Evaluator(transformed, self.last_parameters)
        for problem in rules.rule_custom_resources(transformed, ev, rules.deployed(transformed, ev), self.last_parameters, setup):
            failures.check(False, f"{setup}: {problem}")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
        failures.check("ApiUrl" in outputs and "execute-api" in outputs["ApiUrl"], f"{setup}: no ApiUrl output ({outputs})")
        return functions, ours, outputs

    # ------------------------------------------------------------- web app
    def check_web(self, setup: str, stack: str, outputs: dict[str, str], failures: Failures) -> int:
        """The app's bucket is private and readable by this stack's
        distribution only; the distribution sends every API route to the
        API (the first matching behaviour, as CloudFront picks) and
        everything else to the bucket. Returns how many paths were routed."""
        cfn, cloudfront, s3 = self.client("cloudformation"), self.client("cloudfront"), self.client("s3")
        # moto lists a few entries without ids (the stack itself among them).
        resources = {r["LogicalResourceId"]: r.get("PhysicalResourceId")
                     for r in cfn.describe_stack_resources(StackName=stack)["StackResources"] if "LogicalResourceId" in r}
        bucket, distribution_id = resources.get("WebBucket"), resources.get("WebDistribution")
        if not failures.check(bool(bucket and distribution_id), f"{setup}: no WebBucket or WebDistribution deployed"):
            return 0
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        failures.check(all(block.values()) and len(block) == 4, f"{setup}: web bucket {bucket} is not fully private: {block}")
        distribution = cloudfront.get_distribution(Id=distribution_id)["Distribution"]
        distribution_arn = distribution["ARN"]
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        readers = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
        failures.check(
            len(readers) == 1
            and readers[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
            and as_list(readers[0]["Action"]) == ["s3:GetObject"]
            and readers[0]["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution_arn,
            f"{setup}: web bucket policy is not 'this distribution may read': {policy}")
        config = distribution["DistributionConfig"]
        origins = {o["Id"]: o for o in config["Origins"]["Items"]}
        api_id = outputs.get("ApiUrl", "").removeprefix("https://").split(".")[0]
        failures.check(origins.get("web", {}).get("DomainName", "").startswith(f"{bucket}.s3.")
                       and bool(origins.get("web", {}).get("OriginAccessControlId")),
                       f"{setup}: the web origin is not {bucket} through origin access control: {origins.get('web')}")
        failures.check(origins.get("api", {}).get("DomainName", "").startswith(f"{api_id}.execute-api."),
                       f"{setup}: the api origin is not this stack's HTTP API {api_id}: {origins.get('api')}")
        failures.check(config.get("DefaultRootObject") == "index.html", f"{setup}: / does not serve index.html")
        behaviours = (config.get("CacheBehaviors") or {}).get("Items") or []

        def origin_for(path: str) -> str:
            for behaviour in behaviours:
                if fnmatch.fnmatchcase(path, behaviour["PathPattern"]):
                    return behaviour["TargetOriginId"]
            return config["DefaultCacheBehavior"]["TargetOriginId"]

        routes = self.client("apigatewayv2").get_routes(ApiId=api_id)["Items"]
        paths = sorted({route["RouteKey"].split(" ", 1)[1].replace("{id}", "x1").replace("{token}", "t1")
                        for route in routes if " " in route["RouteKey"]})
        failures.check(len(paths) >= 15, f"{setup}: only {len(paths)} API routes found")
        for path in paths:
            failures.check(origin_for(path) == "api", f"{setup}: CloudFront sends API route {path} to {origin_for(path)!r}")
        for path in ["/", "/index.html", "/assets/app-ABC123.js", "/assets/app-ABC123.css"]:
            failures.check(origin_for(path) == "web", f"{setup}: CloudFront sends {path} to {origin_for(path)!r}, not the app")
        seat_map = next((b for b in behaviours if b["PathPattern"] == "/events/*/seats"), None)
        if failures.check(seat_map is not None, f"{setup}: no behaviour for the seat map"):
            # moto has no cache policies; the shim kept what the template made.
            ttl = int(moto_shims.CACHE_POLICIES.get(seat_map["CachePolicyId"], {}).get("MaxTTL", 31_536_000))
            failures.check(ttl <= 1, f"{setup}: CloudFront may keep a seat map {ttl} s (its Cache-Control says 1)")
        failures.check(outputs.get("WebUrl", "").startswith("https://") and distribution["DomainName"] in outputs.get("WebUrl", ""),
                       f"{setup}: WebUrl output {outputs.get('WebUrl')!r} is not the distribution")
        return len(paths) + 4

    # ----------------------------------------------------------- IAM parity
    def policies_of(self, role_arn: str) -> list[tuple[bool, dict]]:
        """(is the stack's own, statement) for every Allow statement of the role."""
        iam = self.client("iam")
        name = role_arn.rsplit("/", 1)[1]
        statements = []
        for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            document = json.loads(document) if isinstance(document, str) else document
            statements += [(not arn.startswith(AWS_MANAGED), s) for s in as_list(document["Statement"])]
        for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
            if isinstance(document, str):
                # moto keeps an inline policy given by CloudFormation as the
                # Python text of the mapping, not as JSON.
                document = ast.literal_eval(document) if document.startswith("{'") else json.loads(document)
            statements += [(True, s) for s in as_list(document["Statement"])]
        return [(own, s) for own, s in statements if s.get("Effect") == "Allow"]

    def needed_calls(self, binary: str, fn: dict, code_calls: list[dict], mappings: list[dict], msk_arn: str) -> list[tuple[str, str, str]]:
        """(who, action, concrete resource) of every call made with the role."""
        env = fn["Configuration"].get("Environment", {}).get("Variables", {})
        group = fn["Configuration"].get("LoggingConfig", {}).get("LogGroup", "")
        log_arn = f"arn:aws:logs:{REGION}:{self.account}:log-group:{group}:*"
        # A real cluster ARN ends cluster/<name>/<uuid>; moto's ends cluster/<uuid>.
        region, account, rest = msk_arn.split(":", 5)[3:] if msk_arn else (REGION, self.account, "cluster/none/none")
        parts = rest.split("/")
        cluster_name, cluster_uuid = (parts[1], parts[2]) if len(parts) == 3 else (MSK_CLUSTER_NAME, parts[1])
        cluster_arn = env.get("MSK_CLUSTER_ARN") or msk_arn
        topic_prefix = f"arn:aws:kafka:{region}:{account}:topic/{cluster_name}/{cluster_uuid}"
        group_prefix = f"arn:aws:kafka:{region}:{account}:group/{cluster_name}/{cluster_uuid}"

        def fill(resource: str) -> str:
            if resource.startswith("${env:"):
                return env.get(resource[6:-1], f"<{resource[6:-1]} unset>")
            return (resource.replace("${msk:topic}", topic_prefix).replace("${msk:cluster}", cluster_arn)
                    .replace("${log-group}", log_arn))

        needed = []
        for call in code_calls:
            if "arguments" not in call:
                needed.append(("code", call["action"], fill(call["resource"])))
                continue
            derive = SDK_OPERATIONS.get(call["action"])
            if derive is None:
                needed.append(("code", f"<no IAM mapping for {call['action']}; add it to SDK_OPERATIONS>", "*"))
                continue
            arguments = {k: fill(v) for k, v in call["arguments"].items()}
            arguments = {k: v for k, v in arguments.items() if v and not v.startswith("<")}
            who = f"code ({call['action']} with {', '.join(f'{k}={v}' for k, v in sorted(arguments.items()))})"
            needed += [(who, action, resource) for action, resource in derive(arguments, REGION, self.account)]
        needed += [("lambda service", a, fill(r)) for a, r in SERVICE_CALLS_EVERY_FUNCTION]
        for mapping in mappings:
            if not mapping["FunctionArn"].startswith(fn["Configuration"]["FunctionArn"]):
                continue
            topic = mapping["Topics"][0]
            who = f"event source mapping ({topic})"
            destination = (mapping.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
            if destination.startswith("arn:aws:s3:::"):
                # Lambda writes the failed batch, records and all, as an object.
                needed += [(who, "s3:PutObject", f"{destination}/failed-batch"), (who, "s3:ListBucket", destination)]
            elif destination.startswith("kafka://"):
                needed.append((who, "kafka-cluster:WriteData", f"{topic_prefix}/{destination[len('kafka://'):]}"))
            elif destination:
                needed.append((who, "sqs:SendMessage", destination))
            for action in ("ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"):
                needed.append((who, action, "*"))
            config = mapping.get("AmazonManagedKafkaEventSourceConfig")
            if config is not None:
                needed += [(who, "kafka:DescribeClusterV2", mapping["EventSourceArn"]), (who, "kafka:GetBootstrapBrokers", mapping["EventSourceArn"])]
                if env.get("KAFKA_AUTH") == "iam":
                    group_arn = f"{group_prefix}/{config['ConsumerGroupId']}"
                    needed += [
                        (who, "kafka-cluster:Connect", mapping["EventSourceArn"]),
                        (who, "kafka-cluster:DescribeClusterDynamicConfiguration", mapping["EventSourceArn"]),
                        (who, "kafka-cluster:DescribeTopic", f"{topic_prefix}/{topic}"),
                        (who, "kafka-cluster:ReadData", f"{topic_prefix}/{topic}"),
                        (who, "kafka-cluster:DescribeGroup", group_arn),
                        (who, "kafka-cluster:AlterGroup", group_arn),
                    ]
            for access in mapping.get("SourceAccessConfigurations") or []:
                if access["Type"].startswith("SASL_SCRAM"):
                    needed.append((who, "secretsmanager:GetSecretValue", access["URI"]))
        return needed

    def check_iam(self, setup: str, functions: dict, mappings: list[dict], msk_arn: str, failures: Failures) -> int:
        kafka, auth = ("msk", "iam") if setup == "msk" else ("self-managed", "scram")
        listing = subprocess.run([self.calls_bin, "aws-calls", "--kafka", kafka, "--auth", auth],
                                 check=True, capture_output=True, text=True).stdout
        code_calls = json.loads(listing)
        checked = 0
        for binary, fn in functions.items():
            failures.check(binary in code_calls, f"{setup}: {binary} is deployed but declares no AWS_ACCESS")
            needed = self.needed_calls(binary, fn, code_calls.get(binary, []), mappings, msk_arn)
            statements = self.policies_of(fn["Configuration"]["Role"])
            for who, action, resource in needed:
                checked += 1
                allowed = any(action_allowed(s.get("Action"), action) and resource_allowed(s.get("Resource"), resource) for _, s in statements)
                failures.check(allowed, f"{setup}: {binary}'s role does not allow {action} on {resource} (needed by its {who})")
            for own, statement in statements:
                if not own:
                    continue
                for action in as_list(statement.get("Action")):
                    for resource in as_list(statement.get("Resource")):
                        used = any(action_allowed(action, a) and resource_allowed(resource, r) for _, a, r in needed)
                        failures.check(used, f"{setup}: {binary}'s role allows {action} on {resource}, which nothing it runs needs")
        return checked


# Managed-AllViewerExceptHostHeader: every viewer header but Host (which the
# execute-api endpoint refuses) plus CloudFront's viewer headers, among them
# CloudFront-Viewer-Address.
VIEWER_ADDRESS_POLICIES = {"b689b0a8-53d0-40ab-baf2-68738e2966ac"}


def check_viewer_address(setup: str, template: dict, failures: "Failures") -> None:
    """The per-address limits count the fan, not the CloudFront edge: every
    behaviour to the API forwards CloudFront-Viewer-Address, the API origin
    carries the secret header (a dynamic reference to a secret, so rotating
    it needs no template change), and every function that builds the state
    is given that secret's ARN, so it can tell CloudFront's word from a
    caller's (shared/src/http.rs)."""
    resources = template["Resources"]
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    api = next((o for o in config["Origins"] if o["Id"] == "api"), {})
    headers = {h["HeaderName"].lower(): h["HeaderValue"] for h in api.get("OriginCustomHeaders", [])}
    value = headers.get("x-origin-verify")
    reference = value.get("Fn::Sub") if isinstance(value, dict) else value
    secret = next((name for name, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"
                   and isinstance(reference, str) and reference.startswith(f"{{{{resolve:secretsmanager:${{{name}}}")), None)
    failures.check(secret is not None,
                   f"{setup}: the api origin has no X-Origin-Verify header resolved from a secret of the stack: {value!r}")
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        env = resource["Properties"].get("Environment", {}).get("Variables", {})
        if "DATABASE_URL_SECRET_ARN" in env:
            failures.check(secret is not None and env.get("ORIGIN_VERIFY_SECRET_ARN") == {"Ref": secret},
                           f"{setup}: {name} is not given the origin secret's ARN (ORIGIN_VERIFY_SECRET_ARN)")
    policies = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudFront::OriginRequestPolicy"}

    def forwards_viewer_address(policy) -> bool:
        if policy in VIEWER_ADDRESS_POLICIES:
            return True
        custom = policies.get(policy.get("Ref")) if isinstance(policy, dict) else None
        headers = (custom or {}).get("OriginRequestPolicyConfig", {}).get("HeadersConfig", {})
        return headers.get("HeaderBehavior") in ("whitelist", "allViewerAndWhitelistCloudFront") and \
            "cloudfront-viewer-address" in {h.lower() for h in headers.get("Headers", [])}

    for behaviour in config.get("CacheBehaviors", []):
        if behaviour["TargetOriginId"] == "api":
            failures.check(forwards_viewer_address(behaviour.get("OriginRequestPolicyId")),
                           f"{setup}: CloudFront does not forward CloudFront-Viewer-Address on {behaviour['PathPattern']}")


def without_false_conditions(template: dict, parameters: dict[str, str]) -> dict:
    """The template less the resources whose Condition is false. moto's update
    (unlike its create) checks a GetAtt against every resource in the
    template, conditions aside; CloudFormation creates none of these, so an
    update without them is the same update."""
    conditions = template.get("Conditions", {})
    values: dict[str, bool] = {}

    def value(node):
        if isinstance(node, dict):
            (fn, arg), = node.items()
            if fn == "Ref":
                return parameters.get(arg, template["Parameters"].get(arg, {}).get("Default", ""))
            if fn == "Fn::Join":
                return arg[0].join(v for v in value(arg[1]))
            if fn == "Fn::Equals":
                return value(arg[0]) == value(arg[1])
            if fn == "Fn::Not":
                return not value(arg[0])
            if fn == "Fn::And":
                return all(value(a) for a in arg)
            if fn == "Fn::Or":
                return any(value(a) for a in arg)
            if fn == "Condition":
                return holds(arg)
            raise ValueError(f"condition function {fn} not handled")
        if isinstance(node, list):
            return [value(n) for n in node]
        return node

    def holds(name: str) -> bool:
        if name not in values:
            values[name] = bool(value(conditions[name]))
        return values[name]

    pruned = copy.deepcopy(template)
    pruned["Resources"] = {k: r for k, r in template["Resources"].items() if "Condition" not in r or holds(r["Condition"])}
    return pruned


def as_list(value) -> list:
    return value if isinstance(value, list) else [value] if value is not None else []


def action_allowed(patterns, action: str) -> bool:
    """IAM compares action names without regard to case."""
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in as_list(patterns))


def resource_allowed(patterns, resource: str) -> bool:
    # A Ref moto could not resolve (a resource type it lacks) allows nothing.
    return any(p is not None and fnmatch.fnmatchcase(resource, p) for p in as_list(patterns))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls-bin", default=str(ROOT / "target" / "debug" / "local-gateway"))
    parser.add_argument("--only", choices=["msk", "self-managed"])
    parser.add_argument("--template", default=str(ROOT / "template.yaml"), help="another template to rehearse (an older one, say)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.INFO if os.environ.get("REHEARSAL_DEBUG") else logging.ERROR)
    # moto resolves a Ref by creating its target on the spot, inside the
    # referring resource's resolution: the HTTP API's OpenAPI body, which
    # names every function's alias, nests hundreds of frames deep.
    sys.setrecursionlimit(50_000)
    threading.stack_size(512 * 1024 * 1024)
    port = free_port()
    os.environ["MOTO_PORT"] = str(port)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    failures = Failures()
    try:
        rehearsal = Rehearsal(f"http://127.0.0.1:{port}", args.calls_bin, args.template)
        infra = rehearsal.infrastructure()
        for setup in ["msk", "self-managed"]:
            if args.only and setup != args.only:
                continue
            stack = f"ticketing-{setup}"
            parameters = rehearsal.parameters(setup, infra)
            msk_arn = infra["MskClusterArn"] if setup == "msk" else ""
            before = len(failures.items)
            for round_, (code_key, update) in enumerate([("functions-v1.zip", False), ("functions-v2.zip", True)]):
                if update:
                    parameters = {**parameters, "HoldTtlSeconds": "900"}
                transformed = rehearsal.deploy(stack, setup, parameters, code_key, update, failures)
                functions, mappings, outputs = rehearsal.check_stack(setup, stack, transformed, failures)
                checked = rehearsal.check_iam(setup, functions, mappings, msk_arn, failures)
                routed = rehearsal.check_web(setup, stack, outputs, failures)
                check_viewer_address(setup, transformed, failures)
                verb = "updated" if update else "created"
                print(f"  {setup}: stack {verb}: {len(functions)} functions, {len(mappings)} Kafka mappings, "
                      f"{checked} role grants checked, {routed} paths routed by CloudFront; "
                      f"ApiUrl {outputs.get('ApiUrl')}, WebUrl {outputs.get('WebUrl')}")
            if len(failures.items) == before:
                print(f"  {setup}: deploy, update and IAM parity hold")
    finally:
        server.stop()
    for failure in dict.fromkeys(failures.items):
        print(f"  ✗ {failure}")
    sys.exit(1 if failures.items else 0)


if __name__ == "__main__":
    main()
