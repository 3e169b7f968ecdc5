"""The Cognito user pool: users, passwords and tokens. The only module that calls cognito-idp."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import aws
from chalicelib.core.config import settings
from chalicelib.core.errors import AuthenticationError, ValidationError
from chalicelib.core.tokens import TENANT_CLAIM


def _code(exc: ClientError) -> str:
    return str(exc.response["Error"]["Code"])


def _password_error(field: str, exc: ClientError) -> ValidationError:
    message = exc.response["Error"].get("Message", "password does not meet the policy")
    return ValidationError(
        f"The password does not meet the policy: {message}",
        errors=[{"loc": ["body", field], "msg": message, "type": "password_policy"}],
    )


class EmailTakenError(Exception):
    """The address already has a user; who and which company is for the service, never the client."""

    def __init__(self, user_id: str, tenant_id: str | None) -> None:
        super().__init__("the address already has a user")
        self.user_id = user_id
        self.tenant_id = tenant_id


def _attribute(attributes: list[dict[str, str]], name: str) -> str | None:
    return next((a["Value"] for a in attributes if a["Name"] == name), None)


def _user(email: str) -> dict[str, Any] | None:
    try:
        return dict(aws.cognito().admin_get_user(UserPoolId=settings().user_pool_id, Username=email))
    except ClientError as exc:
        if _code(exc) == "UserNotFoundException":
            return None
        raise


def create_user(email: str, tenant_id: str, password: str | None, password_field: str = "password") -> str:
    """Create a user of ``tenant_id``; with a password it is permanent, else Cognito mails an invitation.

    Returns the user's immutable id (the ``sub``); raises EmailTakenError when the address has a user.
    """
    idp = aws.cognito()
    pool = settings().user_pool_id
    params: dict[str, Any] = {
        "UserPoolId": pool,
        "Username": email,
        "UserAttributes": [
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": TENANT_CLAIM, "Value": tenant_id},
        ],
        "DesiredDeliveryMediums": ["EMAIL"],
    }
    if password is not None:
        params["MessageAction"] = "SUPPRESS"
    try:
        user = idp.admin_create_user(**params)["User"]
    except ClientError as exc:
        if _code(exc) == "UsernameExistsException":
            existing = _user(email) or {}
            attributes = existing.get("UserAttributes", [])
            raise EmailTakenError(
                _attribute(attributes, "sub") or "", _attribute(attributes, TENANT_CLAIM)
            ) from exc
        raise
    user_id = str(_attribute(user["Attributes"], "sub"))
    if password is not None:
        try:
            idp.admin_set_user_password(UserPoolId=pool, Username=email, Password=password, Permanent=True)
        except ClientError as exc:
            idp.admin_delete_user(UserPoolId=pool, Username=email)
            if _code(exc) == "InvalidPasswordException":
                raise _password_error(password_field, exc) from exc
            raise
    return user_id


def _is_identity_of(email: str, user_id: str) -> bool:
    """Whether the pool's user of ``email`` is this member (an invitation of an address that
    belongs to another company made a member with an id of its own, and no user)."""
    user = _user(email)
    return user is not None and _attribute(user.get("UserAttributes", []), "sub") == user_id


def delete_user(email: str, user_id: str) -> None:
    """Delete the member's user from the pool, if it has one: never another company's user."""
    if not _is_identity_of(email, user_id):
        return
    try:
        aws.cognito().admin_delete_user(UserPoolId=settings().user_pool_id, Username=email)
    except ClientError as exc:
        if _code(exc) != "UserNotFoundException":
            raise


def set_enabled(email: str, user_id: str, enabled: bool) -> None:
    """Enable or disable the member's user in the pool, if it has one: never another company's user."""
    if not _is_identity_of(email, user_id):
        return
    idp = aws.cognito()
    call = idp.admin_enable_user if enabled else idp.admin_disable_user
    call(UserPoolId=settings().user_pool_id, Username=email)
    if not enabled:
        # Refresh tokens stop working at once; ID tokens are refused by the membership check.
        try:
            idp.admin_user_global_sign_out(UserPoolId=settings().user_pool_id, Username=email)
        except ClientError:
            pass


def _tokens(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "id_token": result["IdToken"],
        "access_token": result["AccessToken"],
        "refresh_token": result.get("RefreshToken"),
        "expires_in": int(result["ExpiresIn"]),
        "token_type": "Bearer",
    }


def login(email: str, password: str, *, operator: bool = False) -> dict[str, Any]:
    """Server-side sign-in (AdminInitiateAuth): the pool's client allows no other password flow,
    so every password is tried here, behind the API's rate limit. ``operator``: in the platform
    operators' pool (our staff) instead of the companies' users'."""
    conf = settings()
    if operator and not conf.operator_pool_id:
        raise AuthenticationError("The email or password is wrong, or the user is disabled.")
    try:
        answer = aws.cognito().admin_initiate_auth(
            UserPoolId=conf.operator_pool_id if operator else conf.user_pool_id,
            ClientId=conf.operator_client_id if operator else conf.user_pool_client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except ClientError as exc:
        if _code(exc) in {"NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException"}:
            raise AuthenticationError("The email or password is wrong, or the user is disabled.") from exc
        raise
    if "AuthenticationResult" not in answer:
        raise AuthenticationError(
            f"Sign-in needs a further step ({answer.get('ChallengeName')}); finish the invitation first.",
            challenge=answer.get("ChallengeName"),
        )
    return _tokens(answer["AuthenticationResult"])


def refresh(refresh_token: str) -> dict[str, Any]:
    """A refresh token for new tokens (the client's one public flow: it guesses no password)."""
    try:
        answer = aws.cognito().initiate_auth(
            ClientId=settings().user_pool_client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    except ClientError as exc:
        if _code(exc) in {"NotAuthorizedException", "UserNotFoundException"}:
            raise AuthenticationError("The refresh token is not valid any more; log in again.") from exc
        raise
    return _tokens(answer["AuthenticationResult"])
