"""A company's items as a backup object, and back: the walk over its partitions (Query only), the
writer (gzip JSON Lines, multipart upload, a part at a time from a file on disk so that memory stays
flat), the reader that checks an object against its manifest.

Each line is ``{"family": ..., "item": {...}}``: the item in DynamoDB's typed JSON (``{"S": ...}``,
numbers as their exact decimal text), its family being what the manifest counts it as. Gzip members
concatenate, so each part is a member of its own and the object is one gzip stream to any reader.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from chalicelib.backups import repository
from chalicelib.core import files, keys
from chalicelib.jobs.jobs import JobFailed

FORMAT = "crmerp-backup/1"
SCHEMA_VERSION = "1"  # of the items' layout (core/keys.py): a restore refuses another major
PART_BYTES = 8 * 1024 * 1024  # a part is uploaded once its file holds this much (S3's minimum: 5 MiB)
MIN_PART_BYTES = 5 * 1024 * 1024
STEP_ITEMS = 50_000  # items one step of a job reads or writes at most (well inside Lambda's time)
CHUNK = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Mark:
    """A place in the walk: partition ``index`` of the catalogue, after the item keyed ``last``."""

    index: int
    last: dict[str, Any] | None


def walk(
    tenant_id: str,
    shapes: Iterable[keys.TypeShape],
    mark: Mark,
    *,
    restorable_only: bool,
    include: Callable[[keys.Partition], bool] | None = None,
) -> Iterator[tuple[str, dict[str, Any]] | Mark]:
    """The company's items from ``mark`` on, partition by partition in catalogue order, each record
    followed by the partitions it owns; a ``Mark`` after each record (and its own partitions) says
    where to go on from. Only Query: the catalogue names every partition (core/keys.py).
    ``include``: only the catalogue's partitions it accepts (with the partitions their records own)."""
    catalogue = keys.partitions(tenant_id, list(shapes))
    for index in range(mark.index, len(catalogue)):
        partition = catalogue[index]
        if (restorable_only and not partition.restorable) or (include is not None and not include(partition)):
            continue
        start = mark.last if index == mark.index else None
        while True:
            page, start = repository.query(partition.pk, start)
            for item in page:
                sort_key = item["sk"]["S"]
                if not restorable_only or keys.restorable(partition, sort_key):
                    yield partition.family, item
                if partition.parent:
                    for owned in keys.owned_by(tenant_id, partition.parent, sort_key):
                        if restorable_only and not owned.restorable:
                            continue
                        for child in repository.every_item(owned.pk):
                            yield owned.family, child
                yield Mark(index, {"pk": item["pk"], "sk": item["sk"]})
            page = []  # let go of it before the next is read: a walk holds one page at a time
            if not start:
                break
        yield Mark(index + 1, None)


