"""Each function's role: exactly the actions it takes, on the resources it takes them on.

Chalice's generated policy is off (``.chalice/config.json``: ``manage_iam_role`` false); ``infra/package``
merges these roles into the template and points each function at its own. The statements below
are the inventory of what the code calls: the suite judges every AWS call each function makes
(DynamoDB, S3 and KMS, SQS, EventBridge, SES, Cognito, STS) against its role's statements with
``infra/iam.py`` (``tests/iam_audit.py``), so a call the role does not allow fails the test that
made it; ``tests/test_infra.py`` lists every statement, so a wildcard action fails one too.

Request handlers reach companies' data only through the tenant data role (``TenantDataRole`` in
``template.yaml``), assumed per company with a session policy (chalicelib/core/aws.py): the API's
own role touches no company's partition, only the platform's (``P#``: rate windows, the registry's
index, the health item) and the companies' platform partitions (``P#COMPANY#<t>#``: usage, plan
history, invoices) that operators read.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import keys

Statement = dict[str, Any]


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _arn(resource: str, attribute: str = "Arn") -> dict[str, list[str]]:
    return {"Fn::GetAtt": [resource, attribute]}


TABLE = _arn("Table")
INDEXES = _sub("${Table.Arn}/index/*")
STREAM = _sub("${Table.Arn}/stream/*")
OBJECTS = _sub("${BackupBucket.Arn}/*")
DATA_KEY = _arn("DataKey")
USER_POOL = _arn("UserPool")
OPERATOR_POOL = _arn("OperatorPool")
BUS = _arn("EventBus")
MAIL_IDENTITY = _sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailFrom}")

READS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
WRITES = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]


def table(actions: list[str], leading_keys: list[str] | None = None) -> list[Statement]:
    """Item actions on the table (and Query on its indexes), optionally only on some partition keys."""
    condition = (
        {"Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": leading_keys}}}
        if leading_keys
        else {}
    )
    statements = [{"Effect": "Allow", "Action": sorted(actions), "Resource": [TABLE], **condition}]
    if "dynamodb:Query" in actions:
        statements.append(
            {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [INDEXES], **condition}
        )
    return statements


def consume(queue: str) -> list[Statement]:
    """What Lambda's event source mapping does with the function's role on its queue."""
    return [
        {
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
            "Resource": [_arn(queue)],
        }
    ]


def send(*queues: str) -> list[Statement]:
    return [{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [_arn(q) for q in queues]}]


def objects(actions: list[str], kms: list[str]) -> list[Statement]:
    """Objects of the backup bucket (backups, job files), encrypted with the data key."""
    return [
        {"Effect": "Allow", "Action": sorted(actions), "Resource": [OBJECTS]},
        {"Effect": "Allow", "Action": sorted(kms), "Resource": [DATA_KEY]},
    ]


def mail() -> list[Statement]:
    """Mail from the stack's sender only."""
    return [
        {
            "Effect": "Allow",
            "Action": ["ses:SendEmail"],
            "Resource": [MAIL_IDENTITY],
            "Condition": {"StringEquals": {"ses:FromAddress": {"Ref": "MailFrom"}}},
        }
    ]


def publish() -> list[Statement]:
    return [{"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": [BUS]}]


def users(pool: Any, actions: list[str]) -> list[Statement]:
    return [{"Effect": "Allow", "Action": sorted(f"cognito-idp:{a}" for a in actions), "Resource": [pool]}]


PATTERNS = keys.ROLE_KEY_PATTERNS
OBJECT_READS = ["s3:GetObject", "s3:GetObjectVersion"]  # backup links name an object's version


def list_bucket(*actions: str) -> list[Statement]:
    """Listing the bucket under the companies' prefix: a HeadObject of a missing key answers 404, not
    403, with ``s3:ListBucket``; the closing of a company lists versions and unfinished uploads."""
    return [
        {
            "Effect": "Allow",
            "Action": sorted(["s3:ListBucket", *actions]),
            "Resource": [_arn("BackupBucket")],
            "Condition": {"StringLike": {"s3:prefix": ["tenants/*"]}},
        }
    ]


