"""The IAM evaluator (infra/iam.py) on AWS's documented examples, then the companies' session
policy judged with it, and the request path's use of the company's STS session."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from chalicelib.core import aws
from infra.iam import Request, allowed, decision, dynamodb_requests
from tests.conftest import a_customer, a_tenant

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/crmerp-prod"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# ---- the evaluator, on AWS's own examples ---------------------------------------------------------
# DynamoDB's fine-grained access example (developer guide, "Using IAM policy conditions for
# fine-grained access control"): items whose partition key is the user's id, the variable
# ${www.amazon.com:user_id} resolved here to the user "u1".
GAME_SCORES = _policy(
    {
        "Effect": "Allow",
        "Action": [
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
        ],
        "Resource": ["arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"],
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["u1"]}},
    }
)
SCORES = "arn:aws:dynamodb:us-west-2:123456789012:table/GameScores"


def test_the_guide_s_example_allows_the_user_s_own_items_only():
    def keys(*values: str) -> dict[str, list[str]]:
        return {"dynamodb:LeadingKeys": list(values)}

    assert decision(GAME_SCORES, Request("dynamodb:GetItem", SCORES, keys("u1"))) == "Allow"
    assert decision(GAME_SCORES, Request("dynamodb:GetItem", SCORES, keys("u2"))) == "NotAllowed"
    # A batch is allowed only when every key it names is the user's (ForAllValues).
    assert allowed([GAME_SCORES], Request("dynamodb:BatchGetItem", SCORES, keys("u1", "u1")))
    assert not allowed([GAME_SCORES], Request("dynamodb:BatchGetItem", SCORES, keys("u1", "u2")))
    # Another table, an action not listed: not allowed.
    assert not allowed([GAME_SCORES], Request("dynamodb:GetItem", SCORES + "2", keys("u1")))
    assert not allowed([GAME_SCORES], Request("dynamodb:DeleteTable", SCORES, {}))


def test_for_all_values_holds_for_an_absent_key_the_documented_pitfall():
    """IAM's guide: ForAllValues returns true when the request has no value for the key, so a
    policy that allowed Scan under a leading keys condition would allow every Scan."""
    with_scan = _policy(
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Scan", "dynamodb:GetItem"],
            "Resource": [SCORES],
            "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["u1"]}},
        }
    )
    assert allowed([with_scan], Request("dynamodb:Scan", SCORES, {}))
    # ForAnyValue is the other way about: an absent key fails it.
    any_value = _policy(
        {
            "Effect": "Allow",
            "Action": "dynamodb:GetItem",
            "Resource": SCORES,
            "Condition": {"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["u1"]}},
        }
    )
    assert not allowed([any_value], Request("dynamodb:GetItem", SCORES, {}))
    assert allowed([any_value], Request("dynamodb:GetItem", SCORES, {"dynamodb:LeadingKeys": ["u2", "u1"]}))


def test_wildcards_deny_and_the_intersection_of_a_role_and_a_session_policy():
    role = _policy(
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::bucket/*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/secret/*"},
    )
    assert allowed([role], Request("s3:GetObjectTagging", "arn:aws:s3:::bucket/a"))
    assert allowed([role], Request("S3:getobject", "arn:aws:s3:::bucket/a"))  # actions: any case
    assert not allowed([role], Request("s3:GetObject", "arn:aws:s3:::Bucket/a"))  # resources: exact case
    assert decision(role, Request("s3:GetObject", "arn:aws:s3:::bucket/secret/x")) == "Deny"
    assert not allowed([role], Request("s3:PutObject", "arn:aws:s3:::bucket/a"))
    session = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/a?"})
    assert allowed([role, session], Request("s3:GetObject", "arn:aws:s3:::bucket/a1"))
    assert not allowed([role, session], Request("s3:GetObjectTagging", "arn:aws:s3:::bucket/a1"))
    assert not allowed([role, session], Request("s3:GetObject", "arn:aws:s3:::bucket/a12"))


# ---- the companies' session policy ----------------------------------------------------------------
def _get(pk: str) -> Request:
    return dynamodb_requests("GetItem", {"Key": {"pk": {"S": pk}, "sk": {"S": "x"}}}, TABLE)[0]


@pytest.mark.parametrize(
    ("pk", "allowed_for_acme"),
    [
        ("T#acme#CUSTOMER", True),
        ("T#acme#", True),
        ("P#COMPANY#acme#USAGE", True),
        ("T#acme-corp#CUSTOMER", False),  # a company whose id begins with another's
        ("T#acmecorp#CUSTOMER", False),
        ("T#other#CUSTOMER", False),
        ("T#ACME#CUSTOMER", False),  # keys are case-sensitive
        ("P#COMPANY#acme-corp#USAGE", False),
        ("P#TENANTS", False),
        ("P#RATE#login#1.2.3.4", False),
        ("X#T#acme#", False),
    ],
)
def test_a_company_s_session_reaches_its_own_keys_only(pk, allowed_for_acme):
    policy = aws.session_policy("acme", TABLE)
    assert allowed([policy], _get(pk)) is allowed_for_acme


def test_a_company_s_session_judges_every_key_of_a_call():
    policy = aws.session_policy("acme", TABLE)

    def transaction(*pks: str) -> list[Request]:
        items = [{"Put": {"Item": {"pk": {"S": pk}, "sk": {"S": "1"}}}} for pk in pks]
        return dynamodb_requests("TransactWriteItems", {"TransactItems": items}, TABLE)

    assert all(allowed([policy], r) for r in transaction("T#acme#A", "T#acme#B"))
    assert not all(allowed([policy], r) for r in transaction("T#acme#A", "T#other#B"))
    batch = {"RequestItems": {"t": {"Keys": [{"pk": {"S": "T#acme#A"}}, {"pk": {"S": "T#other#A"}}]}}}
    assert not allowed([policy], dynamodb_requests("BatchGetItem", batch, TABLE)[0])
    # A Query on an index is judged by the index's partition key, on the index's ARN.
    query = {
        "IndexName": "gsi1",
        "KeyConditionExpression": "#n0 = :v0 AND begins_with(#n1, :v1)",
        "ExpressionAttributeNames": {"#n0": "gsi1pk", "#n1": "gsi1sk"},
        "ExpressionAttributeValues": {":v0": {"S": "T#acme#UPDATED#customer"}, ":v1": {"S": "2026"}},
    }
    assert allowed([policy], dynamodb_requests("Query", query, TABLE)[0])
    query["ExpressionAttributeValues"][":v0"] = {"S": "P#OUTBOX"}
    assert not allowed([policy], dynamodb_requests("Query", query, TABLE)[0])
    # Scan names no key: the session does not allow it at all (see the pitfall above).
    assert not allowed([policy], dynamodb_requests("Scan", {}, TABLE)[0])
    # Nor anything but item actions.
    assert not allowed([policy], dynamodb_requests("DeleteTable", {}, TABLE)[0])


# ---- the request path -----------------------------------------------------------------------------
def test_a_company_s_requests_reach_dynamodb_through_its_own_sts_session_once_per_container(api, aws):
    """Every DynamoDB call of a company's requests goes through a client holding that company's STS
    credentials (the suite's IAM audit, tests/iam_audit.py, judges each call against the session
    policy); STS is asked once per company, not per request."""
    from chalicelib.core import aws as clients

    acme, other = a_tenant(api, "Acme"), a_tenant(api, "Other")
    assumed: list[dict[str, Any]] = []
    seen: list[str | None] = []

    def on_assume(params: dict[str, Any], **_: Any) -> None:
        assumed.append(params)

    def on_call(credentials: str | None, **_: Any) -> None:
        seen.append(credentials)

    clients.forget_company_sessions()
    clients.sts().meta.events.register("provide-client-params.sts.AssumeRole", on_assume)
    clients.observe("before-call.dynamodb", on_call)
    try:
        for _ in range(3):
            a_customer(api, acme)
            assert api.get("/crm/customers", other.token).status == 200
    finally:
        clients.unobserve("before-call.dynamodb", on_call)
        clients.sts().meta.events.unregister("provide-client-params.sts.AssumeRole", on_assume)
    # Each company's session once (the container may also save other companies' usage, each
    # through its own session, and make theirs).
    names = collections.Counter(a["RoleSessionName"] for a in assumed)
    assert names[f"company-{acme.id}"[:64]] == names[f"company-{other.id}"[:64]] == 1
    assert max(names.values()) == 1
    assert all(a["RoleArn"] == aws.tenant_role_arn for a in assumed)
    assert set(seen) == {acme.id, other.id}  # no call through the function's own credentials
