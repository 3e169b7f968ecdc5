"""An IAM policy evaluator for the parts of the policy language the deployment uses, and the IAM
requests a DynamoDB call makes. moto evaluates no IAM conditions, so the tests judge the roles and
the companies' session policies with this instead.

Implemented after AWS's documented evaluation logic
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- a request is allowed when some statement allows it and none denies it (an explicit deny wins;
  nothing allowed is an implicit deny); with several policies that must all agree (a role's policy
  and an STS session policy), each is evaluated and all must allow;
- ``Action`` and ``Resource`` (and their ``Not`` forms) match with ``*`` (any run of characters) and
  ``?`` (one character); actions case-insensitively, resources case-sensitively;
- ``Condition``: every operator block must hold, every key in it must hold, and a key holds when any
  of its values matches (OR); operators ``StringEquals``, ``StringLike``, ``StringNotEquals``,
  ``StringNotLike``, ``ArnEquals``, ``ArnLike``, ``Bool``, ``Null``, with the set qualifiers of
  multivalued keys: ``ForAllValues:`` holds when every value of the request's key matches some
  policy value, and holds for a key that is absent or empty (the documented pitfall: a policy that
  allows Scan under a ``ForAllValues`` condition on ``dynamodb:LeadingKeys`` allows every Scan);
  ``ForAnyValue:`` holds when some value matches, and fails for an absent key. A plain operator on a
  key the request lacks fails, a negated one (``StringNotEquals``) holds (``...IfExists`` is not
  used here).

DynamoDB's request keys (``dynamodb:LeadingKeys``): the partition key values the request touches,
the table's for item operations and the index's for a Query on an index; a transaction is one
request per item (``PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``, ``GetItem``),
as IAM authorises each item of it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


@dataclasses.dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcard match: ``*`` any run, ``?`` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=0 if case else re.IGNORECASE | re.DOTALL) is not None


def _matches_any(patterns: Iterable[str], value: str, *, case: bool) -> bool:
    return any(_like(p, value, case=case) for p in patterns)


def _operator(name: str) -> tuple[str | None, str]:
    qualifier, _, operator = name.rpartition(":")
    return (qualifier or None), operator


def _value_matches(operator: str, wanted: str, value: str) -> bool:
    if operator == "StringEquals":
        return value == wanted
    if operator in ("StringLike", "ArnLike", "ArnEquals"):  # both ARN operators take * and ?
        return _like(wanted, value)
    if operator == "Bool":
        return value.lower() == str(wanted).lower()
    raise ValueError(f"the evaluator knows no condition operator {operator!r}")


def _condition_holds(block: str, conditions: Mapping[str, Any], context: Mapping[str, Sequence[str]]) -> bool:
    qualifier, operator = _operator(block)
    negated = operator in ("StringNotEquals", "StringNotLike")
    positive = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike"}.get(operator, operator)
    for key, wanted in conditions.items():
        wanted_values = [str(w) for w in _listed(wanted)]
        values = list(context.get(key, ()))
        if operator == "Null":  # "true": the key is absent
            holds = (not values) == (wanted_values[0].lower() == "true")
        elif qualifier == "ForAllValues":
            holds = all(any(_value_matches(positive, w, v) for w in wanted_values) != negated for v in values)
        elif qualifier == "ForAnyValue":
            holds = any(any(_value_matches(positive, w, v) for w in wanted_values) != negated for v in values)
        elif qualifier is None:  # absent: a positive operator fails, a negated one holds
            holds = (
                any(any(_value_matches(positive, w, v) for w in wanted_values) for v in values) != negated
                if values
                else negated
            )
        else:
            raise ValueError(f"the evaluator knows no set qualifier {qualifier!r}")
        if not holds:
            return False
    return True


def _statement_applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not _matches_any(_listed(statement["Action"]), request.action, case=False):
            return False
    elif "NotAction" in statement:
        if _matches_any(_listed(statement["NotAction"]), request.action, case=False):
            return False
    if "Resource" in statement:
        if not _matches_any(_listed(statement["Resource"]), request.resource, case=True):
            return False
    elif "NotResource" in statement:
        if _matches_any(_listed(statement["NotResource"]), request.resource, case=True):
            return False
    return all(
        _condition_holds(block, conditions, request.context)
        for block, conditions in (statement.get("Condition") or {}).items()
    )


def decision(policy: Mapping[str, Any], request: Request) -> str:
    """ "Deny" (explicitly), "Allow", or "NotAllowed" (no statement allows: an implicit deny)."""
    applying = [s for s in _listed(policy.get("Statement", [])) if _statement_applies(s, request)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return "Deny"
    return "Allow" if any(s.get("Effect") == "Allow" for s in applying) else "NotAllowed"


def allowed(policies: Sequence[Mapping[str, Any]], request: Request) -> bool:
    """Whether every one of ``policies`` (a role's, a session's) allows ``request``."""
    return all(decision(p, request) == "Allow" for p in policies)


# ---- the IAM requests of a DynamoDB call -----------------------------------------------------------
_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _pk(key: Mapping[str, Any], attribute: str = "pk") -> str:
    value = key.get(attribute) or {}
    return str(value.get("S", "")) if isinstance(value, Mapping) else str(value)


def _query_partition(params: Mapping[str, Any]) -> str:
    """The partition key value a Query names (its key condition's equality on the hash attribute)."""
    attribute = {"gsi1": "gsi1pk", "gsi2": "gsi2pk"}.get(params.get("IndexName", ""), "pk")
    names = {v: k for k, v in (params.get("ExpressionAttributeNames") or {}).items()}
    values = params.get("ExpressionAttributeValues") or {}
    expression = params.get("KeyConditionExpression", "")
    for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", expression):
        if name == attribute or names.get(attribute) == name:
            return _pk({"v": values[placeholder]}, "v")
    raise ValueError(f"no equality on {attribute} in {expression!r}")


def dynamodb_requests(operation: str, params: Mapping[str, Any], table_arn: str) -> list[Request]:
    """The IAM requests of one DynamoDB call (``params`` on the wire: typed attribute values)."""

    def one(action: str, keys: list[str], resource: str = table_arn) -> Request:
        return Request(f"dynamodb:{action}", resource, {"dynamodb:LeadingKeys": keys})

    if operation in ("GetItem", "UpdateItem", "DeleteItem"):
        return [one(operation, [_pk(params["Key"])])]
    if operation == "PutItem":
        return [one(operation, [_pk(params["Item"])])]
    if operation == "Query":
        index = params.get("IndexName")
        return [
            one("Query", [_query_partition(params)], f"{table_arn}/index/{index}" if index else table_arn)
        ]
    if operation == "BatchGetItem":
        return [one(operation, sorted({_pk(k) for t in params["RequestItems"].values() for k in t["Keys"]}))]
    if operation == "BatchWriteItem":
        keys = {
            _pk(w["PutRequest"]["Item"]) if "PutRequest" in w else _pk(w["DeleteRequest"]["Key"])
            for writes in params["RequestItems"].values()
            for w in writes
        }
        return [one(operation, sorted(keys))]
    if operation == "TransactWriteItems":
        made = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            made.append(one(_TRANSACT[kind], [_pk(body["Item"] if kind == "Put" else body["Key"])]))
        return made
    if operation == "TransactGetItems":
        return [one("GetItem", [_pk(i["Get"]["Key"])]) for i in params["TransactItems"]]
    if operation == "Scan":
        return [Request("dynamodb:Scan", table_arn, {})]
    return [Request(f"dynamodb:{operation}", table_arn, {})]


def wire_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a call as botocore's ``before-call`` event shows it (the JSON body sent)."""
    body = params.get("body") or b"{}"
    return dict(json.loads(body if isinstance(body, str) else body.decode("utf-8")))


# ---- the IAM requests of other services' calls ------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Place:
    """Where the stack is: what an API call names, turned into ARNs."""

    account: str
    region: str
    data_key_arn: str


def _queue_arn(url: str, place: Place) -> str:
    return f"arn:aws:sqs:{place.region}:{place.account}:{url.rstrip('/').rsplit('/', 1)[-1]}"


def _s3_requests(operation: str, params: Mapping[str, Any], place: Place) -> list[Request]:
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    obj = f"{bucket}/{params.get('Key', '')}"
    versioned = bool(params.get("VersionId"))
    key = place.data_key_arn
    listing = {"s3:prefix": [str(params.get("Prefix", ""))]}
    writes = [Request("s3:PutObject", obj)] + (
        [Request("s3:PutObjectTagging", obj)] if params.get("Tagging") else []
    )
    by_operation: dict[str, list[Request]] = {
        "PutObject": [*writes, Request("kms:GenerateDataKey", key)],
        "CreateMultipartUpload": [*writes, Request("kms:GenerateDataKey", key), Request("kms:Decrypt", key)],
        "UploadPart": [Request("s3:PutObject", obj)],
        "CompleteMultipartUpload": [Request("s3:PutObject", obj)],
        "AbortMultipartUpload": [Request("s3:AbortMultipartUpload", obj)],
        "ListParts": [Request("s3:ListMultipartUploadParts", obj)],
        "GetObject": [
            Request("s3:GetObjectVersion" if versioned else "s3:GetObject", obj),
            Request("kms:Decrypt", key),
        ],
        "HeadObject": [Request("s3:GetObjectVersion" if versioned else "s3:GetObject", obj)],
        "DeleteObject": [Request("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", obj)],
        "DeleteObjects": [
            Request(
                "s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject", f"{bucket}/{o['Key']}"
            )
            for o in (params.get("Delete") or {}).get("Objects", [])
        ],
        "ListObjectVersions": [Request("s3:ListBucketVersions", bucket, listing)],
        "ListMultipartUploads": [Request("s3:ListBucketMultipartUploads", bucket, listing)],
        "ListObjectsV2": [Request("s3:ListBucket", bucket, listing)],
        "PutObjectTagging": [Request("s3:PutObjectTagging", obj)],
    }
    return by_operation.get(operation, [Request(f"s3:{operation}", obj)])


def service_requests(service: str, operation: str, params: Mapping[str, Any], place: Place) -> list[Request]:
    """The IAM requests of one call of S3, SQS, EventBridge, SES, Cognito or STS, from the API
    parameters the app passed (botocore's ``provide-client-params``)."""
    arn = f"{place.region}:{place.account}"
    if service == "s3":
        return _s3_requests(operation, params, place)
    if service == "sqs":
        action = "SendMessage" if operation == "SendMessageBatch" else operation
        return [Request(f"sqs:{action}", _queue_arn(str(params.get("QueueUrl", "")), place))]
    if service == "events":
        buses = {e.get("EventBusName", "default") for e in params.get("Entries", [])}
        return [Request(f"events:{operation}", f"arn:aws:events:{arn}:event-bus/{b}") for b in sorted(buses)]
    if service == "ses":
        source = str(params.get("Source", ""))
        domain = source.rsplit("@", 1)[-1]
        return (
            [
                Request(
                    f"ses:{operation}", f"arn:aws:ses:{arn}:identity/{source}", {"ses:FromAddress": [source]}
                ),
            ]
            if source
            else [Request(f"ses:{operation}", f"arn:aws:ses:{arn}:identity/{domain}")]
        )
    if service == "cognito-idp":
        if operation in ("InitiateAuth", "RespondToAuthChallenge", "GetUser"):
            return []  # called with a user's tokens or none: IAM authorises nothing here
        return [
            Request(
                f"cognito-idp:{operation}", f"arn:aws:cognito-idp:{arn}:userpool/{params.get('UserPoolId')}"
            )
        ]
    if service == "sts":
        return [Request(f"sts:{operation}", str(params.get("RoleArn", "*")))]
    return [Request(f"{service}:{operation}", "*")]


# ---- CloudFormation's intrinsics, resolved against known values --------------------------------------
def resolve(value: Any, known: Mapping[str, str]) -> Any:
    """A policy of the template with ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub`` resolved from ``known``
    (``Table.Arn``, ``Stage``, ``AWS::Region``...); what is not known becomes a value that matches
    nothing real."""
    if isinstance(value, Mapping):
        if set(value) == {"Ref"}:
            return known.get(value["Ref"], f"<unknown {value['Ref']}>")
        if set(value) == {"Fn::GetAtt"}:
            attribute = value["Fn::GetAtt"]
            name = attribute if isinstance(attribute, str) else ".".join(attribute)
            return known.get(name, f"<unknown {name}>")
        if set(value) == {"Fn::Sub"}:
            return re.sub(
                r"\$\{([^}]+)\}", lambda m: known.get(m.group(1), f"<unknown {m.group(1)}>"), value["Fn::Sub"]
            )
        return {k: resolve(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, known) for v in value]
    return value
