#!/usr/bin/env python3
"""Creates in the AWS emulator (AWS_ENDPOINT_URL) what a deployed stack would hold
before the first invocation, from a scripts/perf/lambda_plan.py plan (stdin):

- every table, shaped like template.yaml's (pk/sk strings, GSI gsi1 on gsi1pk/gsi1sk,
  on-demand, TTL on expires_at), the same shape shared::store::dynamo::ensure_table makes;
- the cursor secret (template: a generated 64-character string);
- the SES sender identities the functions mail from (moto, like SES's sandbox, refuses
  to send from an unverified identity).

The JWT key secrets are left to `auth-admin keys init` (the operator command). Idempotent:
what exists is kept. Needs boto3 (in the emulator's .venv/).
"""

import json
import secrets
import string
import sys

import boto3


def ensure_table(ddb, name):
    try:
        ddb.describe_table(TableName=name)
        return False
    except ddb.exceptions.ResourceNotFoundException:
        pass
    attrs = ["pk", "sk", "gsi1pk", "gsi1sk"]
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attrs],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    ddb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    return True


def ensure_secret(sm, name, value):
    try:
        sm.describe_secret(SecretId=name)
        return False
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=name, SecretString=value)
        return True


def main():
    plan = json.load(sys.stdin)
    ddb = boto3.client("dynamodb")
    sm = boto3.client("secretsmanager")
    ses = boto3.client("ses")

    for table in plan["tables"]:
        print("table %s: %s" % (table, "created" if ensure_table(ddb, table) else "exists"))

    cursor = plan["secrets"]["CursorSecret"]
    alphabet = string.ascii_letters + string.digits
    value = "".join(secrets.choice(alphabet) for _ in range(64))
    print("secret %s: %s" % (cursor, "created" if ensure_secret(sm, cursor, value) else "exists"))

    senders = sorted(
        {f["env"]["SES_SENDER_IDENTITY"] for f in plan["functions"] if f["env"].get("SES_SENDER_IDENTITY")}
    )
    for sender in senders:
        ses.verify_email_identity(EmailAddress=sender)
        print("ses identity %s: verified" % sender)


if __name__ == "__main__":
    main()
