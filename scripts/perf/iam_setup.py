#!/usr/bin/env python3
"""Gives each function of a scripts/perf/lambda_plan.py plan (stdin) an IAM user of its
own in the emulator, allowed exactly the actions its template policy allows, so that a
call the template does not grant fails as it would in AWS (AccessDenied).

    iam_setup.py admin      first, on a moto started with INITIAL_NO_AUTH_ACTION_COUNT=3:
                            its three unauthenticated calls make an administrator, whose
                            keys it prints as `export` lines for the rest of the setup
    iam_setup.py functions  one user per function; prints `<function> <key id> <secret>`

moto matches actions only: it authorizes every request against resource "*", so each
statement is granted on "*" here and the template's resources are not checked (sam
validate --lint and review cover those). IAM has no action for a transaction: AWS
authorizes each of its items as the PutItem, UpdateItem, DeleteItem or
ConditionCheckItem it performs, while moto asks for `dynamodb:TransactWriteItems`; it is
granted to a user allowed all four item writes of the transactions we send (put, update,
delete) — a function allowed fewer could still pass here with a transaction AWS would
refuse. Needs boto3 (in the emulator's .venv/).
"""

import json
import sys

import boto3


# What moto asks for a transaction, granted when the user may do what it holds.
TRANSACTION_ITEMS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def user_with(iam, name, actions):
    actions = list(actions)
    if TRANSACTION_ITEMS <= set(actions):
        actions.append("dynamodb:TransactWriteItems")
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions or ["none:None"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="template", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def main():
    iam = boto3.client("iam")
    if sys.argv[1:] == ["admin"]:
        key_id, secret = user_with(iam, "lambda-check-admin", ["*"])
        print("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s" % (key_id, secret))
    elif sys.argv[1:] == ["functions"]:
        plan = json.load(sys.stdin)
        for fn in plan["functions"]:
            key_id, secret = user_with(iam, "fn-" + fn["name"], fn["actions"])
            print(fn["name"], key_id, secret)
    else:
        raise SystemExit("usage: iam_setup.py admin | functions <plan.json")


if __name__ == "__main__":
    main()
