"""What the deploy rehearsal adds to moto, each piece visible and named here.

moto (5.2.5) implements the APIs our stack uses, but its CloudFormation has no
resource model for six of the types the SAM transform emits, and its Lambda
accepts event source mappings from SQS, DynamoDB and Kinesis only. Rather
than drop those resources from the template (which would prove nothing about
them), each gap is filled with a thin model that calls moto's own backend for
that service, with the checks the real API makes that matter to us:

- AWS::Lambda::Alias            -> lambda create_alias / update_alias
- AWS::Lambda::Version          -> moto's own, given the ARN and Version attribute it lacks
- AWS::ApiGatewayV2::Api        -> apigatewayv2 create_api + import of the OpenAPI body
- AWS::ApiGatewayV2::Stage      -> apigatewayv2 create_stage
- AWS::CloudWatch::Alarm        -> cloudwatch put_metric_alarm
- AWS::Logs::MetricFilter       -> logs put_metric_filter
- AWS::CodeDeploy::Application / DeploymentGroup -> codedeploy backend
- Lambda functions and IAM roles: the Layers, LoggingConfig, TracingConfig
  and ManagedPolicyArns moto's models drop are applied after their create
- Kafka event source mappings   -> stored like any mapping, after the Lambda
  API's own validation (one topic, an existing MSK cluster, a consumer group)
- The web app's pieces: AWS::S3::BucketPolicy -> s3 put_bucket_policy (with
  moto's policy checks); a bucket's PublicAccessBlockConfiguration, which
  moto's bucket model drops -> put_public_access_block;
  AWS::CloudFront::OriginAccessControl and ::Distribution -> the cloudfront
  backend (the template's lists turned into the API's Quantity/Items shape;
  each origin keeps its OriginAccessControlId, which moto's Origin drops);
  AWS::CloudFront::CachePolicy, which moto lacks altogether -> kept in
  CACHE_POLICIES for the rehearsal to read
- AWS::SecretsManager::Secret   -> secretsmanager create_secret (the value
  from GenerateSecretString as the service makes it, plain or inside
  SecretStringTemplate's JSON); Ref is the secret's ARN, which the functions'
  ORIGIN_VERIFY_SECRET_ARN and the roles' GetSecretValue grants name. moto
  does not resolve {{resolve:secretsmanager:...}}: the distribution keeps the
  reference as written (the rehearsal checks its shape, not its value)

And two things moto cannot do without Docker, answered by the rehearsal
itself: invoking a function (the Migrations custom resource's request is
recorded in CUSTOM_RESOURCE_REQUESTS and answered by rehearsal.py, as the
migrator would), and nothing else: no function code runs here.

Import this module before the server handles its first request.
"""

import json
import threading
from typing import Any

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda import models as lambda_models
from moto.cloudformation import parsing
from moto.cloudwatch.models import cloudwatch_backends
from moto.codedeploy.models import codedeploy_backends
from moto.core.common_models import CloudFormationModel
from moto.iam import models as iam_models
from moto.utilities.utils import get_partition
from moto.kafka.models import kafka_backends
from moto.logs.models import logs_backends
from moto.moto_api._internal import mock_random
from moto.cloudfront.models import cloudfront_backends
from moto.s3 import models as s3_models
from moto.secretsmanager.models import secretsmanager_backends

CUSTOM_RESOURCE_REQUESTS: list[dict[str, Any]] = []
_requests_lock = threading.Lock()


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return cloudformation_json.get("Properties", {})


class Shim:
    """Common parts: a physical id, any attribute, replacement on update.
    A mixin: moto finds resource models among CloudFormationModel's direct
    subclasses only, so each shim names both bases."""

    physical_id = ""
    attributes: dict[str, Any] = {}

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.attributes.get(attribute_name, self.physical_id)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # type: ignore[override]
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):  # type: ignore[override]
        return None


class LambdaAliasShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::Alias"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        backend = lambda_models.lambda_backends[account_id][region_name]
        function = props["FunctionName"].split(":")[-1] if props["FunctionName"].startswith("arn:") else props["FunctionName"]
        try:
            alias = backend.get_alias(props["Name"], function)
            alias.update(None, str(props["FunctionVersion"]), props.get("RoutingConfig"))
        except Exception:
            alias = backend.create_alias(props["Name"], function, str(props["FunctionVersion"]), props.get("Description", ""), props.get("RoutingConfig"))
        shim = cls()
        shim.physical_id = alias.arn
        shim.attributes = {"AliasArn": alias.arn}
        return shim


class HttpApiShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Api"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        backend = apigatewayv2_backends[account_id][region_name]
        body = props.get("Body") or {}
        api = backend.create_api(
            api_key_selection_expression=None,
            cors_configuration=props.get("CorsConfiguration"),
            description=props.get("Description"),
            disable_schema_validation=None,
            disable_execute_api_endpoint=props.get("DisableExecuteApiEndpoint"),
            name=props.get("Name") or body.get("info", {}).get("title") or resource_name,
            protocol_type=props.get("ProtocolType", "HTTP"),
            route_selection_expression=None,
            tags=props.get("Tags") or {},
            version=None,
        )
        if body:
            # The routes and integrations SAM wrote as OpenAPI, imported as
            # API Gateway would (it fails on a malformed document).
            backend.reimport_api(api.api_id, json.dumps(body), fail_on_warnings=False)
        shim = cls()
        shim.physical_id = api.api_id
        shim.attributes = {"ApiEndpoint": f"https://{api.api_id}.execute-api.{region_name}.amazonaws.com", "ApiId": api.api_id}
        return shim


class HttpStageShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Stage"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        backend = apigatewayv2_backends[account_id][region_name]
        config = {k[0].lower() + k[1:]: v for k, v in props.items() if k != "ApiId"}
        try:
            backend.delete_stage(props["ApiId"], props["StageName"])
        except Exception:
            pass
        backend.create_stage(props["ApiId"], config)
        shim = cls()
        shim.physical_id = props["StageName"]
        return shim


class AlarmShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        name = props.get("AlarmName") or f"{kwargs.get('LogicalId', 'alarm')}-{mock_random.get_random_hex(8)}"
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=props.get("Namespace"),
            metric_name=props.get("MetricName"),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props["Threshold"]),
            statistic=props.get("Statistic"),
            description=props.get("AlarmDescription"),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        shim = cls()
        shim.physical_id = name
        return shim


class MetricFilterShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Logs::MetricFilter"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        name = props.get("FilterName") or resource_name
        transformations = [{"metricName": t["MetricName"], "metricNamespace": t["MetricNamespace"], "metricValue": t["MetricValue"]}
                           for t in props["MetricTransformations"]]
        logs_backends[account_id][region_name].put_metric_filter(name, props.get("FilterPattern", ""), props["LogGroupName"], transformations)
        shim = cls()
        shim.physical_id = name
        return shim


