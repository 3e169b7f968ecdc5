"""Shared schema pieces: constrained strings, days, instants and decimals, list queries and the
list envelope.

Each kind of value has one type here, and its rules live in it: a request model that uses ``Day``
cannot let an impossible date through, one that uses ``Name`` cannot write a key DynamoDB refuses.
"""

# No `from __future__ import annotations` in model modules: pydantic would compile every field's
# annotation string at import (about 40 ms of cold start); evaluated annotations cost nothing.

import dataclasses
import functools
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema

from chalicelib.core.models import PublicModel, StrictModel
from chalicelib.core.normalise import normalise_name

# ---- text that becomes part of a key ------------------------------------------------------------
# A sort key holds at most 1,024 bytes (and a key segment 512 characters, core/keys.py); a name's
# key is its NFKC form, which can be 18 times longer than typed (U+FDFA), so the bound is measured
# on that form, in bytes: 200 Chinese characters (600 bytes) or emoji (800) still fit.
KEY_TEXT_BYTES = 900
KEY_TEXT_CHARACTERS = 512


def fits_a_key(value: str) -> str:
    """Text that becomes part of a key (a name, a category) fits one once normalised."""

    normalised = normalise_name(value)
    if len(normalised) > KEY_TEXT_CHARACTERS or len(normalised.encode()) > KEY_TEXT_BYTES:
        raise ValueError(
            f"too long once normalised (NFKC): at most {KEY_TEXT_CHARACTERS} characters and {KEY_TEXT_BYTES} bytes of UTF-8"
        )
    return value


def _lower(value: str) -> str:
    return value.lower()


def _email_fits(value: str) -> str:
    # RFC 5321's limits, in octets: they also keep an email's lookup key (escaped "#", "%") in bounds.
    if len(value.split("@")[0].encode()) > 64 or len(value.encode()) > 254:
        raise ValueError("too long: at most 64 bytes before the @ and 254 in all (UTF-8)")
    return value


_NOT_IN_EMAIL = r"@\s\x00-\x1f\x7f-\x9f"  # the at sign, white space and control characters
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}.]+$",
    ),
    AfterValidator(_lower),
    AfterValidator(_email_fits),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(fits_a_key)
]
# Not stripped: a trailing space ends a word ("zhang " does not match "zhangsan").
NamePrefix = Annotated[
    str, StringConstraints(strip_whitespace=False, min_length=1, max_length=100), AfterValidator(fits_a_key)
]
Cursor = Annotated[str, StringConstraints(max_length=2048, pattern=r"^[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+$")]
Limit = Annotated[int, Field(ge=1, le=100)]

# ---- days and instants ---------------------------------------------------------------------------
# Any day of the calendar up to 9998-12-31, so that a due date a year later still exists; an instant
# must exist in UTC too (9999-12-31T23:00:00-05:00 does not).
FIRST_DAY, LAST_DAY = date(1, 1, 1), date(9998, 12, 31)
# ASCII digits only (Python's \d also matches ٢ and ２, which int() would read), and the whole text.
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?", re.ASCII | re.IGNORECASE
)
_RANGE = f"between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}"


def _day(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and _DAY.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a day of the calendar") from None
    else:
        raise ValueError("a day as YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"a day {_RANGE}")
    return day


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and _INSTANT.fullmatch(value):
        try:
            moment = datetime.fromisoformat(
                value.upper()
            )  # RFC 3339 allows "t" and "z"; Python reads "T" and "Z"
        except ValueError:
            raise ValueError(f"{value} is not an instant of the calendar") from None
    else:
        raise ValueError(
            "a date-time as RFC 3339, such as 2024-05-01T08:00:00+08:00 (without an offset: UTC)"
        )
    try:
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"an instant {_RANGE} in UTC") from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise ValueError(f"an instant {_RANGE} in UTC")
    return moment


def _iso_day(value: Any) -> str:
    return _day(value).isoformat()


_DAY_SCHEMA = {"type": "string", "format": "date", "description": f"A day of the calendar {_RANGE}."}
Day = Annotated[date, BeforeValidator(_day), WithJsonSchema(_DAY_SCHEMA)]
# The same day as its ISO text, for records that store it as text.
IsoDay = Annotated[str, BeforeValidator(_iso_day), WithJsonSchema(_DAY_SCHEMA)]
Instant = Annotated[
    datetime,
    BeforeValidator(_instant),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": f"RFC 3339; without an offset, UTC; {_RANGE}.",
        }
    ),
]


