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


def start_upload(key: str, tags: str = "") -> str:
    """A multipart upload begun (``tags``: the object's, as ``k=v&k2=v2``, given when it completes)."""
    extra = {"Tagging": tags} if tags else {}
    answer = aws.s3().create_multipart_upload(
        Bucket=settings().backup_bucket, Key=key, ContentType="application/gzip", **_encrypted(), **extra
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


def object_versions(prefix: str) -> tuple[list[dict[str, str]], bool]:
    """The first page (up to 1,000) of the versions and delete markers of the objects under
    ``prefix``, as ``{"key", "version"}``; and whether there are more."""
    answer = aws.s3().list_object_versions(Bucket=settings().backup_bucket, Prefix=prefix)
    found = [
        {"key": v["Key"], "version": v["VersionId"]}
        for kind in ("Versions", "DeleteMarkers")
        for v in answer.get(kind, [])
    ]
    return found, bool(answer.get("IsTruncated"))


def remove_versions(versions: list[dict[str, str]]) -> None:
    """Delete these object versions for good (not a delete marker: the bytes are gone)."""
    for at in range(0, len(versions), 1000):
        objects = [{"Key": v["key"], "VersionId": v["version"]} for v in versions[at : at + 1000]]
        answer = aws.s3().delete_objects(
            Bucket=settings().backup_bucket, Delete={"Objects": objects, "Quiet": True}
        )
        if answer.get("Errors"):
            error = answer["Errors"][0]
            raise RuntimeError(
                f"S3 refused to delete {error.get('Key')}: {error.get('Code')} {error.get('Message')}"
            )


def abort_uploads(prefix: str) -> int:
    """Abort the unfinished multipart uploads under ``prefix`` (their parts go); how many."""
    s3, bucket = aws.s3(), settings().backup_bucket
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    for upload in uploads:
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return len(uploads)


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
