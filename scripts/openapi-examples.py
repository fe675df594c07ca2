#!/usr/bin/env python3
"""Every example in the OpenAPI documents (target/openapi/*.json, written by the tests
crate) must be valid against the schema beside it: a reader copies examples, and a
schemathesis run sends them. OpenAPI 3.1 schemas are JSON Schema 2020-12; a `$ref` to
`#/components/...` resolves against the document. Needs jsonschema (in .venv/, with
openapi-spec-validator).

    scripts/openapi-examples.py [document.json ...]
"""

import glob
import json
import sys

from jsonschema import Draft202012Validator


def examples(media):
    """(name, value) of a media type object's `example` and `examples`."""
    if "example" in media:
        yield "example", media["example"]
    for name, ex in (media.get("examples") or {}).items():
        if "value" in ex:
            yield f"examples.{name}", ex["value"]


def media_types(op):
    """(where, media type object) of an operation's request body and responses."""
    for ctype, media in ((op.get("requestBody") or {}).get("content") or {}).items():
        yield f"requestBody {ctype}", media
    for status, resp in (op.get("responses") or {}).items():
        for ctype, media in (resp.get("content") or {}).items():
            yield f"{status} {ctype}", media


def schema_examples(node, where):
    """(where, schema, example) of every schema in `node` that carries its own example:
    media type and parameter objects hold theirs beside a `schema` and are not schemas."""
    if isinstance(node, dict):
        if "schema" not in node:
            own = [node["example"]] if "example" in node else []
            if isinstance(node.get("examples"), list):
                own += node["examples"]
            if own:
                bare = {k: v for k, v in node.items() if k not in ("example", "examples")}
                for value in own:
                    yield where, bare, value
        for key, child in node.items():
            yield from schema_examples(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from schema_examples(child, f"{where}/{i}")


def check(path):
    doc = json.load(open(path))
    components = doc.get("components", {})
    failures, count = [], 0
    own = [
        *schema_examples(components.get("schemas", {}), "#/components/schemas"),
        *schema_examples(doc.get("paths", {}), "#/paths"),
    ]
    for where, schema, value in own:
        count += 1
        for err in Draft202012Validator({**schema, "components": components}).iter_errors(value):
            failures.append(f"{where}: example {json.dumps(value)[:80]}: {err.message}")
    for route, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for where, media in media_types(op):
                schema = media.get("schema")
                if schema is None:
                    continue
                validator = Draft202012Validator({**schema, "components": components})
                for name, value in examples(media):
                    count += 1
                    for err in validator.iter_errors(value):
                        at = "/".join(str(p) for p in err.absolute_path) or "(root)"
                        failures.append(
                            f"{method.upper()} {route} {where} {name} at {at}: {err.message}"
                        )
    return count, failures


def main(paths):
    paths = paths or sorted(glob.glob("target/openapi/*.json"))
    if not paths:
        print("no documents in target/openapi/ (the tests crate writes them)")
        return 1
    status = 0
    for path in paths:
        count, failures = check(path)
        print(f"{path}: {count} examples, {len(failures)} invalid")
        for f in failures:
            print(f"  {f}")
        status |= bool(failures)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