# ---- decimals ------------------------------------------------------------------------------------
# Amounts travel as text ("368.00", matching the declared pattern) or as a JSON number read exactly
# as written (web.py parses fractions into Decimal, never float).
def _exact(pattern: re.Pattern[str], signed: bool, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError('a decimal number, as text such as "12.50" or a JSON number')
    if isinstance(value, str) and not pattern.fullmatch(value):
        raise ValueError(f"a decimal number written as {pattern.pattern}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("a decimal number") from None
    if not number.is_finite() or (number.is_signed() and not signed):
        raise ValueError("a finite decimal number" + ("" if signed else " without a sign"))
    return number


@dataclasses.dataclass(frozen=True)
class Exact:
    """A ``Decimal`` of at most ``digits`` digits, ``places`` of them after the point, within the
    bounds; the document declares it as it is read: text matching a pattern, or a number."""

    digits: int
    places: int
    gt: int | None = None
    ge: int | None = None
    le: int | None = None

    @property
    def signed(self) -> bool:
        return self.gt is None and self.ge is None

    @property
    def pattern(self) -> str:
        return (
            rf"^{'-?' if self.signed else ''}\d{{1,{self.digits - self.places}}}(\.\d{{1,{self.places}}})?$"
        )

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        number = core_schema.decimal_schema(
            max_digits=self.digits,
            decimal_places=self.places,
            gt=_decimal(self.gt),
            ge=_decimal(self.ge),
            le=_decimal(self.le),
        )
        parse = functools.partial(_exact, re.compile(self.pattern, re.ASCII), self.signed)
        return core_schema.no_info_before_validator_function(parse, number)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        whole = self.digits - self.places
        largest = 10**whole - 10**-self.places
        number: dict[str, Any] = {"type": "number", "maximum": largest if self.le is None else self.le}
        if self.gt is not None:
            number["exclusiveMinimum"] = self.gt
        else:
            number["minimum"] = -largest if self.ge is None else self.ge
        return {
            "anyOf": [{"type": "string", "pattern": self.pattern}, number],
            "description": f"Up to {whole} digits before the point and {self.places} after; text or a JSON number.",
        }


def _decimal(bound: int | None) -> Decimal | None:
    return None if bound is None else Decimal(bound)


class ListQuery(StrictModel):
    limit: Limit = 50
    cursor: Cursor | None = None


class SyncQuery(ListQuery):
    updated_since: Instant | None = Field(
        default=None,
        description="Only items changed (or deleted) after this instant, oldest change first. Best effort: "
        "a write stamped earlier may commit later; a syncing client uses `sync` and `sync_token`.",
    )
    sync: bool | None = Field(
        default=None,
        description="`true`: begin a sync from scratch (every record; then pass back `sync_token`). "
        "Not with other filters.",
    )
    sync_token: Cursor | None = Field(
        default=None,
        description="The last answer's `sync_token`: every change since that answer, none missed (410 "
        "`/problems/sync-expired`: sync from scratch). Not with other filters.",
    )


class PageOut(PublicModel):
    """Base of list answers: ``{"items": [...], "next_cursor": ...}``.

    Each list declares its own subclass with typed ``items``: a concrete class costs nothing at
    import, where a generic ``Page[T]`` would build its validator then (cold start).
    """

    next_cursor: str | None = Field(
        description="Pass back as `cursor` for the next page; null on the last page."
    )
    sync_token: str | None = Field(
        default=None,
        description="When syncing: pass it back as `sync_token`, at once while `sync_complete` is false, "
        "else at the next sync.",
    )
    sync_complete: bool | None = Field(
        default=None, description="When syncing: whether this answer ends the sync (null: not syncing)."
    )


# Shared by the CRM's and the ERP's models: one definition each.
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
# ISO 4217's currencies in use (2025), without the codes that are no money to invoice in (precious
# metals, SDR, bond units, the testing and "no currency" codes XTS and XXX).
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
    CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD
    OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP
    SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF
    XPF YER ZAR ZMW ZWG""".split()
)


def _iso_4217(code: str) -> str:
    if code not in ISO_4217:
        raise ValueError(f"{code} is not an ISO 4217 currency in use")
    return code


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_iso_4217)]
Quantity = Annotated[Decimal, Exact(15, 3, gt=0)]
Price = Annotated[Decimal, Exact(17, 4, ge=0)]
Percent = Annotated[Decimal, Exact(6, 3, ge=0, le=100)]


class DeletedOut(PublicModel):
    """A deletion, listed by ``updated_since`` so that syncing clients drop the record too."""

    id: str
    deleted: bool = True
    updated_at: str


def iso(value: datetime) -> str:
    """A datetime as the table's sortable UTC text (naive means UTC)."""

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


__all__ = [
    "Code",
    "Currency",
    "Cursor",
    "Day",
    "DeletedOut",
    "Email",
    "Exact",
    "Instant",
    "IsoDay",
    "Limit",
    "ListQuery",
    "Name",
    "NamePrefix",
    "PageOut",
    "Percent",
    "Price",
    "Quantity",
    "SyncQuery",
    "fits_a_key",
    "iso",
]
