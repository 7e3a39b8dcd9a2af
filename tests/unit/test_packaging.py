"""`pip install .` gives a CLI that imports: every third-party module the package imports is declared — the
shipped code's in `dependencies`, the local-only code's (cost_janitor/local) in the `local` extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "lambdas" / "cost_janitor"


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=;!~]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared(requirements: list[str]) -> set[str]:
    """The declared distributions and what they bring with them (their extras included)."""
    out: set[str] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = _name(requirement)
        head = requirement.split(";")[0]
        extras = set(re.findall(r"\[([^\]]+)\]", head)[0].split(",")) if "[" in head else set()
        if name in out:
            continue
        out.add(name)
        try:
            deps = requires(name) or []
        except PackageNotFoundError:  # behind a marker this interpreter does not meet (old Python, other OS)
            continue
        for dep in deps:
            marker = dep.split(";", 1)[1] if ";" in dep else ""
            if "extra" not in marker or any(f'extra == "{e.strip()}"' in marker for e in extras):
                todo.append(dep.split(";", 1)[0])
    return out


def _imported(files: list[Path]) -> set[str]:
    """Distributions behind the third-party top-level modules these files import."""
    dists = packages_distributions()
    modules: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m not in ("cost_janitor", "agent")}
    return {d.lower().replace("_", "-") for m in third_party for d in dists.get(m, [m])}


def test_the_shipped_code_imports_only_declared_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    shipped = [p for p in PACKAGE.rglob("*.py") if "local" not in p.relative_to(PACKAGE).parts]
    missing = _imported(shipped) - _declared(project["dependencies"])
    assert not missing, f"imported but not in [project.dependencies]: {sorted(missing)}"


def test_the_local_only_code_needs_only_the_local_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    local = list((PACKAGE / "local").rglob("*.py"))
    declared = _declared(project["dependencies"] + project["optional-dependencies"]["local"])
    assert "moto" in _imported(local) and not _imported(local) - declared
