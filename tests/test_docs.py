"""docs/api.md's role table is the code's."""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib.tenants import permissions

ROOT = Path(__file__).resolve().parent.parent


def test_the_documented_role_table_matches_the_built_in_roles():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- roles -->\n(.*?)<!-- /roles -->", text, re.S).group(1).strip().splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    roles = header[2:]
    documented = {role: set() for role in roles}
    for row in table[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        perm = cells[0].strip("`")
        assert permissions.CATALOGUE[perm] == cells[1]
        for role, cell in zip(roles, cells[2:], strict=True):
            if cell == "yes":
                documented[role].add(perm)
            elif cell == "own":
                documented[role].add(perm + "@own")
    assert documented == {name: set(perms) for name, perms in permissions.builtin_roles().items()}
    assert {c.strip().split("|")[1].strip().strip("`") for c in table[2:]} == set(permissions.CATALOGUE)


def test_every_event_type_is_documented():
    from chalicelib.handoff.contracts import TYPES

    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    missing = [name for name in TYPES if f"| `{name}` |" not in text]
    assert not missing, f"docs/events.md lacks {missing}"