def _lower_keys(value):
    """CloudFormation spells CodeDeploy's settings in PascalCase, its API in camelCase."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


class CodeDeployApplicationShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeDeploy::Application"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        name = props.get("ApplicationName") or resource_name
        backend = codedeploy_backends[account_id][region_name]
        if name not in backend.applications:
            backend.create_application(name, props.get("ComputePlatform", "Lambda"), [])
        shim = cls()
        shim.physical_id = name
        return shim


class CodeDeployGroupShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CodeDeploy::DeploymentGroup"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        backend = codedeploy_backends[account_id][region_name]
        name = props.get("DeploymentGroupName") or resource_name
        existing = backend.deployment_groups.get(props["ApplicationName"], {})
        if name not in existing:
            backend.create_deployment_group(
                application_name=props["ApplicationName"],
                deployment_group_name=name,
                deployment_config_name=props.get("DeploymentConfigName"),
                ec2_tag_filters=None,
                on_premises_instance_tag_filters=None,
                auto_scaling_groups=None,
                service_role_arn=props["ServiceRoleArn"],
                alarm_configuration=_lower_keys(props.get("AlarmConfiguration")),
                auto_rollback_configuration=_lower_keys(props.get("AutoRollbackConfiguration")),
                deployment_style=props.get("DeploymentStyle"),
            )
        shim = cls()
        shim.physical_id = name
        return shim


# ------------------------------------------------------ published versions
# moto's AWS::Lambda::Version keeps only the number: SAM's alias reads it
# with GetAtt Version.Version, and the Migrations resource Refs the version
# (its ARN). Both answered here from the published version.
def _version_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    function = cloudformation_json["Properties"]["FunctionName"]
    published = lambda_models.lambda_backends[account_id][region_name].publish_version(function)
    version = lambda_models.LambdaVersion({"Version": published.version})
    version.arn = published.function_arn
    return version


lambda_models.LambdaVersion.create_from_cloudformation_json = classmethod(_version_create)
lambda_models.LambdaVersion.physical_resource_id = property(lambda self: self.arn)
lambda_models.LambdaVersion.has_cfn_attr = classmethod(lambda cls, attr: attr == "Version")
lambda_models.LambdaVersion.get_cfn_attribute = lambda self, attr: str(self.version)


# moto's layer version has no physical id, so an update deploy hands the
# function's Layers the model instead of its ARN.
lambda_models.LayerVersion.physical_resource_id = property(lambda self: self.arn)


# ----------------------------------- properties moto's models read and drop
# moto's CloudFormation creates a function without its Layers, LoggingConfig
# and TracingConfig, and a role without its ManagedPolicyArns; the checks
# read all four back, so they are applied after moto's own create/update.
def _function_extras(function, properties):
    function.logging_config = properties.get("LoggingConfig")
    if "TracingConfig" in properties:
        function.tracing_config = properties["TracingConfig"]
    if properties.get("Layers"):
        function.layers = function._get_layers_data(properties["Layers"])
    return function


_function_create = lambda_models.LambdaFunction.create_from_cloudformation_json.__func__
_function_update = lambda_models.LambdaFunction.update_from_cloudformation_json.__func__
lambda_models.LambdaFunction.create_from_cloudformation_json = classmethod(
    lambda cls, name, cfn, account, region, **kw: _function_extras(_function_create(cls, name, cfn, account, region, **kw), cfn["Properties"]))
lambda_models.LambdaFunction.update_from_cloudformation_json = classmethod(
    lambda cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name: _function_extras(
        _function_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name),
        cloudformation_json["Properties"]))
_function_configuration = lambda_models.LambdaFunction.get_configuration


def _configuration_with_logging(self, on_create=False):
    config = _function_configuration(self, on_create)
    if getattr(self, "logging_config", None):
        config["LoggingConfig"] = self.logging_config
    return config


lambda_models.LambdaFunction.get_configuration = _configuration_with_logging


def _attach_managed_policies(role, properties, account_id, region_name):
    backend = iam_models.iam_backends[account_id][get_partition(region_name)]
    wanted = {arn for arn in properties.get("ManagedPolicyArns") or [] if arn}  # AWS::NoValue arrives as None
    for arn in set(role.managed_policies) - wanted:
        backend.detach_role_policy(arn, role.name)
    for arn in wanted - set(role.managed_policies):
        backend.attach_role_policy(arn, role.name)
    return role


_role_create = iam_models.Role.create_from_cloudformation_json.__func__
_role_update = iam_models.Role.update_from_cloudformation_json.__func__
iam_models.Role.create_from_cloudformation_json = classmethod(
    lambda cls, name, cfn, account, region, **kw: _attach_managed_policies(_role_create(cls, name, cfn, account, region, **kw), cfn["Properties"], account, region))
iam_models.Role.update_from_cloudformation_json = classmethod(
    lambda cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name: _attach_managed_policies(
        _role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name),
        cloudformation_json["Properties"], account_id, region_name))


# ------------------------------------------------- Kafka event source mappings
class KafkaEventSourceMapping(lambda_models.EventSourceMapping):
    """moto's mapping model with Kafka sources allowed (it knows only SQS,
    DynamoDB and Kinesis); the batch size limit is the Lambda API's for Kafka."""

    @property
    def event_source_arn(self) -> str:
        return self._event_source_arn

    @event_source_arn.setter
    def event_source_arn(self, arn: str) -> None:
        self._event_source_arn = arn

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, size: int | None) -> None:
        size = 100 if size is None else int(size)
        if not 1 <= size <= 10000:
            raise ValueError("InvalidParameterValueException", f"BatchSize {size} is out of 1..10000")
        self._batch_size = size


_original_create_esm = lambda_models.LambdaBackend.create_event_source_mapping


