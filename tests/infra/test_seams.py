"""The seams hold: every Lambda is wired with exactly the variables its handler's settings class declares; no
construct imports the stack or another construct; no handler imports another handler; no import circle in the
package or the infra; whoever records in the ledger may also read it (the outbox, cursors, notices)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from cost_janitor.settings import BY_SERVICE
from infra.settings import ROOT
from tests.infra.conftest import Synth

COMMON = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "DLQ_URL"}


def test_every_function_is_wired_with_exactly_what_its_handler_declares(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function").values()
    seen = set()
    for fn in functions:
        env = fn["Properties"]["Environment"]["Variables"]
        service = env["POWERTOOLS_SERVICE_NAME"]
        seen.add(service)
        assert set(env) - COMMON == BY_SERVICE[service].wired(), service
    assert seen == set(BY_SERVICE)


def _imports(path: Path, package_root: Path) -> set[str]:
    """Modules a file imports (absolute, and relative resolved against its package)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def _module(path: Path, base: Path) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    """Import edges between the project's own modules (cost_janitor.*, infra.*), at module level and in functions."""
    files = {**{_module(p, ROOT / "lambdas"): p for p in (ROOT / "lambdas" / "cost_janitor").rglob("*.py")},
             **{_module(p, ROOT): p for p in (ROOT / "infra").rglob("*.py")}}
    return {m: {i for i in _imports(p, ROOT) if i in files and i != m} for m, p in files.items()}


def test_no_construct_imports_the_stack_or_another_construct() -> None:
    graph = _graph()
    for module, deps in graph.items():
        if module.startswith("infra.constructs."):
            assert not {d for d in deps if d == "infra.stack" or d.startswith("infra.constructs.")}, module


def test_no_handler_imports_another_handler_and_capabilities_import_no_handler() -> None:
    for module, deps in _graph().items():
        handlers = {d for d in deps if d.startswith("cost_janitor.handlers.")}
        if module.startswith(("cost_janitor.handlers.", "cost_janitor.capabilities.")):
            assert not handlers, f"{module} imports {handlers}"


def test_there_is_no_import_circle() -> None:
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                pytest.fail("import circle: " + " → ".join([*path[path.index(dep):], dep]))
            if dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_whoever_records_in_the_ledger_may_read_it(synth: Synth) -> None:
    """Delivery drains the outbox (Query), the sweep reads its backlog and the storage run its cursor (GetItem):
    a write-only grant fails on AWS on every run — moto does not check IAM, so this reads the template."""
    [ledger] = [k for k in synth.resources("AWS::DynamoDB::GlobalTable") if k.startswith("Ledger")]
    roles: dict[str, set[str]] = {}
    for key, policy in synth.resources("AWS::IAM::Policy").items():
        for s in policy["Properties"]["PolicyDocument"]["Statement"]:
            if ledger in json.dumps(s.get("Resource")):
                roles.setdefault(key.split("Role")[0], set()).update(
                    s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    wired = {k for k, fn in synth.resources("AWS::Lambda::Function").items()
             if "LEDGER_TABLE" in fn["Properties"]["Environment"]["Variables"]}
    assert len(roles) == len(wired) == 7
    for role, actions in roles.items():
        assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem",
                "dynamodb:BatchWriteItem"} <= actions, role
