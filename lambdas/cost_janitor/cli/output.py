"""What the CLI prints: findings as a table a person reads, results as plain lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from cost_janitor.core.models import Finding, Verdict


def format_findings(findings: Sequence[Finding], *, show_busy: bool = False,
                    names: dict[str, str] | None = None) -> str:
    """A table a person reads: one line per instance (or its `names` entry), most expensive first."""
    rows = [f for f in findings if show_busy or f.verdict != Verdict.BUSY]
    rows.sort(key=lambda f: (-(f.monthly_usd or 0), str(f.verdict), f.resource_id))
    lines = [f"{'resource':<21} {'type':<15} {'env':<5} {'verdict':<19} {'action':<28} {'$/month':>10}  reason"]
    for f in rows:
        action = f"{f.action}" + (f" [{f.action_status}]" if f.action_status else "") if f.action else "-"
        dollars = f"{f.monthly_usd:,.2f}" if f.monthly_usd is not None else ("unknown" if f.price_source else "-")
        name = (names or {}).get(f.resource_id, f.resource_id)[:21]
        lines.append(f"{name:<21} {f.type_label:<15} {f.environment:<5} {f.verdict!s:<19} {action:<28} "
                     f"{dollars:>10}  {f.reason}")
        lines += [f"{'':<21} note: {n}" for n in f.notes]
    busy = len(findings) - len(rows)
    if busy and not show_busy:
        lines.append(f"(+ {busy} busy instance(s) not shown)")
    return "\n".join(lines)


def plain(result: Any) -> str:
    if not isinstance(result, dict):
        return str(result)
    return "\n".join(f"{k}: {json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}"
                     for k, v in result.items())
