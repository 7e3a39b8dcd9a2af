"""FSx for Lustre file systems (a resource family: families/fsx.py): made for one training run, then forgotten. Idle
when their read and write bytes stay under `fsx.idle_gb_per_day` for the whole window. A persistent dev file system
is deleted only with the opt-in (fsx.delete_idle_dev_file_systems), after a mark and the grace period, only if still
idle just before, and always with a final backup — the way back is a file system restored from it. A scratch file
system cannot be backed up: it is never deleted by the janitor, only asked about, and the finding says why. Prod is
asked.

The signals, as AWS documents them ("Amazon FSx for Lustre metrics", FSx for Lustre User Guide; namespace AWS/FSx,
dimension FileSystemId, statistic Sum): DataReadBytes and DataWriteBytes, the bytes of file system read and write
operations. DescribeFileSystems gives the deployment type (SCRATCH_1, SCRATCH_2, PERSISTENT_1, PERSISTENT_2), the
storage capacity (GiB) and the per-unit throughput. DeleteFileSystem's LustreConfiguration (Amazon FSx API reference,
DeleteFileSystemLustreConfiguration): "Set SkipFinalBackup to false if you want to take a final backup ... (Default =
true)"; "The fsx:CreateBackup permission is required if you set SkipFinalBackup to false". Backups are supported on
persistent file systems, not on scratch ones ("Protecting your data with backups", FSx for Lustre User Guide).

Price: FSx for Lustre's per-GB-month rates by deployment type and throughput are not in the offline table (AWS's
pricing page renders them by region, and no rate could be read from its text here): the capacity is reported, the
dollars are unknown, never guessed.

An absent signal is never idle: a file system without either series, whose read failed, or with too few periods,
cannot be judged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then, no_longer_due, not_readable, withdrawn
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Series, Verdict, _Frozen
from cost_janitor.core.policy import Policy

LUSTRE_TYPE = "fsx:file-system"
NAMESPACE = "AWS/FSx"
METRICS = ("DataReadBytes", "DataWriteBytes")
GB = 2 ** 30
SCRATCH = ("SCRATCH_1", "SCRATCH_2")
PRICE_UNKNOWN = ("unknown: FSx for Lustre rates by deployment type are not in the offline table (never guessed); "
                 "its capacity is in the evidence")


class LustreFileSystem(_Frozen):
    file_system_id: str
    arn: str
    region: str
    account: str
    deployment_type: str
    storage_gib: int
    throughput_per_tib: int | None = None
    lifecycle: str = "AVAILABLE"
    created: datetime | None = None
    tags: dict[str, str] = {}

    @property
    def scratch(self) -> bool:
        return self.deployment_type in SCRATCH


class FsxUsage(_Frozen):
    read: Series | None = None  # None: not read
    write: Series | None = None



def quiet(usage: FsxUsage, policy: Policy, *, days: float) -> bool | None:
    """Under the idle threshold over `days` (None: not known — a series missing, unread or too thin)."""
    series = [usage.read, usage.write]
    if any(s is None or s.points == 0 for s in series):
        return None
    total = sum(s.total for s in series if s is not None)
    return total / GB <= policy.fsx.idle_gb_per_day * days


def classify_lustre(fs: LustreFileSystem, usage: FsxUsage, policy: Policy, *, now: datetime,
                    run_id: str = "") -> Finding:
    who = policy.ownership(fs.tags)
    exemption = evaluate_exemption(fs.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = fs.tags.get(policy.exemptions.idle_since_tag)
    dev = policy.environments.classes[str(who["environment"])].on_idle == "stop"
    evidence: dict[str, float | int | str | None] = {
        "deployment_type": fs.deployment_type, "storage_gib": fs.storage_gib,
        "throughput_per_tib": fs.throughput_per_tib,
        "gb_moved": round(sum(s.total for s in (usage.read, usage.write) if s is not None) / GB, 2)}
    action: ActionKind | Ask | None = None
    act_after = None
    window = policy.idle.lookback_days
    series = [usage.read, usage.write]
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif fs.lifecycle != "AVAILABLE":
        verdict, reason = Verdict.NOT_EVALUATED, f"its lifecycle is {fs.lifecycle}"
    elif fs.created is not None and now - fs.created < timedelta(days=window):
        verdict, reason = Verdict.STARTED_RECENTLY, f"created {fs.created:%Y-%m-%d}, within the window"
    elif (gap := not_readable(series, policy, what=f"{NAMESPACE} DataReadBytes / DataWriteBytes")) is not None:
        verdict, reason = Verdict.CANNOT_JUDGE, gap
    elif quiet(usage, policy, days=window):
        verdict = Verdict.IDLE
        reason = (f"{evidence['gb_moved']} GB read and written in {window} days (under "
                  f"{policy.fsx.idle_gb_per_day:g} GB a day) on {fs.storage_gib:,} GiB of "
                  f"{fs.deployment_type} capacity")
        if fs.scratch:
            action = Ask.REVIEW
            notes.append("a scratch file system cannot be backed up: the janitor never deletes it; copy what matters "
                         "to S3 (its data repository) and delete it yourself")
        elif dev and policy.fsx.delete_idle_dev_file_systems:
            action, act_after = mark_then(ActionKind.DELETE_FILE_SYSTEM, mark, policy, now, notes)
            notes.append(f"the way back: its final backup (aws fsx describe-backups --filters Name=file-system-id,"
                         f"Values={fs.file_system_id}), then aws fsx create-file-system-from-backup --backup-id <it> "
                         "with the same subnet and security groups")
        else:
            action = Ask.REVIEW
    else:
        verdict, reason = Verdict.BUSY, f"{evidence['gb_moved']} GB read and written in the window"
    if verdict != Verdict.IDLE and mark is not None:
        action, act_after = ActionKind.UNMARK_IDLE, None
    idle = verdict == Verdict.IDLE
    return Finding(kind=FindingKind.FSX, resource_id=fs.file_system_id, resource_arn=fs.arn,
                   resource_type=LUSTRE_TYPE, account=fs.account, region=fs.region,
                   **{**who, "name": who["name"] or fs.file_system_id}, verdict=verdict, reason=reason,
                   evidence=evidence, notes=tuple(notes), monthly_usd=None,
                   price_source=PRICE_UNKNOWN if idle else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity="medium" if idle else "info", run_id=run_id, observed_at=now)


def recheck_lustre(planned: Finding, current: LustreFileSystem | None, recent: FsxUsage | None, policy: Policy, *,
                   now: datetime) -> Finding:
    """A delete decided minutes ago, checked against the file system and its last hours just before: gone, not
    available, kept, out of dev, unmarked, scratch, or bytes moving (or not readable) → not deleted."""
    if planned.action != ActionKind.DELETE_FILE_SYSTEM:
        return planned
    why = None
    if current is None:
        why = "the file system is gone"
    elif current.lifecycle != "AVAILABLE":
        why = f"its lifecycle is {current.lifecycle}"
    elif (due := no_longer_due(current.tags, policy, now=now)) is not None:
        why = due
    elif current.scratch:
        why = "a scratch file system cannot be backed up"
    elif recent is None or quiet(recent, policy, days=policy.fsx.recheck_hours / 24) is None:
        why = "its bytes of the last hours could not be read just before: an absent signal is never idle"
    elif not quiet(recent, policy, days=policy.fsx.recheck_hours / 24):
        why = "bytes are moving on it now"
    if why is None:
        return planned
    return withdrawn(planned, f"not deleted: {why}")


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack (families/fsx.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE and f.verdict == Verdict.IDLE:
        return (f"Marked. Unless you keep it, after {when} it is deleted with a final backup if still idle just "
                "before; a file system can be restored from that backup." if when else "Marked.")
    if f.action == ActionKind.DELETE_FILE_SYSTEM:
        return {"done": "Deleted with a final backup (tagged with this file system's ID): restore a file system from "
                        "it if needed.",
                "failed": f"Could not be deleted ({f.action_error}); it is still there.",
                "skipped": f"Not deleted: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Delete {f.action_status}.")
    if f.action == Ask.REVIEW and f.verdict == Verdict.IDLE:
        return ("The janitor does not delete it (production, scratch, or the opt-in is off): delete it yourself if "
                "no one needs it.")
    return None
