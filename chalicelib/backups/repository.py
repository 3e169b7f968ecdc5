"""The backups' DynamoDB and S3 calls. Items travel in DynamoDB's own typed JSON (``{"S": ...}``)
from Query to the backup and back to BatchWriteItem, so a restore writes exactly what was read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from chalicelib.core import aws, keys
from chalicelib.core.config import settings

WRITE_BATCH = 25  # BatchWriteItem's limit


def query(
    partition: str, start: dict[str, Any] | None, limit: int = 1000
) -> tuple[list[dict[str, Any]], Any]:
    """One page of a partition's items, typed, in key order (Query, never Scan); and the key to go
    on from (None at the end)."""
    params: dict[str, Any] = {
        "TableName": settings().table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": partition}},
        "Limit": limit,
    }
    if start:
        params["ExclusiveStartKey"] = start
    answer = aws.dynamodb_wire().query(**params)
    return answer.get("Items", []), answer.get("LastEvaluatedKey")


def every_item(partition: str) -> Iterator[dict[str, Any]]:
    """Every item of a partition (a record's own: a timeline), page by page."""
    start = None
    while True:
        items, start = query(partition, start)
        yield from items
        if not start:
            return


def _batch_write(requests: list[dict[str, Any]]) -> None:
    client = aws.dynamodb_wire()
    table = settings().table_name
    for at in range(0, len(requests), WRITE_BATCH):
        pending = {table: requests[at : at + WRITE_BATCH]}
        delay = 0.05
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)


def put_items(items: list[dict[str, Any]]) -> None:
    """Write typed items as they are (a put replaces what is there: repeating it is harmless)."""
    _batch_write([{"PutRequest": {"Item": i}} for i in items])


def delete_keys(key_list: list[dict[str, Any]]) -> None:
    """Delete typed keys (deleting what is gone already is harmless)."""
    _batch_write([{"DeleteRequest": {"Key": k}} for k in key_list])


# ---- S3 -----------------------------------------------------------------------------------------
def _encrypted() -> dict[str, str]:
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": settings().data_key_id}


def start_upload(key: str, tags: str = "") -> str:
    """A multipart upload begun (``tags``: the object's, as ``k=v&k2=v2``, given when it completes)."""
    extra = {"Tagging": tags} if tags else {}
    answer = aws.s3().create_multipart_upload(
        Bucket=settings().backup_bucket, Key=key, ContentType="application/gzip", **_encrypted(), **extra
    )
    return str(answer["UploadId"])


def upload_part(key: str, upload_id: str, number: int, body: Any) -> str:
    answer = aws.s3().upload_part(
        Bucket=settings().backup_bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
    )
    return str(answer["ETag"])


def complete_upload(key: str, upload_id: str, parts: list[dict[str, Any]]) -> str:
    answer = aws.s3().complete_multipart_upload(
        Bucket=settings().backup_bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": p["n"], "ETag": p["etag"]} for p in parts]},
    )
    return str(answer.get("VersionId") or "")


def put_object(key: str, body: bytes, content_type: str, tags: str = "") -> str:
    extra = {"Tagging": tags} if tags else {}
    answer = aws.s3().put_object(
        Bucket=settings().backup_bucket, Key=key, Body=body, ContentType=content_type, **_encrypted(), **extra
    )
    return str(answer.get("VersionId") or "")


def open_object(key: str, version: str = "") -> Any:
    """The object's body as a stream (read in chunks: memory stays flat)."""
    extra = {"VersionId": version} if version else {}
    return aws.s3().get_object(Bucket=settings().backup_bucket, Key=key, **extra)["Body"]


def read_object(key: str, version: str = "") -> bytes:
    return bytes(open_object(key, version).read())


def object_size(key: str) -> int | None:
    try:
        return int(aws.s3().head_object(Bucket=settings().backup_bucket, Key=key)["ContentLength"])
    except aws.s3().exceptions.ClientError:
        return None


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


# ---- the backup records ----------------------------------------------------------------------------
def backup_done(tenant_id: str, backup_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The Update (its body) that completes a backup record with what the manifest says."""
    names = {f"#f{n}": name for n, name in enumerate(fields)}
    values = {f":v{n}": value for n, value in enumerate(fields.values())}
    return {
        "Key": keys.backup(tenant_id, backup_id),
        "UpdateExpression": "SET " + ", ".join(f"#f{n} = :v{n}" for n in range(len(fields))),
        "ConditionExpression": "attribute_exists(pk)",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def new_record() -> dict[str, str]:
    return {"ConditionExpression": "attribute_not_exists(pk)"}
