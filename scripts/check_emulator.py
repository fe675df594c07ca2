"""Smoke check: the moto behaviours our Rust code and its tests rely on.

Run:  scripts/emulator.sh run -- .venv/bin/python scripts/check_emulator.py
Fails with an AssertionError naming the behaviour if a moto upgrade changes one.
"""

import json
import os
import urllib.request
import uuid

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
ddb = boto3.client("dynamodb")
S = lambda v: {"S": v}  # noqa: E731
N = lambda v: {"N": str(v)}  # noqa: E731


def error(call, **kw):
    """Run a call that must fail; return botocore's parsed error response."""
    try:
        call(**kw)
    except ClientError as e:
        return e.response
    raise AssertionError(f"{call.__name__} should have failed")


# a. table shaped like ours: pk/sk + gsi1, on-demand, TTL, PITR
table = f"smoke-{uuid.uuid4().hex[:8]}"  # unique, so reruns on one server don't collide
ddb.create_table(
    TableName=table,
    BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk")],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    GlobalSecondaryIndexes=[{
        "IndexName": "gsi1",
        "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
        "Projection": {"ProjectionType": "ALL"},
    }],
)
ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
assert ddb.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi1"

# b. failed condition returns the old item when asked (ReturnValuesOnConditionCheckFailure)
key = {"pk": S("u#1"), "sk": S("profile")}
ddb.put_item(TableName=table, Item={**key, "n": N(1), "b": S("x")})
old = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD", "ConditionExpression": "attribute_not_exists(pk)"}
for call, kw in [
    (ddb.put_item, {"Item": key}),
    (ddb.update_item, {"Key": key, "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": S("a")}}),
    (ddb.delete_item, {"Key": key}),
]:
    r = error(call, TableName=table, **kw, **old)
    assert r["Error"]["Code"] == "ConditionalCheckFailedException", r
    assert r["Item"]["n"] == N(1), f"{call.__name__}: old item missing from error: {r}"

# c. SET/ADD/REMOVE in one update, compound condition
r = ddb.update_item(
    TableName=table, Key=key, ReturnValues="ALL_NEW",
    UpdateExpression="SET a = :a ADD n :one REMOVE b",
    ConditionExpression="(attribute_not_exists(pk) OR n < :ten) AND NOT begins_with(a, :z)",
    ExpressionAttributeValues={":a": S("A"), ":one": N(1), ":ten": N(10), ":z": S("z")},
)
assert r["Attributes"] == {**key, "a": S("A"), "n": N(2)}, r

# d. query + pagination on table and GSI
for i in range(4):
    ddb.put_item(TableName=table, Item={"pk": S("q"), "sk": S(f"ev#{i}"), "gsi1pk": S("g"), "gsi1sk": S(f"t#{i}")})
page = ddb.query(TableName=table, Limit=3, ScanIndexForward=False,
                 KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                 ExpressionAttributeValues={":p": S("q"), ":s": S("ev#")})
assert [i["sk"]["S"] for i in page["Items"]] == ["ev#3", "ev#2", "ev#1"]
assert page["LastEvaluatedKey"] == {"pk": S("q"), "sk": S("ev#1")}
gsi = dict(TableName=table, IndexName="gsi1", Limit=2, KeyConditionExpression="gsi1pk = :p AND gsi1sk BETWEEN :a AND :b",
           ExpressionAttributeValues={":p": S("g"), ":a": S("t#0"), ":b": S("t#3")})
page = ddb.query(**gsi)
assert page["LastEvaluatedKey"] == {"pk": S("q"), "sk": S("ev#1"), "gsi1pk": S("g"), "gsi1sk": S("t#1")}, page
page = ddb.query(**gsi, ExclusiveStartKey=page["LastEvaluatedKey"])
# moto: no LastEvaluatedKey when the page is full but nothing follows in the partition
assert [i["gsi1sk"]["S"] for i in page["Items"]] == ["t#2", "t#3"] and "LastEvaluatedKey" not in page, page

# e. transaction cancelled: one reason per action, in order, old item on request
r = error(ddb.transact_write_items, TransactItems=[
    {"Put": {"TableName": table, "Item": {"pk": S("t"), "sk": S("new")}}},
    {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "n > :n",
                        "ExpressionAttributeValues": {":n": N(5)}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
])
assert r["Error"]["Code"] == "TransactionCanceledException", r
assert [c["Code"] for c in r["CancellationReasons"]] == ["None", "ConditionalCheckFailed"], r
assert r["CancellationReasons"][1]["Item"]["n"] == N(2), r
assert "Item" not in ddb.get_item(TableName=table, Key={"pk": S("t"), "sk": S("new")}), "transaction not atomic"
r = error(ddb.transact_write_items, TransactItems=[
    {"Put": {"TableName": table, "Item": key}},
    {"Delete": {"TableName": table, "Key": key}},
])
assert r["Error"]["Code"] == "ValidationException", r

# f. up to 100 actions per transaction
ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {"pk": S("bulk"), "sk": S(str(i))}}} for i in range(100)])

# g. Secrets Manager
sm = boto3.client("secretsmanager")
name = f"smoke/{table}"
sm.create_secret(Name=name, SecretString='{"v":1}')
sm.put_secret_value(SecretId=name, SecretString='{"v":2}')
assert sm.get_secret_value(SecretId=name)["SecretString"] == '{"v":2}'

# i. unverified sender is rejected; h. a sent message can be read back over HTTP
ses = boto3.client("ses")
msg = {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "hello"}}}
sender = f"{table}@eventzr.test"
r = error(ses.send_email, Source=sender, Destination={"ToAddresses": ["a@x.test"]}, Message=msg)
assert r["Error"]["Code"] == "MessageRejected", r
ses.verify_email_identity(EmailAddress=sender)
msg_id = ses.send_email(Source=sender, Destination={"ToAddresses": ["a@x.test"]}, Message=msg)["MessageId"]
sent = json.load(urllib.request.urlopen(f"{ENDPOINT}/moto-api/data.json"))["ses"]["Message"]
assert [m for m in sent if m["id"] == msg_id] == [{
    "id": msg_id, "source": sender, "subject": "Hi", "body": "hello", "destinations": {"ToAddresses": ["a@x.test"]},
}], sent

ddb.delete_table(TableName=table)
print("emulator smoke check: OK")
