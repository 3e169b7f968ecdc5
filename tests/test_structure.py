"""The shape of the code, checked: the edge (chalicelib/api, app.py) is the only part that knows Chalice
or HTTP; the contexts import one another only through a published module (or the handoff's shared
kernel), never in a circle; no module imports another in a circle, lazy imports inside functions
counted; a context's DynamoDB expressions are in its repository.py, and the edge has none.
docs/architecture.md explains the layout these rules keep."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTEXTS = ("tenants", "crm", "erp", "handoff", "jobs", "backups")
FRAMEWORK = ("chalice",)
# Which contexts a context may import, and through which of their modules ("*": any module).
MAY_IMPORT: dict[str, dict[str, str]] = {
    "core": {},
    "tenants": {},
    "handoff": {},  # the shared kernel: contracts, outbox and relay, dead letters, reconciliation's plumbing
    "crm": {"tenants": "published", "erp": "published", "handoff": "*"},
    "erp": {"tenants": "published", "handoff": "*"},
    "jobs": {"tenants": "published"},  # long work's mechanism, imports and exports
    "backups": {"tenants": "published", "jobs": "*"},
    "billing": {"tenants": "published"},  # metering, limits, usage, plans' bills
}
# The parts of a DynamoDB request that hold or name expressions, the module of condition objects, and
# expression text (one of DynamoDB's functions, or a comparison with a value placeholder).
EXPRESSION_KEYS = frozenset(
    {
        "UpdateExpression",
        "ConditionExpression",
        "KeyConditionExpression",
        "FilterExpression",
        "ProjectionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
    }
)
CONDITIONS = "boto3.dynamodb.conditions"
EXPRESSION_TEXT = re.compile(
    r"\b(attribute_exists|attribute_not_exists|attribute_type|if_not_exists|list_append|begins_with)\("
    r"|[\w.#\]]+ (=|<>|<|<=|>|>=) :\w"
)


def _modules() -> dict[str, pathlib.Path]:
    found = {"app": ROOT / "app.py"}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: pathlib.Path) -> list[tuple[str, int]]:
    """Every module ``name`` imports (top level or inside a function), as (module, line)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full if full in MODULES else base, node.lineno))
    return found


def _ours(imported: str) -> str | None:
    """The module of ours an import names (``chalicelib.crm`` for ``chalicelib.crm``), or None."""
    while imported and imported not in MODULES:
        imported = imported.rpartition(".")[0]
    return imported or None


GRAPH = {name: {(_ours(m), m, line) for m, line in _imports(name, path)} for name, path in MODULES.items()}


def _context(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "chalicelib" and len(parts) > 1 else "edge"


def test_no_module_imports_another_in_a_circle() -> None:
    edges = {a: {b for b, _, _ in targets if b and b != a} for a, targets in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges[v]:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert cycles == [], f"modules importing each other in a circle: {cycles}"


def test_contexts_and_core_never_import_the_edge_or_the_framework() -> None:
    wrong = []
    for name, targets in GRAPH.items():
        if _context(name) == "edge" or name.startswith("chalicelib.api"):
            continue
        for ours, imported, line in targets:
            if imported.split(".")[0] in FRAMEWORK or (ours or "").startswith("chalicelib.api"):
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line} imports {imported}")
    assert wrong == [], "\n".join(wrong)


def test_a_context_reaches_another_only_through_what_it_publishes() -> None:
    wrong = []
    for name, targets in GRAPH.items():
        here = _context(name)
        if here in ("edge", "api"):
            continue
        for ours, _, line in targets:
            if not ours or not ours.startswith("chalicelib."):
                continue
            there = _context(ours)
            if there == here or ours == "chalicelib":
                continue
            if there == "core" and here != "core":
                continue
            allowed = MAY_IMPORT[here].get(there)
            module = ours.split(".")[2] if ours.count(".") >= 2 else ""
            if allowed is None or (allowed != "*" and module != allowed):
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line} ({here}) imports {ours}")
    assert wrong == [], "\n".join(wrong)


def test_importing_any_context_loads_no_framework() -> None:
    """Run, not read: every module of core and the contexts imported together leaves Chalice unloaded."""
    wanted = sorted(m for m in MODULES if m.startswith("chalicelib.") and _context(m) in ("core", *CONTEXTS))
    code = "import sys\n" + "".join(f"import {m}\n" for m in wanted)
    code += "loaded = sorted(m for m in sys.modules if m == 'chalice' or m.startswith(('chalice.', 'chalicelib.api')))\n"
    code += "print(','.join(loaded))\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the contexts loaded {out.stdout.strip()}"


