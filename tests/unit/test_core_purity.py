"""core/ stays pure: no AWS SDK, no environment, no Powertools, no clock, no logging."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "lambdas" / "cost_janitor" / "core"
FORBIDDEN_MODULES = {"boto3", "botocore", "os", "aws_lambda_powertools", "logging", "time", "random", "subprocess",
                     "requests", "urllib", "socket", "cost_janitor.adapters", "cost_janitor.observability"}
FORBIDDEN_CALLS = {"now", "utcnow", "today", "getenv", "time"}


def _core_files() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def test_core_has_modules_to_check() -> None:
    assert {"policy.py", "idle.py", "models.py"} <= {p.name for p in _core_files()}


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_module_imports_nothing_impure(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert not any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES), \
                f"{path.name}:{node.lineno} imports {name}"


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_module_never_reads_the_clock(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls .{node.func.attr}()"
