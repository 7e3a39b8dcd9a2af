"""EFS file systems (a resource family: families/efs.py): home directories and shared datasets that only grow. Two
findings a file system can get: idle (no client connected and no byte read or written all window: reported with its
storage dollars, never deleted), and no lifecycle management (the policy's transitions to Infrequent Access and, where
EFS allows it, Archive, merged into what the team set — never dropping or changing a team's transition).

The signals, as AWS documents them ("CloudWatch metrics for Amazon EFS", Amazon EFS User Guide; namespace AWS/EFS,
dimension FileSystemId): ClientConnections ("the number of client connections to a file system", statistic Sum) and
TotalIOBytes (every byte of read, write and metadata I/O, statistic Sum). SizeInBytes from DescribeFileSystems (its
metered size). The lifecycle rules, as PutLifecycleConfiguration documents them (Amazon EFS API reference):
- each LifecyclePolicy object holds one transition: TransitionToIA, TransitionToArchive or
  TransitionToPrimaryStorageClass;
- "TransitionToArchive must either not be set or must be later than TransitionToIA";
- "The Archive storage class is available only for file systems that use the Elastic throughput mode and the General
  Purpose performance mode";
- "A PutLifecycleConfiguration call with an empty LifecyclePolicies array ... deletes any existing
  LifecycleConfiguration": the janitor never writes one (a merge only ever adds).

Price: the Amazon EFS pricing page's storage example, $0.30 per GB-month of Standard storage (its example, read for
US East (N. Virginia)); elsewhere the AWS Price List API's Standard storage rate for the region (rate "efs:standard"),
else unknown, never guessed. What Infrequent Access would save is not claimed: its price
and per-access charges are not in the offline table.

An absent signal is never idle: a file system without either series, or whose read failed, or with too few periods,
cannot be judged; a lifecycle configuration that could not be read is not merged into.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then, no_longer_due, not_readable, withdrawn
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Series, Verdict, _Frozen
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import Price, RateBook, listed_rate, severity

FILE_SYSTEM_TYPE = "elasticfilesystem:file-system"
NAMESPACE = "AWS/EFS"
METRICS = ("ClientConnections", "TotalIOBytes")
GB = 2 ** 30
EFS_PRICE_DATE = "2026-12-06"
# Amazon EFS pricing page, storage example: "$0.30/GB-month" (Standard storage; the page opens on US East (N. Virginia))
STANDARD_GB_MONTH: dict[str, float] = {"us-east-1": 0.30}
TRANSITIONS = ("TransitionToIA", "TransitionToArchive", "TransitionToPrimaryStorageClass")


class FileSystem(_Frozen):
    file_system_id: str
    arn: str
    region: str
    account: str
    size_bytes: int | None = None
    throughput_mode: str = "bursting"
    performance_mode: str = "generalPurpose"
    created: datetime | None = None
    state: str = "available"
    lifecycle: tuple[dict[str, str], ...] | None = None  # None: not read
    tags: dict[str, str] = {}


class EfsUsage(_Frozen):
    connections: Series | None = None  # None: not read
    io_bytes: Series | None = None


def days(value: str | None) -> int | None:
    """AFTER_30_DAYS → 30, AFTER_1_DAY → 1; anything else (AFTER_1_ACCESS) → None."""
    found = re.fullmatch(r"AFTER_(\d+)_DAYS?", value or "")
    return int(found.group(1)) if found else None


def merge_lifecycle(existing: Sequence[dict[str, str]], fs: FileSystem,
                    policy: Policy) -> tuple[list[dict[str, str]], list[str], list[str]]:
    """The team's policies, each object unchanged and in its place, plus the policy's transitions the team has not
    set and EFS would accept; (merged, what was added, why something was not added)."""
    merged = [dict(p) for p in existing]
    have = {k: v for p in existing for k, v in p.items()}
    added, skipped = [], []
    ia = have.get("TransitionToIA")
    if ia is None:
        archive = days(have.get("TransitionToArchive"))
        wanted = days(policy.efs.transition_to_ia)
        if archive is not None and wanted is not None and wanted >= archive:
            skipped.append(f"TransitionToIA {policy.efs.transition_to_ia} would not come before the team's "
                           f"TransitionToArchive {have['TransitionToArchive']}")
        else:
            ia = policy.efs.transition_to_ia
            merged.append({"TransitionToIA": ia})
            added.append(f"TransitionToIA {ia}")
    if "TransitionToArchive" not in have and policy.efs.transition_to_archive:
        if (fs.throughput_mode, fs.performance_mode) != ("elastic", "generalPurpose"):
            skipped.append(f"no Archive: EFS offers it only with Elastic throughput and General Purpose performance "
                           f"(this one: {fs.throughput_mode}, {fs.performance_mode})")
        elif (days(ia) or 0) >= (days(policy.efs.transition_to_archive) or 0):
            skipped.append(f"no Archive: {policy.efs.transition_to_archive} would not come after TransitionToIA {ia}")
        else:
            merged.append({"TransitionToArchive": policy.efs.transition_to_archive})
            added.append(f"TransitionToArchive {policy.efs.transition_to_archive}")
    return merged, added, skipped



def standard_rate(region: str, rates: RateBook | None = None) -> Price:
    """Standard storage's USD per GB-month in `region`: the pricing page's figure, else the Price List's
    ("efs:standard"), else unknown."""
    return listed_rate("efs:standard", region, rates, offline=STANDARD_GB_MONTH,
                       source=f"Amazon EFS pricing, Standard storage (as of {EFS_PRICE_DATE})")


def _price(fs: FileSystem, rates: RateBook | None) -> tuple[float | None, str]:
    rate = standard_rate(fs.region, rates)
    if rate.hourly_usd is None or fs.size_bytes is None:
        return None, "unknown: its size is not reported (never guessed)" if fs.size_bytes is None else rate.source
    return round(fs.size_bytes / GB * rate.hourly_usd, 2), (f"{rate.source}: ${rate.hourly_usd}/GB-month at its "
                                                            "metered size")


def classify_file_system(fs: FileSystem, usage: EfsUsage, policy: Policy, *, now: datetime, run_id: str = "",
                         rates: RateBook | None = None) -> Finding:
    """One finding per file system: idle (reported, priced), lifecycle to merge (dev with the opt-in: mark → grace →
    re-check → put), compliant, busy, exempt, or cannot be judged."""
    who = policy.ownership(fs.tags)
    exemption = evaluate_exemption(fs.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = fs.tags.get(policy.exemptions.idle_since_tag)
    dev = policy.environments.classes[str(who["environment"])].on_idle == "stop"
    evidence: dict[str, float | int | str | None] = {
        "size_gb": round(fs.size_bytes / GB, 2) if fs.size_bytes is not None else None,
        "throughput_mode": fs.throughput_mode,
        "lifecycle_before": json.dumps(list(fs.lifecycle)) if fs.lifecycle is not None else None}
    action: ActionKind | Ask | None = None
    act_after = None
    monthly, source = _price(fs, rates)
    verdict: Verdict
    window = timedelta(days=policy.idle.lookback_days)
    series = [usage.connections, usage.io_bytes]
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif fs.created is not None and now - fs.created < window:
        verdict, reason = Verdict.STARTED_RECENTLY, f"created {fs.created:%Y-%m-%d}, within the window"
    elif (gap := not_readable(series, policy, what=f"{NAMESPACE} ClientConnections / TotalIOBytes")) is not None:
        verdict, reason = Verdict.CANNOT_JUDGE, gap
    elif all(s is not None and s.total == 0 for s in series):
        verdict = Verdict.IDLE
        reason = (f"no client connected and no byte read or written in {policy.idle.lookback_days} days, and its "
                  "storage bills every month: back it up (AWS Backup) and delete it if no one needs it (the janitor "
                  "never deletes a file system)")
        action = (ActionKind.MARK_IDLE if dev and mark is None else Ask.REVIEW)
        if mark is not None:
            notes.append(f"idle since {mark} (tag {policy.exemptions.idle_since_tag})")
    else:
        verdict, reason = Verdict.BUSY, "clients connect and read or write"
    if verdict in (Verdict.BUSY, Verdict.IDLE) and fs.lifecycle is not None:
        merged, added, skipped = merge_lifecycle(fs.lifecycle, fs, policy)
        notes += skipped
        if added and verdict == Verdict.BUSY:
            verdict = Verdict.CHANGE_PROPOSED
            reason = ("no lifecycle management for files nobody reads: add " + ", ".join(added)
                      + " (the team's transitions are kept as they are)")
            evidence["lifecycle_after"] = json.dumps(merged)
            notes.append("dry-run diff: " + "; ".join(f"+ {a}" for a in added))
            notes.append("the way back: aws efs put-lifecycle-configuration --file-system-id "
                         f"{fs.file_system_id} --lifecycle-policies '{evidence['lifecycle_before']}'")
            if dev and policy.efs.set_lifecycle:
                action, act_after = mark_then(ActionKind.SET_EFS_LIFECYCLE, mark, policy, now, notes)
            else:
                action = Ask.REVIEW
        elif added:
            notes.append("also no lifecycle management: " + ", ".join(added) + " would move cold files to cheaper "
                         "storage classes")
    elif verdict in (Verdict.BUSY, Verdict.IDLE):
        notes.append("its lifecycle configuration could not be read: nothing is merged into it")
    if verdict not in (Verdict.IDLE, Verdict.CHANGE_PROPOSED) and mark is not None:
        action, act_after = ActionKind.UNMARK_IDLE, None
    idle = verdict == Verdict.IDLE
    return Finding(kind=FindingKind.EFS, resource_id=fs.file_system_id, resource_arn=fs.arn,
                   resource_type=FILE_SYSTEM_TYPE, account=fs.account, region=fs.region,
                   **{**who, "name": who["name"] or fs.file_system_id}, verdict=verdict, reason=reason,
                   evidence=evidence, notes=tuple(notes), monthly_usd=monthly if idle else None,
                   price_source=source if idle else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity=severity(monthly) if idle else "info", run_id=run_id, observed_at=now)


def recheck_lifecycle(planned: Finding, current: FileSystem | None, policy: Policy, *, now: datetime) -> Finding:
    """A lifecycle merge decided minutes ago, made again on the configuration as it is just before: gone, kept, out of
    dev, unmarked, unreadable, or nothing left to add → not written; otherwise the merge of what is there now (a team
    transition added in the meantime is kept)."""
    if planned.action != ActionKind.SET_EFS_LIFECYCLE:
        return planned
    why = None
    if current is None:
        why = "the file system is gone"
    elif (due := no_longer_due(current.tags, policy, now=now)) is not None:
        why = due
    elif current.lifecycle is None:
        why = "its lifecycle configuration could not be read just before"
    if why is None and current is not None and current.lifecycle is not None:
        merged, added, _ = merge_lifecycle(current.lifecycle, current, policy)
        if not added:
            why = "its lifecycle management is set now"
        else:
            return planned.model_copy(update={"evidence": {**planned.evidence,
                                                           "lifecycle_before": json.dumps(list(current.lifecycle)),
                                                           "lifecycle_after": json.dumps(merged)}})
    return withdrawn(planned, f"not written: {why}")


def lifecycle_to_put(f: Finding) -> list[dict[str, str]]:
    """The merged configuration a finding's action writes; never empty (an empty one would delete the team's)."""
    merged: list[dict[str, str]] = json.loads(str(f.evidence.get("lifecycle_after") or "[]"))
    if not merged:
        raise ValueError(f"{f.resource_id}: no lifecycle configuration to write (an empty one would delete it)")
    return merged


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack (families/efs.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.verdict == Verdict.CHANGE_PROPOSED and f.action == ActionKind.MARK_IDLE:
        return (f"Marked. Unless you keep it, after {when} the lifecycle transitions above are added to its "
                "configuration (yours are kept as they are)." if when else "Marked.")
    if f.action == ActionKind.SET_EFS_LIFECYCLE:
        return {"done": "Lifecycle transitions added; your own are unchanged. The way back is below.",
                "failed": f"Could not write the lifecycle configuration ({f.action_error}); nothing changed.",
                "skipped": f"Not written: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Lifecycle change {f.action_status}.")
    if f.verdict == Verdict.IDLE:
        return "Reported: the janitor never deletes a file system. Back it up and delete it if no one needs it."
    if f.action == Ask.REVIEW:
        return "The janitor does not change it here (production, or the opt-in is off): the change is above."
    return None
