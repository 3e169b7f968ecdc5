"""Import from and export to CSV as Excel writes and reads it: the engine, for any record type that
gives a ``Spec`` (the CRM's customers, contacts and leads in ``crm.imports``, the ERP's products in
``erp.imports``).

Import decodes UTF-8 (with or without BOM) or GB18030 (a superset of GBK, what Chinese Excel writes
by default) and maps the columns (English field names or the usual Chinese headers). The file is
read as a stream, a row at a time: rows are counted as they come (past 20,000 the import stops with a
400 and writes nothing), a bad cell (over 128 KiB, only separators, a customer code that cannot be
one) is a row error, and each row is validated at once with the API's own models and kept as compact
JSON, so memory follows the rows kept, not the file's shape. Then rows are upserted on the entity's
key (a customer's code, a product's SKU, a contact's or lead's email), a hundred at a time: a stored
record changes by its service's own rule (``changes``, the function PATCH uses) with only what the
row says; a new one is validated with the create model. Bad rows are reported with row number,
field and reason, and change nothing; good rows are written in transactions of up to 100 items (one
row per transaction again if a chunk meets a conflict). ``dry_run`` validates and counts without
writing.

Export writes UTF-8 with a BOM, so that Excel opens Chinese text right, and neutralises the cells
Excel would run as formulas (OWASP's rule: a leading apostrophe); import takes that apostrophe off
again, so an export re-imports to exactly the same data.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import re
from array import array
from collections.abc import Callable
from typing import IO, Any, Protocol

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from chalicelib.core import entities, keys
from chalicelib.core.entities import Change, EntityType
from chalicelib.core.errors import ApiError, BadRequestError
from chalicelib.core.store import Actor, ConditionFailed, Op, Operations, Store, folded_into

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# Rows one request writes at most: well inside API Gateway's 29 s (a dry run reads up to MAX_ROWS);
# more go through an import job (POST /import/{entity}/jobs).
MAX_WRITE_ROWS = 2_000
MAX_CELL = 128 * 1024  # characters in one cell; a longer one is a row error
MAX_ROW = 1024 * 1024  # characters in one row; the rest of a longer one is skipped unread (a row error)
MAX_ERRORS = 1_000  # row errors listed, the first by row (``failed`` counts every failed row)
MAX_TRANSACTION = 100  # DynamoDB's limit of items in one TransactWriteItems
BATCH = 100  # rows whose stored records are read (one BatchGetItem) and decided together
BOM = b"\xef\xbb\xbf"

# The csv module's own limit on a cell (128 KiB) raises in the middle of a row and loses the reader's
# place in a quoted cell; ``Lines`` bounds a row (and so a cell) instead, and MAX_CELL is checked per
# cell, as a row error naming the column.
csv.field_size_limit(max(csv.field_size_limit(), MAX_ROW + 1))


@dataclasses.dataclass(slots=True)
class RowError:
    row: int
    field: str
    reason: str


class RowErrors:
    """An import's row errors: every failed row counted, the first ``MAX_ERRORS`` (by row) kept."""

    def __init__(self, keep_all: bool = False) -> None:
        self.failed: set[int] = set()
        self._kept: list[RowError] = []
        self._keep_all = keep_all  # a job's: each goes to its own item

    def add(self, row: int, field: str, reason: str) -> None:
        self.failed.add(row)
        self._kept.append(RowError(row, field, reason))
        if not self._keep_all and len(self._kept) > 2 * MAX_ERRORS:
            self._kept.sort(key=lambda e: e.row)  # stable: a row's errors keep their order
            del self._kept[MAX_ERRORS:]

    def every(self) -> list[RowError]:
        return self._kept

    def listed(self) -> list[dict[str, Any]]:
        self._kept.sort(key=lambda e: e.row)
        return [dataclasses.asdict(e) for e in self._kept[:MAX_ERRORS]]