def remove(
    tenant_id: str,
    shapes: Iterable[keys.TypeShape],
    mark: Mark,
    *,
    restorable_only: bool,
    include: Callable[[keys.Partition], bool] | None = None,
    spare: dict[str, str] | None = None,
    parts: Callable[[str, dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> tuple[Mark, int, bool]:
    """Delete the company's items the walk (same arguments) finds from ``mark`` on, a step's worth;
    where to go on from, how many went, and whether the walk reached the end. Each record's group
    (the record, the partitions it owns, the items ``parts`` says only it leads to) is deleted
    owned-first, so a step cut short never leaves an item without the record that leads to it.
    ``spare``: one item left where it is (the job's own)."""
    pending: list[dict[str, Any]] = []
    group: list[dict[str, Any]] = []
    removed = 0
    for entry in walk(tenant_id, shapes, mark, restorable_only=restorable_only, include=include):
        if isinstance(entry, Mark):
            mark = entry
            pending.extend(reversed(group))
            group = []
            if len(pending) >= repository.WRITE_BATCH:
                repository.delete_keys(pending)
                pending = []
            if removed >= STEP_ITEMS:
                repository.delete_keys(pending)
                return mark, removed, False
            continue
        family, item = entry
        if spare is not None and (item["pk"]["S"], item["sk"]["S"]) == (spare["pk"], spare["sk"]):
            continue
        group.append({"pk": item["pk"], "sk": item["sk"]})
        removed += 1
        if parts is not None:
            more = parts(family, item)
            group.extend(more)
            removed += len(more)
    pending.extend(reversed(group))
    repository.delete_keys(pending)
    return mark, removed, True


def line(family: str, item: dict[str, Any]) -> bytes:
    return (
        json.dumps({"family": family, "item": item}, sort_keys=True, separators=(",", ":"), default=_binary)
        + "\n"
    ).encode()


def _binary(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):  # a B attribute: base64, as DynamoDB JSON writes it
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot write {type(value).__name__} to a backup")


def item_of(record: dict[str, Any]) -> dict[str, Any]:
    """A line's item as BatchWriteItem takes it (base64 of a B attribute back to bytes)."""
    item: dict[str, Any] = record["item"]
    for name, value in item.items():
        if "B" in value:
            item[name] = {"B": base64.b64decode(value["B"])}
    return item


# ---- writing ----------------------------------------------------------------------------------------
class PartFile:
    """The part being written: a gzip member in a file on disk (memory holds a chunk, not a part)."""

    def __init__(self, carried: IO[bytes] | None = None) -> None:
        self.file: IO[bytes] = tempfile.TemporaryFile()  # closed by upload/close
        if carried is not None:
            while chunk := carried.read(CHUNK):
                self.file.write(chunk)
        self._gzip: gzip.GzipFile | None = None

    def write(self, data: bytes) -> None:
        if self._gzip is None:
            self._gzip = gzip.GzipFile(fileobj=self.file, mode="wb", compresslevel=6, mtime=0)
        self._gzip.write(data)

    def size(self) -> int:
        return self.file.tell()

    def seal(self) -> IO[bytes]:
        """The part's bytes, the gzip member ended, from the start."""
        if self._gzip is not None:
            self._gzip.close()
            self._gzip = None
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        self.file.close()


def checksum(key: str, version: str = "") -> tuple[str, int]:
    """SHA-256 and size of an object as stored, read in chunks."""
    digest, size = hashlib.sha256(), 0
    body = files.open_object(key, version)
    while chunk := body.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def read_lines(key: str, version: str = "") -> Iterator[dict[str, Any]]:
    """The object's lines, decoded, in order (streamed: memory stays flat)."""
    with gzip.GzipFile(fileobj=_Reader(files.open_object(key, version)), mode="rb") as unzipped:
        for raw in io.BufferedReader(unzipped, CHUNK):
            yield json.loads(raw)


class _Reader(io.RawIOBase):
    """An S3 body as a file gzip can read."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def verify(manifest: dict[str, Any], key: str, version: str) -> None:
    """The object against its manifest, read through: its checksum and size, then every line
    readable and the items per family counted. Raises JobFailed saying what is wrong."""
    digest, size = checksum(key, version)
    if size != manifest["bytes"]:
        raise JobFailed(
            f"The backup's data object is {size} bytes, its manifest says {manifest['bytes']}: "
            "it was truncated or replaced; nothing was changed."
        )
    if digest != manifest["sha256"]:
        raise JobFailed(
            f"The backup's data object has SHA-256 {digest}, its manifest says {manifest['sha256']}: "
            "it was altered; nothing was changed."
        )
    counts: dict[str, int] = {}
    try:
        for record in read_lines(key, version):
            counts[record["family"]] = counts.get(record["family"], 0) + 1
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise JobFailed(f"The backup's data cannot be read ({exc}); nothing was changed.") from exc
    if counts != manifest["counts"]:
        raise JobFailed("The backup's items do not match its manifest's counts; nothing was changed.")