def test_the_rules_see_the_imports_they_judge() -> None:
    """The walk finds lazy imports and the edges these rules are about (a walk that found nothing
    would pass every rule above)."""
    assert ("chalicelib.erp.published", "chalicelib.erp.published") in {
        (ours, imported) for ours, imported, _ in GRAPH["chalicelib.crm.orders"]
    }
    assert any(ours == "chalicelib.api.web" for ours, _, _ in GRAPH["app"])
    lazy = [m for m, line in _imports("app", MODULES["app"]) if line > 20]
    assert lazy, "app.py's handlers import their modules inside the function"


def test_the_route_table_is_what_the_route_modules_declare() -> None:
    """app.py registers routes from chalicelib/api/route_table.py and imports each module on its
    first request; a route added, moved or changed in a module without the table would be missing or
    wrong at the gateway. `python -m chalicelib.api.route_table` writes the table again."""
    from chalicelib.api import route_table

    assert list(route_table.TABLE) == route_table.declared()
    assert len(route_table.TABLE) > 100


def test_a_cold_start_builds_no_route_module_and_no_model() -> None:
    code = "import sys, app\nprint(','.join(m for m in sys.modules if m.startswith('chalicelib.') and "
    code += (
        "(m.startswith('chalicelib.api.routes') or m.endswith('.models') and m != 'chalicelib.core.models')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_module_level_function_is_named_after_a_builtin() -> None:
    """A module's ``def list`` shadows the builtin in the whole module (and mypy reads every later
    ``list[...]`` there as the function)."""
    import builtins

    shadowing = [
        f"{path.relative_to(ROOT)}:{node.lineno} def {node.name}"
        for path in MODULES.values()
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and hasattr(builtins, node.name)
    ]
    assert shadowing == [], "\n".join(shadowing)


def _expressions(path: pathlib.Path) -> list[str]:
    """What in a module is DynamoDB expression work: an expression key (as a string or a keyword
    argument), expression text, an import of the condition objects; docstrings aside."""
    tree = ast.parse(path.read_text(), str(path))
    bare = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare:
            if node.value in EXPRESSION_KEYS:
                found.append(f"{node.lineno}: the key {node.value!r}")
            elif EXPRESSION_TEXT.search(node.value):
                found.append(f"{node.lineno}: the expression {node.value!r}")
        elif isinstance(node, ast.keyword) and node.arg in EXPRESSION_KEYS:
            found.append(f"{node.lineno}: the argument {node.arg}=")
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.startswith(CONDITIONS)]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if any(n == CONDITIONS or n.startswith(CONDITIONS + ".") for n in names):
                found.append(f"{node.lineno}: from {node.module} import ...")
    return found


def test_a_context_s_dynamodb_expressions_are_in_its_repository() -> None:
    """Every update, condition, key and filter expression of a context is built in its
    repository.py; its other modules and the edge write none and import no condition objects."""
    wrong = []
    for name, path in sorted(MODULES.items()):
        context = _context(name)
        if context not in (*CONTEXTS, "api", "edge") or name == f"chalicelib.{context}.repository":
            continue
        wrong += [f"{path.relative_to(ROOT)}:{found}" for found in _expressions(path)]
    assert wrong == [], "\n".join(wrong)


def test_the_expression_rule_sees_what_it_judges() -> None:
    """The walk finds the expressions where they are (a walk that found nothing would pass the rule
    above): in each context's repository, and in the generic layer."""
    for context in CONTEXTS:
        assert _expressions(MODULES[f"chalicelib.{context}.repository"]), context
    found = " ".join(_expressions(MODULES["chalicelib.core.store"]))
    assert "ConditionExpression" in found and "boto3.dynamodb.conditions" in found


def test_a_cold_container_knows_every_owned_record_type_the_scope_checks() -> None:
    """Routes load on first use, so a container whose first request is an ERP route (an invoice
    naming a customer) has imported nothing of the CRM; the own-records check must still know the
    customer, contact and opportunity types, or an @own user could name a colleague's customer."""
    code = (
        "import app\nfrom chalicelib.api import scope\n"
        "print(','.join(sorted(t.name for t in scope.owned_types().values())))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert {"customer", "contact", "opportunity"} <= set(out.stdout.strip().split(","))