# A record type's rule for a change (its service's ``changes``, which PATCH uses too).
Decide = Callable[[Store, Actor, dict[str, Any], Any], dict[str, Any]]


class DuplicateCheck(Protocol):
    """Probable duplicates among the new records of one import (stored ones and earlier rows)."""

    def of(self, number: int, fields: dict[str, Any]) -> RowError | None: ...


@dataclasses.dataclass(frozen=True)
class CodeReference:
    """Rows name a record of another type by its code in one column (a contact's customer): the
    code is checked with ``code`` as the row is read, and ``resolve`` gives the ids of the codes."""

    column: str  # "customer_code"
    field: str  # the id field it fills: "customer_id"
    label: str  # "customer"
    code: TypeAdapter[str]
    resolve: Callable[[Store, str, list[str]], dict[str, str]]  # codes (upper case) → ids


@dataclasses.dataclass
class Spec:
    et: EntityType
    create_model: type[BaseModel]
    patch_model: type[BaseModel]
    decide: Decide
    key_field: str  # the upsert key among the model's fields: "code", "sku" or "email"
    to_body: Callable[[dict[str, str]], dict[str, Any]]  # what a row says (only its columns and cells)
    new_fields: Callable[[dict[str, Any], Actor], dict[str, Any]]
    export_columns: tuple[str, ...]
    to_row: Callable[[dict[str, Any]], dict[str, str]]
    aliases: dict[str, str]  # every header this entity knows (lower case) → its field
    permission: str  # the resource whose create and update an import needs: "crm.customers"
    create_defaults: dict[str, Any] = dataclasses.field(
        default_factory=dict
    )  # for a new record's empty cells
    reference: CodeReference | None = None  # rows name another record by its code
    # New records that are probably stored ones (customers): a check per import, skipped on request.
    duplicates: Callable[[Store, str, int], DuplicateCheck] | None = None


GUARDED = ("code", "sku")  # upsert keys held by unique guards (the others are email lookups)
LISTS = ("phone", "email", "tags")  # columns holding several values separated by ";"


# ---- cells ----------------------------------------------------------------------------------------
# OWASP's rule against CSV injection: a cell starting with one of these is a formula to Excel (or
# LibreOffice), so the export puts an apostrophe before it, and before a leading apostrophe of the
# data itself, so that the import can take exactly one off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Left as they are: numbers and phone numbers (several separated by ";"). With no letter in them,
# Excel can at worst compute arithmetic: no function, no reference to a cell, another file or DDE.
_HARMLESS = re.compile(r"[+-]?[0-9][0-9 ()./+-]*(;[+-]?[0-9][0-9 ()./+-]*)*")


