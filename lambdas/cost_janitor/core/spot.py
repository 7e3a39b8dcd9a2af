"""Spot interruptions: what to do on the 2-minute warning or a rebalance recommendation, and what the last 30
days say about which instance types to diversify away from."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cost_janitor.core.models import ActionKind, Finding, FindingKind, Instance, LedgerRecord, Verdict, arn
from cost_janitor.core.policy import Policy

KIND = FindingKind.SPOT_INTERRUPTION
GONE_STATES = {"shutting-down", "terminated"}


def interruption_finding(
    *, event: Literal["warning", "rebalance"], instance_id: str, instance: Instance | None, region: str,
    account: str, instance_action: str | None, policy: Policy, now: datetime, run_id: str,
) -> Finding:
    """A warning asks the instance to checkpoint (its tag's command or the policy's); a rebalance recommendation
    only tells the owner; an instance that is already gone gets a finding saying so."""
    tags = instance.tags if instance else {}
    evidence: dict[str, float | int | str | None] = {
        "event": event, "instance_action": instance_action,
        "availability_zone": instance.availability_zone if instance else None,
    }
    base = {"kind": KIND, "resource_id": instance_id, "account": account, "region": region,
            "resource_arn": arn("ec2", region, account, f"instance/{instance_id}"),
            "resource_type": "ec2:instance", "instance_type": instance.instance_type if instance else None,
            **policy.ownership(tags), "run_id": run_id, "observed_at": now}
    if instance is None or instance.state in GONE_STATES:
        state = instance.state if instance else "unknown to EC2"
        return Finding(**base, verdict=Verdict.GONE, evidence=evidence, severity="medium",
                       reason=f"spot {event} arrived but the instance is already {state}; no checkpoint possible")
    if event == "rebalance":
        return Finding(**base, verdict=Verdict.AT_RISK, evidence=evidence, severity="low",
                       reason="EC2 sees elevated interruption risk for this spot instance: checkpoint soon, or "
                              "move the run to another instance type or Availability Zone")
    command = tags.get(policy.spot.checkpoint_tag) or policy.spot.checkpoint_command
    evidence["checkpoint_command"] = command
    reason = f"spot interruption warning: AWS will {instance_action or 'interrupt'} it in about 2 minutes; " \
             "asked the training process to checkpoint"
    if instance_action == "hibernate":
        reason += " (hibernation starts without the usual lead time, so the checkpoint may not finish)"
    return Finding(**base, verdict=Verdict.AT_RISK, evidence=evidence, reason=reason,
                   action=ActionKind.CHECKPOINT, action_status="planned", severity="high")


@dataclass(frozen=True)
class InterruptionStat:
    instance_type: str
    availability_zone: str
    interruptions: int


@dataclass(frozen=True)
class InterruptionReport:
    by_type_and_az: list[InterruptionStat]
    suggestions: list[str]


def checkpoints(records: Iterable[LedgerRecord]) -> list[tuple[str, str, datetime]]:
    """(instance type, AZ, time) of every interruption warning the ledger recorded (a checkpoint action)."""
    return [(r.instance_type, str(json.loads(r.evidence or "{}").get("availability_zone") or "?"), r.at)
            for r in records if r.kind == KIND and r.action == ActionKind.CHECKPOINT]


def interruption_stats(events: list[tuple[str, str, datetime]], policy: Policy, *, now: datetime,
                       days: int = 30) -> InterruptionReport:
    """Counts of (instance type, AZ, time) warnings in the last `days`; a type interrupted often → diversify."""
    recent = [(t, az) for t, az, at in events if now - at <= timedelta(days=days)]
    by_pair = Counter(recent)
    by_type = Counter(t for t, _ in recent)
    stats = [InterruptionStat(t, az, n) for (t, az), n in sorted(by_pair.items(), key=lambda kv: (-kv[1], kv[0]))]
    suggestions = [f"{t} was interrupted {n} times in {days} days: diversify (add similar types such as other "
                   f"sizes or generations of the {t.split('.')[0]} family, or other AZs) in the fleet request"
                   for t, n in by_type.most_common() if n >= policy.spot.diversify_after]
    return InterruptionReport(stats, suggestions)
