"""template.yaml as `sam local start-api` runs it on this machine.

Same functions, routes and handlers; what changes is only what a container
on this machine cannot have: the code is each function's binary built here
(CodeUri per function, `bootstrap` inside; no cargo-lambda build), the
settings point at the local stores through the Docker bridge instead of
Secrets Manager ARNs, and what exists only in an AWS account (VPC, the CA
layer, aliases and gradual deploys, log groups, the Migrations custom
resource) is left out. Written as JSON next to the binaries.

Usage: sam_local_template.py TEMPLATE OUT_DIR ENV_JSON
"""

import json
import pathlib
import sys

from samtranslator.yaml_helper import yaml_parse

DROPPED_GLOBALS = ("VpcConfig", "Layers", "AutoPublishAlias", "DeploymentPreference", "LoggingConfig", "Environment")
DROPPED_FUNCTION = ("LoggingConfig", "Environment", "DeploymentPreference", "Layers", "VpcConfig")


def main():
    template_path, out_dir, env_json = sys.argv[1:4]
    template = yaml_parse(pathlib.Path(template_path).read_text())
    env = json.loads(env_json)
    out = pathlib.Path(out_dir)
    function_globals = template["Globals"]["Function"]
    for key in DROPPED_GLOBALS:
        function_globals.pop(key, None)
    function_globals["Environment"] = {"Variables": env}
    resources = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            # Only functions matter to sam local; the HTTP API stays for its routes.
            if resource["Type"] == "AWS::Serverless::HttpApi":
                resource["Properties"].pop("AccessLogSettings", None)
                resources[name] = resource
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        resource.pop("Metadata")
        resource.pop("DependsOn", None)
        props = resource["Properties"]
        for key in DROPPED_FUNCTION:
            props.pop(key, None)
        props["CodeUri"] = str(out / "functions" / binary)
        props.pop("Policies", None)
        events = props.get("Events", {})
        props["Events"] = {k: e for k, e in events.items() if e["Type"] == "HttpApi"}
        resources[name] = resource
    template["Resources"] = resources
    # Parameters of an AWS deploy (subnets, secret ARNs) mean nothing here.
    for name, parameter in template["Parameters"].items():
        parameter.setdefault("Default", env.get("ALLOWED_ORIGINS", "") if name == "AllowedOrigins" else "")
        if parameter.get("Type", "").startswith("List<AWS::"):
            parameter["Type"] = "CommaDelimitedList"
    template.pop("Outputs", None)
    template.pop("Conditions", None)
    for resource in resources.values():
        resource.pop("Condition", None)
    # Conditions are gone, so keep one variant of each consumer (they are
    # invoked with `sam local invoke`, never through the API).
    for name in [n for n in resources if n.endswith("SelfManagedFunction")]:
        del resources[name]
    (out / "template.json").write_text(json.dumps(template, indent=1))


if __name__ == "__main__":
    main()
