"""The policy the CLI runs with (a file, cdk.json, the deployed parameter, or the defaults) and its reference."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cost_janitor.core.policy import Policy, load_policy


def load_policy_file(path: str) -> Policy:
    """A policy JSON file, or a cdk.json whose context.policy is the policy."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and "context" in data:
        data = data["context"].get("policy", {})
    return load_policy(data)


def cmd_policy(args: argparse.Namespace) -> int:
    if args.reference and args.update_readme:
        readme = Path(args.update_readme)
        start, end = "<!-- policy-reference:start -->\n", "\n<!-- policy-reference:end -->"
        text = readme.read_text()
        head, rest = text.split(start, 1)
        readme.write_text(head + start + policy_reference() + end + rest.split(end, 1)[1])
        print(f"updated the configuration reference in {readme}")
        return 0
    if args.reference:
        print(policy_reference())
        return 0
    policy = load_policy_file(args.file) if args.file else Policy()
    print(json.dumps(policy.model_dump(mode="json"), indent=2))
    return 0


def policy_reference() -> str:
    """The README's configuration reference, generated from the policy model (a test keeps them equal)."""
    from pydantic import BaseModel

    rows = ["| key | default | meaning |", "|---|---|---|"]

    def walk(model: type[BaseModel], instance: BaseModel, prefix: str) -> None:
        for name, field in model.model_fields.items():
            value = getattr(instance, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel) and name not in ("classes",):
                walk(type(value), value, key + ".")
                continue
            shown = json.dumps(value.model_dump(mode="json") if isinstance(value, BaseModel) else
                               {k: (v.model_dump(mode="json") if isinstance(v, BaseModel) else v)
                                for k, v in value.items()} if isinstance(value, dict) else value)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            rows.append(f"| `{key}` | `{shown}` | {(field.description or '').replace('|', '/')} |")

    walk(Policy, Policy(), "")
    return "\n".join(rows)


def policy_for(args: argparse.Namespace, settings: Any) -> Policy:
    """--policy FILE, else the deployed parameter (POLICY_PARAMETER), else the defaults (said on stderr)."""
    from cost_janitor.runtime import load_policy_for

    if args.policy:
        return load_policy_file(args.policy)
    if settings.policy_parameter:
        return load_policy_for(settings)
    print("cost-janitor: no --policy and no POLICY_PARAMETER: using the default policy", file=sys.stderr)
    return Policy()
