"""The deploy workflow's effective parameters against the template's.

`sam deploy --parameter-overrides` on the command line replaces samconfig's
`parameter_overrides` (it does not merge), so what a deploy gets is either
the command line's list or samconfig's, never both. This resolves the
workflow's `sam deploy` step to that list and fails on any parameter the
template requires (no Default) that is left without a value, on names the
template does not have, on a combination the template's Rules refuse, and
on a secret the step passes without stopping when it is unset, and on a
deploy that never prunes the Lambda versions it publishes.

Usage: deploy_params.py [--workflow FILE] [--samconfig FILE] [--template FILE]
"""

import argparse
import pathlib
import re
import sys
import tomllib

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import rules  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


def effective(workflow: dict, samconfig: dict) -> tuple[dict[str, str], list[str]]:
    """(parameters the deploy passes, problems) for the workflow's sam deploy."""
    problems = []
    steps = [s for job in workflow["jobs"].values() for s in job.get("steps", [])]
    deploy = next((s for s in steps if "sam deploy" in s.get("run", "")), None)
    if deploy is None:
        return {}, ["no step runs sam deploy"]
    run = deploy["run"]
    env = {k: str(v) for s in steps for k, v in (s.get("env") or {}).items()}
    params = {}
    if "--parameter-overrides" in run:
        tail = run.split("--parameter-overrides", 1)[1]
        params.update({(m.group(1) or m.group(3)): (m.group(2) if m.group(1) else m.group(4)) for m in re.finditer(r'"([A-Za-z0-9]+)=([^"]*)"|\b([A-Za-z0-9]+)=(\S*)', tail)})
        # PARAM_<Name> variables collected by an earlier step of the job.
        params.update({k[len("PARAM_"):]: v for k, v in env.items() if k.startswith("PARAM_")})
    else:
        env_name = re.search(r"--config-env\s+(\S+)", run)
        config = samconfig.get(env_name.group(1) if env_name else "default", {})
        for item in config.get("deploy", {}).get("parameters", {}).get("parameter_overrides", []):
            name, value = item.split("=", 1)
            params[name] = value
    guarded = any("::error::" in s.get("run", "") and "PARAM_" in s.get("run", "") for s in steps)
    secrets = sorted(n for n, v in params.items() if "secrets." in v)
    if secrets and not guarded:
        problems.append(f"the deploy passes {', '.join(secrets)} from secrets without stopping when one is unset "
                        "(an unset secret becomes an empty parameter)")
    # AutoPublishAlias retains every version; something must delete the old
    # ones or the regional code storage fills up (issue 31 item 12).
    after = steps[steps.index(deploy) + 1:]
    if not any("delete-function" in s.get("run", "") and "--qualifier" in s.get("run", "") for s in after):
        problems.append("no step after sam deploy prunes old Lambda versions (delete-function --qualifier)")
    return params, problems


def check(workflow_path, samconfig_path, template_path) -> list[str]:
    workflow = yaml.safe_load(pathlib.Path(workflow_path).read_text())
    samconfig = tomllib.loads(pathlib.Path(samconfig_path).read_text())
    template = yaml_parse(pathlib.Path(template_path).read_text())
    params, problems = effective(workflow, samconfig)
    declared = template["Parameters"]
    for name, spec in declared.items():
        if "Default" not in spec and not params.get(name):
            problems.append(f"required parameter {name} gets no value from the deploy workflow")
    for name in sorted(set(params) - set(declared)):
        problems.append(f"the deploy passes {name}, which the template does not have")
    # A secret's value is unknown offline: stand in a non-empty placeholder.
    concrete = {k: (f"<{k}>" if "secrets." in v else v) for k, v in params.items() if k in declared}
    problems += [f"the template refuses the deploy's parameters: {r}" for r in rules.refusals(template, concrete)]
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflow", default=str(rules.ROOT / ".github" / "workflows" / "deploy.yml"))
    parser.add_argument("--samconfig", default=str(rules.ROOT / "samconfig.toml"))
    parser.add_argument("--template", default=str(rules.ROOT / "template.yaml"))
    args = parser.parse_args()
    problems = check(args.workflow, args.samconfig, args.template)
    for problem in problems:
        print(f"deploy parameters: {problem}")
    if not problems:
        print("deploy parameters: every required parameter has a value, and the template's rules accept them")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
