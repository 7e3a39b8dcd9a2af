"""core/ stays pure: it imports only an allow-list (the standard library's pure modules, pydantic, core itself),
never reads the clock, and never logs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "lambdas" / "cost_janitor" / "core"
# stdlib modules with no I/O, clock or environment; pydantic; the core itself. Anything else fails.
ALLOWED = {"__future__", "collections", "copy", "dataclasses", "datetime", "decimal", "difflib", "enum",
           "functools", "ipaddress", "itertools", "json", "math", "re", "statistics", "typing", "pydantic",
           "cost_janitor.core"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "getenv", "time"}


def _core_files() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def _allowed(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in ALLOWED)


def test_core_has_modules_to_check() -> None:
    assert {"policy.py", "idle.py", "models.py", "answers.py", "errors.py"} <= {p.name for p in _core_files()}


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_module_imports_only_the_allow_list(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert _allowed(name), f"{path.name}:{node.lineno} imports {name} (not on core's allow-list)"


def test_the_allow_list_check_catches_what_it_should() -> None:
    for name in ("boto3", "slack_sdk.models.blocks", "os", "aws_lambda_powertools", "logging", "time",
                 "cost_janitor.adapters.ec2", "cost_janitor.observability", "urllib.request"):
        assert not _allowed(name), name
    assert _allowed("cost_janitor.core.models") and _allowed("collections.abc")


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_module_never_reads_the_clock(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls .{node.func.attr}()"
