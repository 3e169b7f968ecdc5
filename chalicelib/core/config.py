"""The app's settings, read once per container from the environment."""

from __future__ import annotations

import dataclasses
import functools
import os


@dataclasses.dataclass(frozen=True)
class Settings:
    region: str
    table_name: str
    user_pool_id: str
    user_pool_client_id: str
    jwks_url: str
    cursor_secret: bytes
    signup_limit_per_hour: int
    login_limit_per_minute: int
    principal_cache_seconds: int
    event_bus_name: str
    invite_limit_per_hour: int = 30
    backup_bucket: str = ""
    data_key_id: str = ""
    jobs_queue_url: str = ""
    backup_limit_per_hour: int = 3  # on-demand backups a company may ask for
    # A restore waits this long after it stops the company's writes before it changes anything: a
    # principal cached before (30 s), a request under way (29 s) and a consumer (60 s) are done by then.
    restore_quiesce_seconds: int = 90
    # An offboarding shows its final backup's links this long before it deletes the company's users
    # (their sign-in) and data: the owner's time to download it.
    offboard_grace_seconds: int = 900
    app_version: str = "dev"
    mail_from: str = "no-reply@crmerp.example"  # the sender SES verifies (infra/template.yaml)
    public_url: str = "http://127.0.0.1:8000"  # where links in mail point (the unsubscribe link)
    # The platform's operators' pool (our staff, not a company's users): empty, no operator signs in.
    operator_pool_id: str = ""
    operator_client_id: str = ""
    operator_jwks_url: str = ""
    # The role request handlers assume, per company, for its keys only (chalicelib/core/aws.py).
    tenant_role_arn: str = ""

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def operator_issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.operator_pool_id}"


@functools.cache
def settings() -> Settings:
    """Settings of this container; the environment is read on first use, not at import."""
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    pool = env["USER_POOL_ID"]
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
    return Settings(
        region=region,
        table_name=env["TABLE_NAME"],
        user_pool_id=pool,
        user_pool_client_id=env["USER_POOL_CLIENT_ID"],
        # In AWS the JWKS sits under the issuer; locally moto serves it on its own address.
        jwks_url=env.get("JWKS_URL") or f"{issuer}/.well-known/jwks.json",
        cursor_secret=env["CURSOR_SECRET"].encode(),
        signup_limit_per_hour=int(env.get("SIGNUP_LIMIT_PER_HOUR", "10")),
        login_limit_per_minute=int(env.get("LOGIN_LIMIT_PER_MINUTE", "30")),
        invite_limit_per_hour=int(env.get("INVITE_LIMIT_PER_HOUR", "30")),
        # Role and membership changes reach every container within this many seconds (< 60).
        principal_cache_seconds=int(env.get("PRINCIPAL_CACHE_SECONDS", "30")),
        event_bus_name=env.get("EVENT_BUS_NAME", "crmerp-local"),
        backup_bucket=env.get("BACKUP_BUCKET", ""),
        data_key_id=env.get("DATA_KEY_ID", ""),
        jobs_queue_url=env.get("JOBS_QUEUE_URL", ""),
        backup_limit_per_hour=int(env.get("BACKUP_LIMIT_PER_HOUR", "3")),
        restore_quiesce_seconds=int(env.get("RESTORE_QUIESCE_SECONDS", "90")),
        offboard_grace_seconds=int(env.get("OFFBOARD_GRACE_SECONDS", "900")),
        app_version=env.get("APP_VERSION", "dev"),
        mail_from=env.get("MAIL_FROM", "no-reply@crmerp.example"),
        public_url=env.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        tenant_role_arn=env.get("TENANT_ROLE_ARN", ""),
        operator_pool_id=env.get("OPERATOR_POOL_ID", ""),
        operator_client_id=env.get("OPERATOR_CLIENT_ID", ""),
        operator_jwks_url=env.get("OPERATOR_JWKS_URL")
        or (
            f"https://cognito-idp.{region}.amazonaws.com/{env['OPERATOR_POOL_ID']}/.well-known/jwks.json"
            if env.get("OPERATOR_POOL_ID")
            else ""
        ),
    )