def neutralise(cell: str) -> str:
    """A cell as the export writes it: shown by spreadsheets as text, never run."""
    if cell.startswith(("'", *FORMULA_START)) and not _HARMLESS.fullmatch(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """A cell as the import reads it: what ``neutralise`` added taken off."""
    if cell[:1] == "'" and cell[1:2] in ("'", *FORMULA_START):
        return cell[1:]
    return cell


def _text(raw: bytes, encoding: str | None) -> tuple[io.TextIOWrapper, str]:
    """The file as a stream of text, and the name of the encoding it is read with. Each candidate is
    checked first with an incremental decoder (a 64 KiB piece at a time), so that a file that is not
    what it says is a 400 before any row is read, and no copy of the whole text is ever made."""
    start = len(BOM) if raw.startswith(BOM) else 0
    candidates = ["utf-8"] if start else [encoding] if encoding else ["utf-8", "gb18030"]
    failures = []
    for name in candidates:
        bad = _undecodable(raw, start, name)
        if bad is None:
            stream = io.BytesIO(raw)
            stream.seek(start)
            return io.TextIOWrapper(stream, encoding=name, newline=""), "utf-8-sig" if start else name
        failures.append({"loc": ["body"], "msg": f"not {name} text near byte {bad}", "type": "encoding"})
    bom = " (it starts with UTF-8's byte order mark)" if start else ""
    raise BadRequestError(
        f"The file is not {' or '.join(candidates)} text{bom}: {failures[-1]['msg']}. Save it as CSV (UTF-8), or name its "
        "encoding.",
        errors=failures,
    )


def _undecodable(raw: bytes, start: int, encoding: str) -> int | None:
    """About where ``raw`` stops being ``encoding`` text (None: it all is)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view, step = memoryview(raw), 64 * 1024
    for at in range(start, len(raw), step):
        try:
            decoder.decode(view[at : at + step])
        except UnicodeDecodeError as exc:
            return at + exc.start
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return len(raw)
    return None


def aliases(by_field: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Headers as people write them (field → its names) as a Spec's ``aliases`` (header → field)."""
    return {name.strip().lower(): field for field, names in by_field.items() for name in names}


def _columns(header: list[str], known: dict[str, str]) -> dict[str, str]:
    """Our field for each header that we know; the others are ignored and reported."""
    return {h: known[h.strip().lower()] for h in header if h.strip().lower() in known}


def split(value: str) -> list[str]:
    """The values of a cell holding several (phones, emails, tags), separated by ";" or ","."""
    return [part.strip() for part in value.replace("；", ";").replace(",", ";").split(";") if part.strip()]


def given(row: dict[str, str], fields: tuple[str, ...]) -> dict[str, str]:
    """The row's cells for these fields, but the empty ones (an empty cell changes nothing)."""
    return {f: row[f] for f in fields if row.get(f, "").strip()}


def _key_value(spec: Spec, body: dict[str, Any]) -> str | None:
    if spec.key_field in GUARDED:
        return str(body[spec.key_field]).upper() if body.get(spec.key_field) else None
    emails = body.get("emails") or ([{"address": body["email"]}] if body.get("email") else [])
    return emails[0]["address"].lower() if emails else None


# ---- reading: a row at a time ----------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class Row:
    """A row read and validated: what it says, as the JSON of its patch model (compact enough to
    hold 20,000 of), its upsert key, and the code of the record it names (a contact's customer)."""

    number: int
    body: str
    key: str | None
    code: str | None


def _pydantic_errors(spec: Spec, errors: RowErrors, number: int, exc: PydanticValidationError) -> None:
    ref = spec.reference
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "row"
        if ref and field == ref.field:
            errors.add(number, ref.column, f"no {ref.label} has this code")
        else:
            errors.add(number, field, err["msg"])


class RowTooLongError(Exception):
    """A row past ``MAX_ROW`` characters, skipped; ``column`` is the cell that passed it."""

    def __init__(self, column: int) -> None:
        super().__init__(f"row too long at column {column}")
        self.column = column


_QUOTE_OR_COMMA = re.compile(r'[",]')


class Lines:
    """The text's lines for the csv reader, with the row they make bounded: once a row passes
    ``MAX_ROW`` characters, the rest of it is read a piece at a time and dropped, up to the line end
    outside quotes that ends it, and the reader gets ``RowTooLongError`` (it starts afresh on the next
    call). So no string or csv buffer ever holds more than a row's worth of the file."""

    def __init__(self, stream: io.TextIOWrapper) -> None:
        self.stream = stream
        self.row: list[str] = []  # the current row's lines so far
        self.size = 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        line = self.stream.readline(MAX_ROW - self.size + 1)
        if not line:
            raise StopIteration
        self.row.append(line)
        if len(self.row) > 1024:  # a quoted cell over many short lines: one string, not many small ones
            self.row[:] = ["".join(self.row)]
        self.size += len(line)
        if self.size > MAX_ROW:
            text = "".join(self.row)
            column, quoted = 0, False
            for mark in _QUOTE_OR_COMMA.finditer(text):
                if mark.group() == '"':
                    quoted = not quoted  # a doubled quote inside a quoted cell turns it twice
                elif not quoted:
                    column += 1
            while line and (quoted or not line.endswith(("\n", "\r"))):
                line = self.stream.readline(64 * 1024)
                quoted ^= line.count('"') % 2 == 1
            self.next_row()
            raise RowTooLongError(column)
        return line

    def next_row(self) -> None:
        """The reader has made a row of the lines given so far: the next line starts another."""
        self.row.clear()
        self.size = 0


def _read(
    stream: io.TextIOWrapper, spec: Spec, errors: RowErrors, max_rows: int = MAX_ROWS
) -> tuple[list[Row], list[str], int]:
    """The file's rows, each validated as it is read (bad ones go to ``errors``), the columns
    ignored, and the count of rows that are not blank. More than ``max_rows`` rows: a 400 as soon
    as the one too many is read."""
    lines = Lines(stream)
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
    except RowTooLongError:
        header = None
    if not header:
        raise BadRequestError(
            "The file is empty or its first row is not column names.",
            errors=[{"loc": ["body"], "msg": "the first row must name the columns", "type": "header"}],
        )
    lines.next_row()
    columns = _columns(header, spec.aliases)
    names = [columns.get(h, h.strip()) for h in header]  # what a row error calls each column
    ignored = [h for h in header if h not in columns and h.strip()]
    rows: list[Row] = []
    seen: dict[str, int] = {}
    count = 0
    number = 1
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except RowTooLongError as exc:
            cells = None
            column = names[exc.column] if exc.column < len(names) else f"column {exc.column + 1}"
        except csv.Error as exc:  # not expected from Excel's files; still a 400, never a 500
            raise BadRequestError(
                f"Row {number} cannot be read as CSV: {exc}.",
                errors=[{"loc": ["body"], "msg": f"row {number}: {exc}", "type": "csv"}],
            ) from exc
        lines.next_row()
        if cells is not None and not any(c.strip() for c in cells):
            continue
        count += 1
        if count > max_rows:
            raise BadRequestError(
                f"The file has more than {max_rows} rows; import at most {max_rows} rows at a time.",
                errors=[{"loc": ["body"], "msg": f"more than {max_rows} rows", "type": "too_long"}],
            )
        if cells is None:
            errors.add(
                number,
                column,
                f"the row is longer than 1 MiB ({MAX_ROW} characters); the cell limit is 128 KiB",
            )
            continue
        row = _row(number, header, names, columns, cells, errors)
        if row is None:
            continue
        code = None
        ref = spec.reference
        if ref and row.get(ref.column, "").strip():
            try:
                code = ref.code.validate_python(row[ref.column]).upper()
            except PydanticValidationError as exc:
                errors.add(number, ref.column, exc.errors(include_url=False)[0]["msg"])
                continue
        try:
            patch = spec.patch_model.model_validate(spec.to_body(row))
        except PydanticValidationError as exc:
            _pydantic_errors(spec, errors, number, exc)
            continue
        key = _key_value(spec, patch.model_dump(mode="json", include={"code", "sku", "email", "emails"}))
        if key:
            if key in seen:
                errors.add(number, spec.key_field, f"the same {spec.key_field} as row {seen[key]}")
                continue
            seen[key] = number
        rows.append(Row(number, patch.model_dump_json(exclude_unset=True), key, code))
    return rows, ignored, count


def _row(
    number: int,
    header: list[str],
    names: list[str],
    columns: dict[str, str],
    cells: list[str],
    errors: RowErrors,
) -> dict[str, str] | None:
    """The row's cells by field (an exported cell's apostrophe taken off); None when a cell is bad:
    longer than ``MAX_CELL``, or a list of phones, emails or tags that holds only separators."""
    bad = False
    for at, cell in enumerate(cells):
        if len(cell) > MAX_CELL:
            column = names[at] if at < len(names) else f"column {at + 1}"
            errors.add(number, column, f"longer than 128 KiB ({len(cell)} characters; at most {MAX_CELL})")
            bad = True
    if bad:
        return None
    row = {columns[h]: restore(cell) for h, cell in zip(header, cells, strict=False) if h in columns}
    for field in LISTS:
        if row.get(field, "").strip() and not split(row[field]):
            errors.add(number, field, "only separators, no value")
            bad = True
    return None if bad else row


# ---- deciding and writing, a hundred rows at a time --------------------------------------------------
def _existing_ids(store: Store, tenant_id: str, spec: Spec, values: list[str]) -> dict[str, str]:
    """The ids of the stored records by upsert key: code guards (BatchGetItem) or email lookups."""
    ids: dict[str, str] = {}
    if spec.key_field in GUARDED:
        for start in range(0, len(values), 100):
            chunk = values[start : start + 100]
            guards = store.batch_get(
                [keys.unique_guard(tenant_id, spec.et.name, spec.key_field, v) for v in chunk]
            )
            ids.update({g["sk"]: g["entity_id"] for g in guards})
    else:
        for value in values:
            page = entities.lookup(store, tenant_id, spec.et, "email", value, limit=1)
            if page.items:
                ids[value] = page.items[0]["id"]
    return ids


class FirstRows:
    """The row of the file where each point (a customer's name, an email, a phone) first came.

    Held in two flat arrays, a 64-bit hash and a row number (12 bytes a point, where a dict takes
    about 120), so that 20,000 rows of 21 points each take a few MB: open addressing with linear
    probing, at most half full. Two points whose hashes agree count as one (a chance in about 10^12
    for a full file)."""

    def __init__(self) -> None:
        self.hashes, self.rows, self.count = array("q", bytes(8 * 64)), array("i", bytes(4 * 64)), 0

    def _slot(self, hashed: int) -> int:
        mask = len(self.hashes) - 1
        slot = hashed & mask
        while self.hashes[slot] not in (0, hashed):
            slot = (slot + 1) & mask
        return slot

    @staticmethod
    def _hash(point: tuple[str, str]) -> int:
        return hash(point) or 1  # 0 marks an empty slot

    def get(self, point: tuple[str, str]) -> int | None:
        slot = self._slot(self._hash(point))
        return self.rows[slot] if self.hashes[slot] else None

    def add(self, point: tuple[str, str], row: int) -> None:
        if 2 * (self.count + 1) > len(self.hashes):  # twice the size, every point moved over
            hashes, rows = self.hashes, self.rows
            self.hashes, self.rows = array("q", bytes(16 * len(hashes))), array("i", bytes(8 * len(rows)))
            for hashed, earlier in zip(hashes, rows, strict=True):
                if hashed:
                    slot = self._slot(hashed)
                    self.hashes[slot], self.rows[slot] = hashed, earlier
        hashed = self._hash(point)
        slot = self._slot(hashed)
        if not self.hashes[slot]:
            self.hashes[slot], self.rows[slot] = hashed, row
            self.count += 1


def _over(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """A row's fields over the stored record's: an address changes only in the parts the file has."""
    if isinstance(body.get("address"), dict) and isinstance(current.get("address"), dict):
        return {**body, "address": {**current["address"], **body["address"]}}
    return body


def _field_of(exc: ApiError) -> str:
    """The field a refusal names (``errors`` or a ``field`` extension), for a row error."""
    for error in exc.errors or []:
        loc = [str(p) for p in error.get("loc", []) if p != "body"]
        if loc:
            return ".".join(loc)
    return str(exc.extra.get("field") or "row")


@dataclasses.dataclass
class Importer:
    """One import's decisions and writes: a row that updates goes through the record type's own
    rule for a change; a new one through the create model (and, for customers, the probable
    duplicates check)."""

    store: Store
    actor: Actor
    spec: Spec
    errors: RowErrors
    dry_run: bool
    duplicates: DuplicateCheck | None
    by_code: dict[str, str]
    created: int = 0
    updated: int = 0
    _pending: list[tuple[int, bool, Operations]] = dataclasses.field(default_factory=list)
    _size: int = 0  # the pending transaction's items: its requests and the items its counts fold into
    _folded: set[tuple[str, ...]] = dataclasses.field(default_factory=set)
    limit: int = MAX_TRANSACTION  # items of one transaction (a job's keeps one for its row mark)

    def row(self, row: Row, current: dict[str, Any] | None) -> None:
        body = json.loads(row.body)
        ref = self.spec.reference
        if ref and row.code:
            if row.code not in self.by_code:
                self.errors.add(row.number, ref.column, f"no {ref.label} has this code")
                return
            body[ref.field] = self.by_code[row.code]
        operations = self._update(row.number, body, current) if current else self._create(row.number, body)
        if operations is not None:
            self._add(row.number, current is None, operations)

    def _update(self, number: int, body: dict[str, Any], current: dict[str, Any]) -> Operations | None:
        spec = self.spec
        try:
            patch = spec.patch_model.model_validate(_over(body, current))
            change = Change(spec.decide(self.store, self.actor, current, patch), action="import")
            planned = None if self.dry_run else entities.versioned(self.actor, spec.et, current, change)
        except PydanticValidationError as exc:
            _pydantic_errors(spec, self.errors, number, exc)
            return None
        except ApiError as exc:
            self.errors.add(number, _field_of(exc), exc.detail)
            return None
        return planned.operations if planned else []

    def _create(self, number: int, body: dict[str, Any]) -> Operations | None:
        spec = self.spec
        try:
            data = spec.create_model.model_validate({**spec.create_defaults, **body})
        except PydanticValidationError as exc:
            _pydantic_errors(spec, self.errors, number, exc)
            return None
        fields = data.model_dump(mode="json")
        if "owner_id" in fields and "owner_id" not in data.model_fields_set:
            del fields["owner_id"]  # the entity's own default applies
        duplicate = self.duplicates.of(number, fields) if self.duplicates else None
        if duplicate:
            self.errors.add(duplicate.row, duplicate.field, duplicate.reason)
            return None
        if self.dry_run:
            return []
        item = entities.new_item(spec.et, self.actor, spec.new_fields(fields, self.actor))
        return entities.create_operations(spec.et, self.actor, item)

    def _add(self, number: int, creates: bool, operations: Operations) -> None:
        if not operations:  # a dry run's, or a change that changes nothing
            self._count(creates)
            return
        folds = {key for op in operations if (key := folded_into(op))}
        grows = sum(1 for op in operations if folded_into(op) is None) + len(folds - self._folded)
        if self._pending and self._size + grows > self.limit:
            self.flush()
            grows = sum(1 for op in operations if folded_into(op) is None) + len(folds)
        self._pending.append((number, creates, operations))
        self._size += grows
        self._folded |= folds

    def _count(self, creates: bool) -> None:
        if creates:
            self.created += 1
        else:
            self.updated += 1

    def flush(self) -> None:
        """Write the rows pending in one transaction; if it meets a conflict, a row at a time, to
        find the row that clashed."""
        pending, self._pending, self._size = self._pending, [], 0
        self._folded = set()
        if not pending:
            return
        try:
            self.store.transact([op for _, _, ops in pending for op in ops])
            done = pending
        except ConditionFailed:
            done = []
            for number, creates, ops in pending:
                try:
                    self.store.transact(ops)
                    done.append((number, creates, ops))
                except ConditionFailed:
                    self.errors.add(
                        number, self.spec.key_field, "changed or taken by someone else during the import"
                    )
        for _, creates, _ in done:
            self._count(creates)


def run_import(
    store: Store,
    actor: Actor,
    entity: str,
    spec: Spec,
    raw: bytes,
    *,
    dry_run: bool,
    encoding: str | None,
    allow_duplicates: bool = False,
) -> dict[str, Any]:
    stream, used = _text(raw, encoding)
    errors = RowErrors()
    rows, ignored, count = _read(stream, spec, errors)
    if not dry_run and len(rows) > MAX_WRITE_ROWS:
        raise BadRequestError(
            f"The file has {len(rows)} good rows; a request writes at most {MAX_WRITE_ROWS} (a dry run checks up to "
            f"{MAX_ROWS}). Import it as a job: POST /import/{entity}/jobs.",
            errors=[
                {"loc": ["body"], "msg": f"more than {MAX_WRITE_ROWS} rows to write", "type": "too_long"}
            ],
        )
    tenant_id = actor.tenant_id
    ids = _existing_ids(store, tenant_id, spec, [r.key for r in rows if r.key])
    codes = sorted({r.code for r in rows if r.code})
    by_code = spec.reference.resolve(store, tenant_id, codes) if spec.reference and codes else {}
    duplicates = None
    if spec.duplicates and not allow_duplicates:
        duplicates = spec.duplicates(store, tenant_id, sum(1 for r in rows if r.key not in ids))
    importer = Importer(store, actor, spec, errors, dry_run, duplicates, by_code)
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        stored = entities.get_many(store, tenant_id, spec.et, [ids[r.key] for r in batch if r.key in ids])
        by_id = {item["id"]: item for item in stored}
        for row in batch:
            importer.row(row, by_id.get(ids[row.key]) if row.key in ids else None)
    importer.flush()
    return {
        "entity": entity,
        "encoding": used,
        "dry_run": dry_run,
        "rows": count,
        "created": importer.created,
        "updated": importer.updated,
        "failed": len(errors.failed),
        "ignored_columns": ignored,
        "errors": errors.listed(),
    }


def export(store: Store, tenant_id: str, spec: Spec) -> bytes:
    """The whole collection as CSV, UTF-8 with a BOM (what Excel needs to show Chinese right), every
    cell that a spreadsheet would run as a formula neutralised."""
    out = io.BytesIO()
    export_to(out, store, tenant_id, spec)
    return out.getvalue()


def export_to(out: IO[bytes], store: Store, tenant_id: str, spec: Spec) -> int:
    """``export`` written to a binary file (a job's, on disk) a page at a time; the rows written."""
    out.write(BOM)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.DictWriter(text, fieldnames=list(spec.export_columns), lineterminator="\r\n")
    writer.writeheader()
    cursor, rows = None, 0
    while True:
        page = entities.list_page(store, tenant_id, spec.et, limit=100, cursor=cursor)
        for item in page.items:
            writer.writerow({column: neutralise(cell) for column, cell in spec.to_row(item).items()})
        rows += len(page.items)
        cursor = page.next_cursor
        if not cursor:
            break
    text.detach()  # the caller's file stays open
    return rows


# ---- an import as a job: resumable, each row written once ----------------------------------------
class Overtaken(Exception):
    """Another delivery of the job's step moved its row mark first: this one stops."""


@dataclasses.dataclass
class Marker:
    """An import job's row mark: every row numbered up to ``at`` is done (written, or failed with its
    error recorded). ``moved`` makes the Update that moves it, for the transaction of the rows it
    covers; ``record`` writes row errors (idempotent: one item per row)."""

    at: int
    moved: Callable[[int, int, dict[str, int]], dict[str, Any]]  # the Update (its body)
    record: Callable[[list[RowError]], None]


@dataclasses.dataclass
class MarkedImporter(Importer):
    """An Importer whose every transaction also moves the job's row mark, on the condition that it is
    where this step found it: a row is never written twice, whatever the redeliveries."""

    marker: Marker | None = None
    _free: list[bool] = dataclasses.field(default_factory=list)  # rows done with nothing to write
    _recorded: set[int] = dataclasses.field(default_factory=set)

    def _add(self, number: int, creates: bool, operations: Operations) -> None:
        if operations:
            super()._add(number, creates, operations)
        else:  # a dry run's row, or a change that changes nothing: counted with the next mark
            self._free.append(creates)
            self._count(creates)

    def move_to(self, row: int, operations: Operations, written: list[bool]) -> None:
        """Write ``operations`` (rows, ``written`` saying which create) and move the mark to ``row``
        in the same transaction, the row errors up to it recorded first."""
        marker = self.marker
        assert marker is not None
        errors = [e for e in self.errors.every() if marker.at < e.row <= row and e.row not in self._recorded]
        if errors:
            marker.record(errors)
            self._recorded.update(e.row for e in errors)
        tally = self._free + written
        counts = {
            "created": sum(tally),
            "updated": len(tally) - sum(tally),
            "failed": sum(1 for n in self.errors.failed if marker.at < n <= row),
        }
        try:
            self.store.transact([*operations, Op("job", {"Update": marker.moved(marker.at, row, counts)})])
        except ConditionFailed as exc:
            if exc.name == "job":
                raise Overtaken from exc
            raise
        self._free = []
        marker.at = row

    def flush(self) -> None:
        pending, self._pending, self._size = self._pending, [], 0
        self._folded = set()
        if not pending:
            return
        try:
            self.move_to(
                pending[-1][0], [op for _, _, ops in pending for op in ops], [c for _, c, _ in pending]
            )
            done = pending
        except ConditionFailed:  # a row clashed: a row at a time, to find it
            done = []
            for number, creates, ops in pending:
                try:
                    self.move_to(number, list(ops), [creates])
                    done.append((number, creates, ops))
                except ConditionFailed:
                    self.errors.add(
                        number, self.spec.key_field, "changed or taken by someone else during the import"
                    )
        for _, creates, _ in done:
            self._count(creates)


def import_step(
    store: Store,
    actor: Actor,
    spec: Spec,
    raw: bytes,
    marker: Marker,
    *,
    step_rows: int,
    max_rows: int,
    dry_run: bool,
    encoding: str | None,
    allow_duplicates: bool = False,
) -> dict[str, Any]:
    """One step of an import job: the file read and checked whole (the same rows and errors every
    time), then up to ``step_rows`` rows after the mark decided and written, the mark moved in
    each transaction. What the step did, and whether the file is done."""
    stream, used = _text(raw, encoding)
    errors = RowErrors(keep_all=True)
    rows, ignored, count = _read(stream, spec, errors, max_rows)
    todo = [r for r in rows if r.number > marker.at]
    last_row = max([r.number for r in rows] + list(errors.failed) + [marker.at])
    end = todo[step_rows].number - 1 if len(todo) > step_rows else last_row
    todo = todo[:step_rows]
    tenant_id = actor.tenant_id
    ids = _existing_ids(store, tenant_id, spec, [r.key for r in todo if r.key])
    codes = sorted({r.code for r in todo if r.code})
    by_code = spec.reference.resolve(store, tenant_id, codes) if spec.reference and codes else {}
    duplicates = None
    if spec.duplicates and not allow_duplicates:
        duplicates = spec.duplicates(store, tenant_id, sum(1 for r in todo if r.key not in ids))
    importer = MarkedImporter(
        store, actor, spec, errors, dry_run, duplicates, by_code, limit=MAX_TRANSACTION - 1, marker=marker
    )
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        stored = entities.get_many(store, tenant_id, spec.et, [ids[r.key] for r in batch if r.key in ids])
        by_id = {item["id"]: item for item in stored}
        for row in batch:
            importer.row(row, by_id.get(ids[row.key]) if row.key in ids else None)
    importer.flush()
    if marker.at < end:  # the rows after the last write: failed ones, or ones with nothing to write
        importer.move_to(end, [], [])
    done = len(
        {r.number for r in rows if r.number <= marker.at} | {n for n in errors.failed if n <= marker.at}
    )
    return {
        "encoding": used,
        "rows": count,
        "ignored_columns": ignored,
        "done": min(done, count),
        "finished": marker.at >= last_row,
    }