# Every function's statements beside its logs (see the module's docstring for how they are checked).
POLICIES: dict[str, list[Statement]] = {
    "APIHandler": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole"], "Resource": [_arn("TenantDataRole")]},
        *table(READS + WRITES, PATTERNS["api"]),
        *users(
            USER_POOL,
            [
                "AdminCreateUser",
                "AdminDeleteUser",
                "AdminDisableUser",
                "AdminEnableUser",
                "AdminGetUser",
                "AdminInitiateAuth",
                "AdminSetUserPassword",
                "AdminUserGlobalSignOut",
            ],
        ),
        *users(OPERATOR_POOL, ["AdminInitiateAuth"]),
        *send("JobsQueue", "ErpQueue", "CrmQueue"),
        *objects([*OBJECT_READS, "s3:PutObject"], ["kms:Decrypt", "kms:GenerateDataKey"]),
        *list_bucket(),
        *mail(),
    ],
    "JwtAuth": [],
    "OperatorAuth": [],
    "ErpConsumer": [
        *consume("ErpQueue"),
        *table(READS + WRITES, PATTERNS["companies"] + PATTERNS["outbox_index"]),
        *publish(),
    ],
    "CrmConsumer": [*consume("CrmQueue"), *table(READS + WRITES, PATTERNS["companies"]), *mail()],
    "ErpDeadLetters": [
        *consume("ErpQueueDLQ"),
        *table(["dynamodb:GetItem", "dynamodb:BatchWriteItem"], PATTERNS["dead_letters"]),
    ],
    "CrmDeadLetters": [
        *consume("CrmQueueDLQ"),
        *table(["dynamodb:GetItem", "dynamodb:BatchWriteItem"], PATTERNS["dead_letters"]),
    ],
    "RelayOnWrite": [
        {
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
            "Resource": [STREAM],
        },
        # ListStreams authorises no resource: "*" is the only resource it takes (IAM's reference).
        {"Effect": "Allow", "Action": ["dynamodb:ListStreams"], "Resource": ["*"]},
        *table(["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], PATTERNS["relay"]),
        *publish(),
    ],
    "RelayOutbox": [
        *table(["dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], PATTERNS["relay"]),
        *publish(),
    ],
    "ReconcileOrders": [
        *table(
            [*READS, "dynamodb:PutItem", "dynamodb:UpdateItem"], PATTERNS["companies"] + PATTERNS["registry"]
        ),
    ],
    "JobWorker": [
        *consume("JobsQueue"),
        *send("JobsQueue"),
        *table(READS + WRITES, PATTERNS["companies"]),
        *objects(
            [
                *OBJECT_READS,
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
                "s3:PutObjectTagging",
            ],
            ["kms:Decrypt", "kms:GenerateDataKey"],
        ),
        *list_bucket("s3:ListBucketMultipartUploads", "s3:ListBucketVersions"),
        *users(USER_POOL, ["AdminDeleteUser", "AdminGetUser"]),
    ],
    "CloseMonth": [
        *table(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"], PATTERNS["close_month"]),
    ],
    "DailyAutomations": [
        *table(READS + WRITES, PATTERNS["companies"] + PATTERNS["registry"]),
        *mail(),
    ],
    "DailyBackups": [
        *table(["dynamodb:Query", "dynamodb:PutItem"], PATTERNS["daily_backups"]),
        *send("JobsQueue"),
    ],
}


def role_name(resource: str) -> str:
    return f"{resource}Role"


def resources(functions: dict[str, str]) -> dict[str, Any]:
    """One role per function (``functions``: Chalice's resource name -> its short name)."""
    made = {}
    for resource, short in functions.items():
        logs = {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [
                _sub(
                    f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/crmerp-${{Stage}}-{short}:*"
                )
            ],
        }
        made[role_name(resource)] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": _sub(f"crmerp-${{Stage}}-{short}"),
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "least-privilege",
                        "PolicyDocument": {"Version": "2012-10-17", "Statement": [logs, *POLICIES[resource]]},
                    }
                ],
            },
        }
    return made
