"""The company files in S3 (backups, a job's upload and output): one bucket, KMS-encrypted, each
company's under ``tenants/<tenant>/`` (keys built in core/keys.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.core import aws
from chalicelib.core.config import settings

EXPIRES_30_DAYS = "expires=30d"  # the tag the bucket's lifecycle expires after 30 days


class UploadGone(Exception):
    """A multipart upload that is no longer open (completed, or aborted by the lifecycle rule)."""


def _gone(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "NoSuchUpload"


def _encrypted() -> dict[str, str]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings().data_key_id}


def start_upload(key: str) -> str:
    answer = aws.s3().create_multipart_upload(
        Bucket=settings().backup_bucket, Key=key, ContentType="application/gzip", **_encrypted()
    )
    return str(answer["UploadId"])


def still_open(key: str, upload_id: str) -> None:
    """Raise UploadGone unless the multipart upload is still open (one ListParts)."""
    try:
        aws.s3().list_parts(Bucket=settings().backup_bucket, Key=key, UploadId=upload_id, MaxParts=1)
    except Exception as exc:
        if _gone(exc):
            raise UploadGone(upload_id) from exc
        raise


def upload_part(key: str, upload_id: str, number: int, body: Any) -> str:
    try:
        answer = aws.s3().upload_part(
            Bucket=settings().backup_bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
    except Exception as exc:
        if _gone(exc):
            raise UploadGone(upload_id) from exc
        raise
    return str(answer["ETag"])


def complete_upload(key: str, upload_id: str, parts: list[dict[str, Any]]) -> str:
    try:
        answer = aws.s3().complete_multipart_upload(
            Bucket=settings().backup_bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p["n"], "ETag": p["etag"]} for p in parts]},
        )
    except Exception as exc:
        if _gone(exc):
            raise UploadGone(upload_id) from exc
        raise
    return str(answer.get("VersionId") or "")


def put_object(key: str, body: bytes, content_type: str, tags: str = "") -> str:
    extra = {"Tagging": tags} if tags else {}
    answer = aws.s3().put_object(
        Bucket=settings().backup_bucket, Key=key, Body=body, ContentType=content_type, **_encrypted(), **extra
    )
    return str(answer.get("VersionId") or "")


def put_file(key: str, body: Any, content_type: str, tags: str = "") -> None:
    """A file (open, from its start) as one object, streamed from disk."""
    extra = {"Tagging": tags} if tags else {}
    aws.s3().put_object(
        Bucket=settings().backup_bucket, Key=key, Body=body, ContentType=content_type, **_encrypted(), **extra
    )


def open_object(key: str, version: str = "") -> Any:
    """The object's body as a stream (read in chunks: memory stays flat)."""
    extra = {"VersionId": version} if version else {}
    return aws.s3().get_object(Bucket=settings().backup_bucket, Key=key, **extra)["Body"]


def read_object(key: str, version: str = "") -> bytes:
    return bytes(open_object(key, version).read())


def object_size(key: str) -> int | None:
    """The object's size, or None when there is none."""
    from botocore.exceptions import ClientError

    try:
        return int(aws.s3().head_object(Bucket=settings().backup_bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def remove_object(key: str) -> None:
    aws.s3().delete_object(Bucket=settings().backup_bucket, Key=key)


def download_url(key: str, filename: str, seconds: int, version: str = "") -> str:
    params = {
        "Bucket": settings().backup_bucket,
        "Key": key,
        "ResponseContentDisposition": f'attachment; filename="{filename}"',
    }
    if version:
        params["VersionId"] = version
    return str(aws.s3().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds))


def upload_url(key: str, content_type: str, seconds: int) -> str:
    params = {"Bucket": settings().backup_bucket, "Key": key, "ContentType": content_type, **_encrypted()}
    return str(aws.s3().generate_presigned_url("put_object", Params=params, ExpiresIn=seconds))
