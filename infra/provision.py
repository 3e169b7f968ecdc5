"""Create the stack's AWS resources from the templates in this folder.

Locally (and in tests) the target is moto in server mode, reached through the standard
``AWS_ENDPOINT_URL``; the same templates are deployed to AWS as they are.  moto's
CloudFormation builds ``template.yaml``; it cannot build Cognito, so the user pool and its
client are made here with the API calls whose parameters are read from ``identity.yaml``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import boto3
import yaml

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Stack:
    """Names and ids of the provisioned resources, as the app reads them from its environment."""

    stage: str
    region: str
    table_name: str
    table_stream_arn: str
    event_bus_name: str
    erp_queue_url: str
    erp_dlq_url: str
    crm_queue_url: str
    crm_dlq_url: str
    jobs_queue_url: str
    backup_bucket: str
    data_key_id: str
    mail_from: str
    user_pool_id: str
    user_pool_client_id: str
    operator_pool_id: str = ""
    operator_client_id: str = ""
    tenant_role_arn: str = ""

    def environment(self) -> dict[str, str]:
        """The app's environment variables for this stack."""
        return {
            "STAGE": self.stage,
            "AWS_DEFAULT_REGION": self.region,
            "TABLE_NAME": self.table_name,
            "TABLE_STREAM_ARN": self.table_stream_arn,
            "EVENT_BUS_NAME": self.event_bus_name,
            "ERP_QUEUE_URL": self.erp_queue_url,
            "CRM_QUEUE_URL": self.crm_queue_url,
            "ERP_DLQ_URL": self.erp_dlq_url,
            "CRM_DLQ_URL": self.crm_dlq_url,
            "JOBS_QUEUE_URL": self.jobs_queue_url,
            "BACKUP_BUCKET": self.backup_bucket,
            "DATA_KEY_ID": self.data_key_id,
            "MAIL_FROM": self.mail_from,
            "USER_POOL_ID": self.user_pool_id,
            "USER_POOL_CLIENT_ID": self.user_pool_client_id,
            "OPERATOR_POOL_ID": self.operator_pool_id,
            "OPERATOR_CLIENT_ID": self.operator_client_id,
            "TENANT_ROLE_ARN": self.tenant_role_arn,
        }

    def local_environment(self, endpoint: str) -> dict[str, str]:
        """The app's environment against moto at ``endpoint``, which serves the pool's JWKS itself."""
        return {
            **self.environment(),
            "JWKS_URL": f"{endpoint}/{self.user_pool_id}/.well-known/jwks.json",
            "OPERATOR_JWKS_URL": f"{endpoint}/{self.operator_pool_id}/.well-known/jwks.json",
        }


def _ensure_versioning(bucket: str, region: str) -> None:
    """The template turns the backup bucket's versioning on; moto's CloudFormation skips it (it
    reports the bucket created all the same), so it is turned on here as the template says."""
    s3 = boto3.client("s3", region_name=region)
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _ensure_mail_identity(address: str, region: str) -> None:
    """The template's SES identity: moto's CloudFormation does not build it, and moto sends only
    from a verified address, so it is verified here (in AWS, by the link SES mails to it)."""
    boto3.client("ses", region_name=region).verify_email_identity(EmailAddress=address)


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short-form tags."""


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node)
        else:
            value = loader.construct_mapping(node)
        if name == "Fn::GetAtt" and isinstance(value, str):  # YAML's `!GetAtt A.B` is JSON's ["A", "B"]
            value = value.split(".", 1)
        return {name: value}

    return construct


for _short, _long in (("!Sub", "Fn::Sub"), ("!Ref", "Ref"), ("!Condition", "Condition")):
    _CfnLoader.add_constructor(_short, _tag(_long))
for _function in (
    "GetAtt",
    "Not",
    "Equals",
    "If",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
):
    _CfnLoader.add_constructor(f"!{_function}", _tag(f"Fn::{_function}"))


def load_template(name: str) -> dict[str, Any]:
    with open(HERE / name, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_CfnLoader)


def _resolve(value: Any, params: dict[str, str]) -> Any:
    """Resolve the few intrinsics identity.yaml uses (Sub over parameters, Ref to a parameter)."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: params[m.group(1)], value["Fn::Sub"])
        if set(value) == {"Ref"}:
            return params[value["Ref"]]
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def _ensure_user_pool(
    stage: str, region: str, pool: str = "UserPool", client: str = "UserPoolClient"
) -> tuple[str, str]:
    """The pool and app client of identity.yaml's resources ``pool`` and ``client`` (made if new)."""
    template = load_template("identity.yaml")
    pool_props = _resolve(template["Resources"][pool]["Properties"], {"Stage": stage})
    client_props = template["Resources"][client]["Properties"]
    idp = boto3.client("cognito-idp", region_name=region)
    name = pool_props["UserPoolName"]
    pool_id = next(
        (p["Id"] for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name),
        None,
    )
    if pool_id is None:
        pool_id = idp.create_user_pool(
            PoolName=name, **{k: v for k, v in pool_props.items() if k != "UserPoolName"}
        )["UserPool"]["Id"]
    client_props = _resolve(client_props, {"Stage": stage, pool: pool_id})
    client_name = client_props["ClientName"]
    client_id = next(
        (
            c["ClientId"]
            for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
            if c["ClientName"] == client_name
        ),
        None,
    )
    if client_id is None:
        client_id = idp.create_user_pool_client(**client_props)["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def provision(stage: str = "dev", region: str = "us-east-1") -> Stack:
    """Create (or find) the stack for ``stage`` and return its resource names."""
    cfn = boto3.client("cloudformation", region_name=region)
    stack_name = f"crmerp-{stage}"
    existing = {
        s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] == "CREATE_COMPLETE"
    }
    if stack_name not in existing:
        cfn.create_stack(
            StackName=stack_name,
            TemplateBody=(HERE / "template.yaml").read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
        )
        cfn.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig={"Delay": 1})
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["Outputs"]
    }
    pool_id, client_id = _ensure_user_pool(stage, region)
    operator_pool, operator_client = _ensure_user_pool(stage, region, "OperatorPool", "OperatorPoolClient")
    _ensure_versioning(outputs["BackupBucketName"], region)
    _ensure_mail_identity(outputs["MailFrom"], region)
    return Stack(
        stage=stage,
        region=region,
        table_name=outputs["TableName"],
        table_stream_arn=outputs["TableStreamArn"],
        event_bus_name=outputs["EventBusName"],
        erp_queue_url=outputs["ErpQueueUrl"],
        erp_dlq_url=outputs["ErpDlqUrl"],
        crm_queue_url=outputs["CrmQueueUrl"],
        crm_dlq_url=outputs["CrmDlqUrl"],
        jobs_queue_url=outputs["JobsQueueUrl"],
        backup_bucket=outputs["BackupBucketName"],
        data_key_id=outputs["DataKeyId"],
        mail_from=outputs["MailFrom"],
        user_pool_id=pool_id,
        user_pool_client_id=client_id,
        operator_pool_id=operator_pool,
        operator_client_id=operator_client,
        tenant_role_arn=outputs["TenantDataRoleArn"],
    )