def _create_event_source_mapping(self, spec: dict[str, Any]):
    arn = spec.get("EventSourceArn", "")
    self_managed = spec.get("SelfManagedEventSource")
    if not (arn.startswith("arn:aws:kafka:") or self_managed):
        return _original_create_esm(self, spec)
    from moto.core.exceptions import JsonRESTError as RESTError

    topics = spec.get("Topics") or []
    if len(topics) != 1:
        raise RESTError("InvalidParameterValueException", f"Kafka event sources take exactly one topic, got {len(topics)}")
    if arn:
        clusters = kafka_backends[self.account_id][self.region_name].clusters
        if arn not in clusters:
            raise RESTError("InvalidParameterValueException", f"MSK cluster {arn} does not exist")
        group = (spec.get("AmazonManagedKafkaEventSourceConfig") or {}).get("ConsumerGroupId")
    else:
        servers = self_managed.get("Endpoints", {}).get("KAFKA_BOOTSTRAP_SERVERS") or self_managed.get("Endpoints", {}).get("KafkaBootstrapServers")
        if not servers:
            raise RESTError("InvalidParameterValueException", "SelfManagedEventSource needs KAFKA_BOOTSTRAP_SERVERS")
        group = (spec.get("SelfManagedKafkaEventSourceConfig") or {}).get("ConsumerGroupId")
        arn = "self-managed-kafka:" + ",".join(servers)
    for other in self._event_source_mappings.values():
        other_config = getattr(other, "kafka_config", None) or getattr(other, "self_managed_kafka_event_source_config", None) or {}
        if group and other.event_source_arn == arn and other_config.get("ConsumerGroupId") == group:
            raise RESTError("ResourceConflictException", f"consumer group {group} is already used by another mapping")
    function = self._lambdas.get_function_by_name_or_arn_with_qualifier(spec["FunctionName"])
    spec = {**spec, "EventSourceArn": arn, "FunctionArn": function.function_arn, "RegionName": self.region_name, "AccountId": self.account_id}
    mapping = KafkaEventSourceMapping(spec)
    self._event_source_mappings[mapping.uuid] = mapping
    return mapping


lambda_models.LambdaBackend.create_event_source_mapping = _create_event_source_mapping


# ------------------------------------------------------ invoking a function
def _invoke(self, body, request_headers, response_headers):
    """No function code runs here (that needs Docker). A custom resource's
    request is kept for the rehearsal to answer; anything else is refused."""
    event = json.loads(body) if isinstance(body, (str, bytes)) else body
    if isinstance(event, dict) and "ResponseURL" in event:
        with _requests_lock:
            CUSTOM_RESOURCE_REQUESTS.append({**event, "FunctionArn": self.function_arn})
        return json.dumps({"recorded": True})
    raise RuntimeError("the rehearsal runs no function code")


lambda_models.LambdaFunction.invoke = _invoke

# The model map is cached on first use: make sure it includes the shims.
parsing.get_model_map.cache_clear()
parsing.get_name_type_map.cache_clear()


# ------------------------------------------------------------------ web app
CACHE_POLICIES: dict[str, dict[str, Any]] = {}


def _s3_backend(account_id: str, region_name: str):
    return s3_models.s3_backends[account_id][get_partition(region_name)]


_bucket_create = s3_models.FakeBucket.create_from_cloudformation_json.__func__


