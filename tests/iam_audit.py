"""Every DynamoDB call the suite makes through the app, judged as IAM would judge it in AWS.

moto evaluates no IAM condition, so this observer does (infra/iam.py), on every DynamoDB client the
app makes (chalicelib/core/aws.py ``observe``):

- a call made while a company's request runs (``aws.tenant_scope``) must go through that company's
  own client (its STS session), and be allowed both by the company's session policy and by the
  tenant data role's policy (infra/template.yaml): so no request handler reaches a company's data
  through an unscoped role, and no key it touches lies outside the company;
- any other call made while one of the app's functions runs (``aws.running``: the API outside a
  company's scope, the consumers, the relay, the jobs, the schedules) must be allowed by that
  function's own role (infra/roles.py).

A refusal is recorded (not raised inside the app, where a handler might catch it) and fails the
test that made it (the autouse fixture in conftest.py).
"""

from __future__ import annotations

import functools
from typing import Any

REFUSED: list[str] = []


@functools.cache
def _function_resources() -> dict[str, str]:
    from infra.package import FUNCTIONS

    return {short: resource for resource, short in FUNCTIONS.items()}


@functools.cache
def _tenant_role_policy() -> dict[str, Any]:
    from infra.provision import load_template

    role = load_template("template.yaml")["Resources"]["TenantDataRole"]["Properties"]
    return dict(role["Policies"][0]["PolicyDocument"])


ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's


@functools.lru_cache(maxsize=8)
def _known(table_arn: str) -> dict[str, str]:
    """The template's references, resolved to this stack's resources."""
    import os

    from chalicelib.core.config import settings

    conf = settings()
    queues = {
        "ErpQueue": "ERP_QUEUE_URL",
        "CrmQueue": "CRM_QUEUE_URL",
        "ErpQueueDLQ": "ERP_DLQ_URL",
        "CrmQueueDLQ": "CRM_DLQ_URL",
        "JobsQueue": "JOBS_QUEUE_URL",
    }
    return {
        "Table.Arn": table_arn,
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "BackupBucket.Arn": f"arn:aws:s3:::{conf.backup_bucket}",
        "DataKey.Arn": _place().data_key_arn,
        "UserPool.Arn": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{conf.user_pool_id}",
        "OperatorPool.Arn": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{conf.operator_pool_id}",
        "EventBus.Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{conf.event_bus_name}",
        "TenantDataRole.Arn": conf.tenant_role_arn,
        "MailFrom": conf.mail_from,
        **{
            f"{name}.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{os.environ.get(var, '').rsplit('/', 1)[-1]}"
            for name, var in queues.items()
        },
    }


def _place() -> Any:
    from chalicelib.core.config import settings
    from infra.iam import Place

    key = settings().data_key_id
    arn = key if key.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"
    return Place(ACCOUNT, REGION, arn)


@functools.lru_cache(maxsize=64)
def _role_policy(function: str, table_arn: str) -> dict[str, Any]:
    from infra import iam, roles

    resource = _function_resources()[function]
    return {"Version": "2012-10-17", "Statement": iam.resolve(roles.POLICIES[resource], _known(table_arn))}


@functools.lru_cache(maxsize=8)
def _tenant_role(table_arn: str) -> dict[str, Any]:
    from infra import iam

    return dict(iam.resolve(_tenant_role_policy(), _known(table_arn)))


def check(model: Any, params: dict[str, Any], credentials: str | None, **_: Any) -> None:
    from chalicelib.core import aws
    from infra import iam

    scope, function = aws.current_tenant_scope(), aws.current_function()
    if scope is None and function is None:
        return  # a test's own setup or check, not the app at work
    table_arn = aws.table_arn()
    requests = iam.dynamodb_requests(model.name, iam.wire_params(params), table_arn)
    if scope is not None:
        if credentials != scope:
            through = "the function's own role" if credentials is None else f"company {credentials}'s session"
            REFUSED.append(f"{model.name} for company {scope} went through {through}")
            return
        policies = [
            aws.session_policy(scope, table_arn),
            iam.resolve(_tenant_role_policy(), _known(table_arn)),
        ]
        who = f"company {scope}'s session"
    else:
        assert function is not None
        policies = [_role_policy(function, table_arn)]
        who = f"the {function} function's role"
    for request in requests:
        if not iam.allowed(policies, request):
            REFUSED.append(f"{who} refuses {request.action} on {request.resource} {dict(request.context)}")


def check_service(model: Any, params: dict[str, Any], **_: Any) -> None:
    """A call of another service than DynamoDB, judged against the running function's role."""
    from chalicelib.core import aws
    from infra import iam

    service = model.service_model.service_name
    function = aws.current_function()
    if service == "dynamodb" or function is None:
        return
    policy = _role_policy(function, aws.table_arn())
    for request in iam.service_requests(service, model.name, params, _place()):
        if not iam.allowed([policy], request):
            REFUSED.append(
                f"the {function} function's role refuses {request.action} on {request.resource} {dict(request.context)}"
            )


def take() -> list[str]:
    taken = list(REFUSED)
    REFUSED.clear()
    return taken
