"""Bills of materials: the components a product is made of and the work centre that makes it; one
per product."""

from __future__ import annotations

from typing import Any

from chalicelib.core import entities
from chalicelib.core.entities import Change, Reference
from chalicelib.core.errors import ValidationError
from chalicelib.core.store import Actor, Page, Store
from chalicelib.erp.catalogue import PRODUCT
from chalicelib.erp.production import BOM, WORK_CENTRE, bom_of


def _references(
    product_id: str | None, components: list[dict[str, Any]], centre: str | None
) -> list[Reference]:
    refs = [Reference("product_id", PRODUCT, product_id)] if product_id else []
    refs += [
        Reference(f"components.{n}.product_id", PRODUCT, c["product_id"]) for n, c in enumerate(components)
    ]
    if centre:
        refs.append(Reference("work_centre_id", WORK_CENTRE, centre))
    return refs


def _check_components(product_id: str, components: list[dict[str, Any]]) -> None:
    seen = [c["product_id"] for c in components]
    if product_id in seen or len(set(seen)) != len(seen):
        error = {"loc": ["body", "components"], "msg": "repeated component", "type": "value_error"}
        raise ValidationError("Each component once, and not the product itself.", errors=[error])


def create(store: Store, actor: Actor, data: Any) -> dict[str, Any]:
    fields = data.model_dump(mode="json")
    _check_components(data.product_id, fields["components"])
    refs = _references(data.product_id, fields["components"], data.work_centre_id)
    return entities.public(entities.create(store, actor, BOM, fields, references=refs))


def list_page(store: Store, tenant_id: str, q: Any) -> Page:
    if q.product_id:
        return Page([entities.public(b) for b in [bom_of(store, tenant_id, q.product_id)] if b], None)
    return entities.list_page(
        store, tenant_id, BOM, limit=q.limit, cursor=q.cursor, updated_since=q.updated_since
    )


def update(store: Store, actor: Actor, bom_id: str, patch: Any, if_match: int | None) -> dict[str, Any]:
    changes = entities.patch_fields(entities.given(patch), ("components", "work_centre_id"), {})
    refs = _references(None, changes.get("components", []), changes.get("work_centre_id"))

    def decide(before: dict[str, Any]) -> Change:
        _check_components(before["product_id"], changes.get("components", before["components"]))
        return Change(changes, references=refs)

    return entities.public(entities.update(store, actor, BOM, bom_id, decide=decide, if_match=if_match).item)


def remove(store: Store, actor: Actor, bom_id: str, if_match: int | None) -> None:
    entities.remove(store, actor, BOM, bom_id, if_match=if_match)
