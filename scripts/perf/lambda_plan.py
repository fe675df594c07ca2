#!/usr/bin/env python3
"""What scripts/lambda-check.sh runs, read from template.yaml rather than restated.

For one stage (and optional parameter overrides, as `sam local invoke
--parameter-overrides` takes them), prints JSON:
  {"functions": [{"name", "binary", "env": {...}, "events": [paths], "actions": [...],
                  "routes": ["GET /auth/v1/health", ...]}],
   "tables": [...], "secrets": {"private", "public", "cursor"}, "unassigned": [...]}

Each function's environment is its Globals + own `Environment.Variables`, with the
intrinsics the template uses resolved the way CloudFormation would for that stage and
the parameter defaults (!Ref of a parameter / a table / a secret, !Sub ${Stage} and
parameters, !Select over a !Ref'd list). Each events/<svc>/*.json goes to the function
whose HttpApi events declare its routeKey (method + path), as API Gateway would route it.
`actions` are the IAM actions the function's inline policy allows (resources aside:
scripts/perf/iam_setup.py grants them to the function's own emulator user).

Needs PyYAML (in the emulator's .venv/, brought by moto).
"""

import json
import re
import sys
from pathlib import Path

import yaml


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def cfn_loader():
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return Tag(suffix, value)

    Loader.add_multi_constructor("!", construct)
    return Loader


class Resolver:
    def __init__(self, template, stage, overrides):
        self.resources = template.get("Resources", {})
        self.params = {
            name: str(p.get("Default", "")) for name, p in template.get("Parameters", {}).items()
        }
        self.params["Stage"] = stage
        for name, value in overrides.items():
            if name not in self.params:
                raise SystemExit("lambda_plan: template.yaml has no parameter %s" % name)
            self.params[name] = value
        self.params["AWS::Region"] = "us-east-1"
        self.params["AWS::AccountId"] = "123456789012"

    def sub(self, text):
        def one(m):
            key = m.group(1)
            if key not in self.params:
                raise KeyError("!Sub ${%s}" % key)
            return self.params[key]

        return re.sub(r"\$\{([^}!]+)\}", one, text)

    def resolve(self, value):
        if not isinstance(value, Tag):
            return str(value)
        if value.tag == "Ref":
            name = value.value
            if name in self.params:
                return self.params[name]
            props = self.resources.get(name, {}).get("Properties", {})
            # !Ref of a table is its name; of a Secrets Manager secret, its ARN, which the
            # SDK accepts wherever a secret id goes: the name serves the emulator as well.
            for key in ("TableName", "Name"):
                if key in props:
                    return self.resolve(props[key])
            raise KeyError("!Ref %s" % name)
        if value.tag == "Sub" and isinstance(value.value, str):
            return self.sub(value.value)
        if value.tag == "Select":
            index, source = value.value
            items = self.resolve(source).split(",")
            return items[int(index)]
        raise KeyError("!%s" % value.tag)


def queries_indexes(policies):
    """Whether an Allow statement grants dynamodb:Query on a table's indexes
    (a resource ending in /index/*): a Query of an index needs it, not the table's ARN."""
    for doc in policies:
        for st in statements(doc.get("Statement", [])) if isinstance(doc, dict) else []:
            a = st.get("Action", [])
            acts = [a] if isinstance(a, str) else a
            if st.get("Effect") == "Allow" and "dynamodb:Query" in acts and "/index/" in text_of(st.get("Resource")):
                return True
    return False


def text_of(value):
    """Every string in a template value, tags (!Sub, !GetAtt…) unwrapped, joined."""
    if isinstance(value, Tag):
        return text_of(value.value)
    if isinstance(value, (list, tuple)):
        return " ".join(text_of(v) for v in value)
    if isinstance(value, dict):
        return " ".join(text_of(v) for v in value.values())
    return str(value)


def allowed_actions(policies):
    """The actions of every Allow statement of a function's inline policy documents."""
    actions = set()
    for doc in policies:
        if not isinstance(doc, dict) or "Statement" not in doc:
            raise SystemExit("lambda_plan: only inline policy documents are read: %r" % doc)
        for st in statements(doc["Statement"]):
            if st.get("Effect") == "Allow":
                a = st.get("Action", [])
                actions.update([a] if isinstance(a, str) else a)
    return sorted(actions)


def statements(items):
    """Policy statements, a conditional one (`!If [cond, statement, AWS::NoValue]`) as
    the statement it may be: a function must work with everything it may be granted."""
    for st in items:
        if isinstance(st, Tag) and st.tag == "If":
            yield from statements([b for b in st.value[1:] if isinstance(b, dict)])
        elif isinstance(st, dict):
            yield st


def plan(root, stage, overrides):
    template = yaml.load((root / "template.yaml").read_text(), Loader=cfn_loader())
    r = Resolver(template, stage, overrides)
    global_env = template.get("Globals", {}).get("Function", {}).get("Environment", {})
    global_vars = global_env.get("Variables", {})

    functions, routes = [], {}
    for name, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        props = res.get("Properties", {})
        env = {}
        for key, value in {**global_vars, **props.get("Environment", {}).get("Variables", {})}.items():
            env[key] = r.resolve(value)
        fn = {
            "name": name,
            "binary": binary,
            "env": env,
            "events": [],
            "actions": allowed_actions(props.get("Policies", [])),
            "queries_indexes": queries_indexes(props.get("Policies", [])),
            "routes": [],
        }
        functions.append(fn)
        for ev in props.get("Events", {}).values():
            if ev.get("Type") == "HttpApi":
                p = ev["Properties"]
                route = "%s %s" % (p["Method"].upper(), p["Path"])
                routes[route] = fn
                fn["routes"].append(route)

    unassigned = []
    for event in sorted((root / "events").glob("*/*.json")):
        if event.name.endswith(".expect.json"):
            continue
        route_key = json.loads(event.read_text()).get("routeKey", "")
        fn = routes.get(route_key)
        if fn is None:
            unassigned.append(str(event.relative_to(root)))
        else:
            fn["events"].append(str(event.relative_to(root)))

    tables = sorted(
        r.resolve(res["Properties"]["TableName"])
        for res in template["Resources"].values()
        if res.get("Type") == "AWS::DynamoDB::Table"
    )
    secrets = {}
    for res_name, res in template["Resources"].items():
        if res.get("Type") == "AWS::SecretsManager::Secret":
            secrets[res_name] = r.resolve(res["Properties"]["Name"])
    return {
        "stage": stage,
        "functions": functions,
        "tables": tables,
        "secrets": secrets,
        "unassigned": unassigned,
    }


def main():
    """lambda_plan.py ROOT STAGE [PARAM=VALUE...]"""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    stage = sys.argv[2] if len(sys.argv) > 2 else "dev"
    overrides = dict(kv.split("=", 1) for kv in sys.argv[3:])
    json.dump(plan(root, stage, overrides), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
