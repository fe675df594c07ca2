#!/usr/bin/env python3
"""Every route's DynamoDB actions, as the API tests measured them, allowed by the template
policy of the function API Gateway sends the route to.

The requests-per-route tests (functions/<svc>/tests/api/requests.rs) run each route's
happy path over a counting store, which notes the IAM action of each call
(dynamodb:GetItem, BatchGetItem, Query…; for a transaction, the PutItem, UpdateItem,
DeleteItem or ConditionCheckItem of each of its items, which is how IAM authorizes it)
and write them to target/bench/iam-actions-<svc>.json. This holds them against
template.yaml, routes mapped to functions as scripts/perf/lambda_plan.py maps them.
A call the policy does not allow would answer AccessDenied in AWS and nowhere else: the
memory store and the emulator the tests use do not enforce IAM. (scripts/lambda-check.sh
runs the functions against an emulator that does, for the events/ files.)

    scripts/iam-check.py    after the API tests; exit 1 on an action not allowed

Resources are not checked (each function's policy names its own table), except that a
Query of an index (noted `dynamodb:Query@index`) needs a Query grant on a `/index/`
resource. Needs PyYAML (the emulator's .venv/).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "perf"))
from lambda_plan import plan  # noqa: E402

INDEX_QUERY = "dynamodb:Query@index"


def main():
    functions = plan(ROOT, "dev", {})["functions"]
    serving = {route: fn for fn in functions for route in fn["routes"]}
    fragments = sorted((ROOT / "target" / "bench").glob("iam-actions-*.json"))
    if not fragments:
        sys.exit("iam-check: no target/bench/iam-actions-*.json: run the API tests first")
    problems, routes = [], 0
    for fragment in fragments:
        for route, actions in json.loads(fragment.read_text()).items():
            fn = serving.get(route)
            if fn is None:
                problems.append("%s: no function of template.yaml serves it" % route)
                continue
            routes += 1
            # A Query of an index needs dynamodb:Query on `<table>/index/*` too.
            if INDEX_QUERY in actions and not fn["queries_indexes"]:
                problems.append(
                    "%s (%s): queries an index, and its policy allows dynamodb:Query on no "
                    "index resource (<table>/index/*)" % (route, fn["name"])
                )
            lacking = sorted(set(actions) - {INDEX_QUERY} - set(fn["actions"]))
            if lacking:
                problems.append(
                    "%s (%s): %s not allowed by its policy" % (route, fn["name"], ", ".join(lacking))
                )
    for p in problems:
        print("FAIL " + p)
    names = ", ".join(f.name for f in fragments)
    if problems:
        print("iam-check: %d of the routes in %s need what their policy does not allow" % (len(problems), names))
        sys.exit(1)
    print("iam-check: PASS, %d routes (%s) within their functions' policies" % (routes, names))


if __name__ == "__main__":
    main()