def _bucket_create_with_access_block(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    bucket = _bucket_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    block = _props(cloudformation_json).get("PublicAccessBlockConfiguration")
    if block:
        _s3_backend(account_id, region_name).put_public_access_block(bucket.name, block)
    return bucket


s3_models.FakeBucket.create_from_cloudformation_json = classmethod(_bucket_create_with_access_block)


class BucketPolicyShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        _s3_backend(account_id, region_name).put_bucket_policy(props["Bucket"], json.dumps(props["PolicyDocument"]).encode())
        shim = cls()
        shim.physical_id = f"{props['Bucket']}-policy"
        return shim


def _cloudfront(account_id: str, region_name: str):
    return cloudfront_backends[account_id][get_partition(region_name)]


class OriginAccessControlShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::OriginAccessControl"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        config = _props(cloudformation_json)["OriginAccessControlConfig"]
        control = _cloudfront(account_id, region_name).create_origin_access_control(config)
        shim = cls()
        shim.physical_id = control.id
        shim.attributes = {"Id": control.id}
        return shim


class CachePolicyShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::CachePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        config = _props(cloudformation_json)["CachePolicyConfig"]
        policy_id = str(mock_random.uuid4())
        CACHE_POLICIES[policy_id] = config
        shim = cls()
        shim.physical_id = policy_id
        shim.attributes = {"Id": policy_id}
        return shim


def _items(values: list[Any]) -> dict[str, Any]:
    return {"Quantity": len(values), "Items": values}


def _behaviour(config: dict[str, Any]) -> dict[str, Any]:
    shaped = dict(config)
    shaped["AllowedMethods"] = _items(config.get("AllowedMethods", ["GET", "HEAD"]))
    return shaped


class DistributionShim(Shim, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudFront::Distribution"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        template = _props(cloudformation_json)["DistributionConfig"]
        config = dict(template)
        config["CallerReference"] = f"{resource_name}-{mock_random.uuid4()}"
        config["Origins"] = _items([dict(o) for o in template["Origins"]])
        for origin in config["Origins"]["Items"]:
            if "CustomOriginConfig" in origin:
                custom = dict(origin["CustomOriginConfig"])
                custom["OriginSslProtocols"] = _items(custom.pop("OriginSSLProtocols", []))
                origin["CustomOriginConfig"] = custom
        config["DefaultCacheBehavior"] = _behaviour(template["DefaultCacheBehavior"])
        config["CacheBehaviors"] = _items([_behaviour(b) for b in template.get("CacheBehaviors", [])])
        config["IsIPV6Enabled"] = template.get("IPV6Enabled", True)
        distribution, _, _ = _cloudfront(account_id, region_name).create_distribution(config, [])
        for origin, given in zip(distribution.distribution_config.Origins["Items"], template["Origins"]):
            origin.origin_access_control_id = given.get("OriginAccessControlId", "")
        shim = cls()
        shim.physical_id = distribution.distribution_id
        shim.attributes = {"Id": distribution.distribution_id, "DomainName": distribution.domain_name}
        return shim


# ------------------------------------------------------------------ secrets
class SecretShim(Shim, CloudFormationModel):
    """A secret the stack makes itself. Updated in place, as CloudFormation
    updates Description or SecretString without replacing the secret: its
    ARN (the Ref every function and role holds) stays the same."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @staticmethod
    def _value(backend, props: dict[str, Any]) -> str | None:
        if "SecretString" in props:
            return props["SecretString"]
        generate = props.get("GenerateSecretString")
        if generate is None:
            return None
        password = json.loads(backend.get_random_password(
            password_length=int(generate.get("PasswordLength", 32)),
            exclude_characters=generate.get("ExcludeCharacters", ""),
            exclude_numbers=bool(generate.get("ExcludeNumbers", False)),
            exclude_punctuation=bool(generate.get("ExcludePunctuation", False)),
            exclude_uppercase=bool(generate.get("ExcludeUppercase", False)),
            exclude_lowercase=bool(generate.get("ExcludeLowercase", False)),
            include_space=bool(generate.get("IncludeSpace", False)),
            require_each_included_type=bool(generate.get("RequireEachIncludedType", True)),
        ))["RandomPassword"]
        if "SecretStringTemplate" in generate:
            # The service requires both or neither of these two.
            value = json.loads(generate["SecretStringTemplate"])
            value[generate["GenerateStringKey"]] = password
            return json.dumps(value)
        return password

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # type: ignore[override]
        props = _props(cloudformation_json)
        backend = secretsmanager_backends[account_id][region_name]
        created = json.loads(backend.create_secret(
            name=props.get("Name") or resource_name,
            secret_string=cls._value(backend, props),
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=props.get("ReplicaRegions") or [],
            force_overwrite=False,
        ))
        shim = cls()
        shim.physical_id = created["ARN"]
        shim.attributes = {"Id": created["ARN"]}
        return shim

    @classmethod
    def update_from_cloudformation_json(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):  # type: ignore[override]
        props = _props(cloudformation_json)
        backend = secretsmanager_backends[account_id][region_name]
        if props.get("Name") and not original_resource.physical_id.split(":secret:")[1].startswith(props["Name"] + "-"):
            # A new Name is a replacement.
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
        # A changed GenerateSecretString does not regenerate the value either.
        if "SecretString" in props:
            backend.update_secret(original_resource.physical_id, secret_string=props["SecretString"])
        backend.secrets[original_resource.physical_id].description = props.get("Description")
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):  # type: ignore[override]
        # moto hands the delete the physical id (the ARN) as resource_name.
        try:
            secretsmanager_backends[account_id][region_name].delete_secret(resource_name, None, False)
        except Exception:
            pass
