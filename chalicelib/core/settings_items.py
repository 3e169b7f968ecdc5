"""A tenant's settings that admins edit as a whole (the pipeline, the SLA): one versioned item each."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import PreconditionFailedError
from chalicelib.core.store import Actor, ConditionFailed, Store, next_version, utcnow, write_version


def read(store: Store, key: dict[str, str], defaults: dict[str, Any]) -> dict[str, Any]:
    """The setting's fields and version; the defaults at version 0 until someone saves it."""
    item = store.get(key)
    if item is None:
        return {**defaults, "version": 0}
    return {**{name: item[name] for name in defaults}, "version": item["version"]}


def replace(
    store: Store,
    actor: Actor,
    key: dict[str, str],
    name: str,
    current: dict[str, Any],
    fields: dict[str, Any],
    if_match: int | None,
) -> dict[str, Any]:
    """Save new fields over ``current`` (as read), conditional on its version, with an audit entry."""
    if if_match is not None and if_match != current["version"]:
        raise PreconditionFailedError(f"The {name} is at version {current['version']}, not {if_match}.")
    before = {**key, **current}
    after = next_version(actor, {**before, **fields}, utcnow())

    def shown(item: dict[str, Any]) -> dict[str, Any]:
        return {field: item[field] for field in (*fields, "version")}

    operations = write_version(
        actor, before, after, name=name, entity_type=name, entity_id=name, action="update", shown=shown
    )
    try:
        store.transact(operations)
    except ConditionFailed as exc:
        raise PreconditionFailedError(f"The {name} was changed meanwhile; read it again.") from exc
    return {**fields, "version": after["version"]}
