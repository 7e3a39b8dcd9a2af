"""AMIs and their snapshots (a resource family: families/amis.py): machine images from old experiments, nobody launches
them, their snapshots bill every month. An image not launched for `amis.unused_days` that no launch template version,
launch configuration or instance uses is reported with its snapshots' dollars. A dev one is deregistered and its
snapshots deleted only with the opt-in (amis.deregister_unused_dev_images), after the mark and the grace period, and
only where a Recycle Bin retention rule for EBS snapshots exists in its region — so a mistake can be undone (restore
the snapshots from the Recycle Bin, register the image again). Without such a rule the finding says so and nothing
is deleted. Prod is asked. An image something uses is never touched.

The signals, as AWS documents them: DescribeImages' LastLaunchedTime ("the date and time ... when the AMI was last
used to launch an EC2 instance"; EC2 records it since April 2017, so an image without one is not known to be unused:
it cannot be judged), CreationDate, its BlockDeviceMappings' snapshots and volume sizes; launch template versions
(DescribeLaunchTemplateVersions' ImageId), launch configurations (DescribeLaunchConfigurations), instances
(DescribeInstances' ImageId, any state but terminated); Recycle Bin rules (rbin ListRules, ResourceType EBS_SNAPSHOT
and EC2_IMAGE).

Price: EBS snapshot storage at the table's $0.05 per GB-month (core/storage.EBS_SNAPSHOT_PRICE) on the volume size each
snapshot was taken of — an upper bound, snapshots being incremental ("up to").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then, no_longer_due, withdrawn
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict, _Frozen, arn
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import severity
from cost_janitor.core.storage import EBS_SNAPSHOT_PRICE

IMAGE_TYPE = "ec2:image"
LAUNCH_RECORDS_SINCE = datetime(2017, 4, 1, tzinfo=UTC)  # EC2 records lastLaunchedTime from April 2017


class MachineImage(_Frozen):
    image_id: str
    name: str | None = None
    region: str
    account: str
    created: datetime | None = None
    last_launched: datetime | None = None
    state: str = "available"
    snapshots: tuple[tuple[str, int], ...] = ()  # (snapshot ID, the volume size in GiB it was taken of)
    tags: dict[str, str] = {}

    @property
    def arn(self) -> str:
        return arn("ec2", self.region, "", f"image/{self.image_id}")  # an EC2 image's ARN has no account


class RecycleBin(_Frozen):
    """The region's Recycle Bin retention rules by resource type (rule identifiers)."""

    snapshot_rules: tuple[str, ...] = ()
    image_rules: tuple[str, ...] = ()


def classify_image(img: MachineImage, used_by: list[str] | None, shared: set[str], rbin: RecycleBin | None,
                   policy: Policy, *, now: datetime, run_id: str = "") -> Finding:
    """`used_by`: what uses the image (None: not read); `shared`: snapshots another image also uses (never deleted);
    `rbin`: the region's Recycle Bin rules (None: not readable)."""
    who = policy.ownership(img.tags)
    exemption = evaluate_exemption(img.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = img.tags.get(policy.exemptions.idle_since_tag)
    dev = policy.environments.classes[str(who["environment"])].on_idle == "stop"
    own = [(s, gb) for s, gb in img.snapshots if s not in shared]
    gb = sum(size for _, size in own)
    monthly = round(gb * EBS_SNAPSHOT_PRICE, 2)
    evidence: dict[str, float | int | str | None] = {
        "snapshots": ",".join(s for s, _ in own) or None, "snapshot_gb": gb,
        "shared_snapshots": ",".join(s for s, _ in img.snapshots if s in shared) or None,
        "last_launched": img.last_launched.isoformat() if img.last_launched else None,
        "used_by": ", ".join(used_by or [])[:500] or None}
    action: ActionKind | Ask | None = None
    act_after = None
    cut = now - timedelta(days=policy.amis.unused_days)
    verdict: Verdict
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif img.state != "available":
        verdict, reason = Verdict.NOT_EVALUATED, f"its state is {img.state}"
    elif img.created is not None and img.created > cut:
        verdict = Verdict.STARTED_RECENTLY
        reason = f"created {img.created:%Y-%m-%d}, within {policy.amis.unused_days} days"
    elif used_by is None:
        verdict = Verdict.CANNOT_JUDGE
        reason = "what uses it (launch templates, launch configurations) could not be read"
    elif used_by:
        verdict, reason = Verdict.BUSY, f"used by {', '.join(used_by[:5])}: never touched"
    elif img.last_launched is None:
        verdict = Verdict.CANNOT_JUDGE
        reason = ("no launch recorded: EC2 records launches since April 2017 and may not show this one; whether "
                  "it is used is not known")
    elif img.last_launched > cut:
        verdict, reason = Verdict.BUSY, f"launched {img.last_launched:%Y-%m-%d}"
    else:
        verdict = Verdict.UNUSED
        reason = (f"not launched since {img.last_launched:%Y-%m-%d} and no launch template, launch configuration or "
                  f"instance uses it; its {len(own)} snapshot(s) hold up to {gb:,} GiB")
        if not dev or not policy.amis.deregister_unused_dev_images:
            action = Ask.REVIEW
        elif rbin is None:
            action = Ask.REVIEW
            notes.append("the region's Recycle Bin rules could not be read: nothing is deleted")
        elif not rbin.snapshot_rules:
            action = Ask.REVIEW
            notes.append(f"no Recycle Bin retention rule for EBS snapshots in {img.region}: nothing is deleted (create "
                         "one, and a deleted snapshot can be restored for its retention period)")
        else:
            action, act_after = mark_then(ActionKind.DEREGISTER_IMAGE, mark, policy, now, notes)
            also = (f" — or restore the image itself from the Recycle Bin (rule {rbin.image_rules[0]})"
                    if rbin.image_rules else "")
            notes.append(f"the way back: restore its snapshots from the Recycle Bin (rule {rbin.snapshot_rules[0]}; "
                         "aws ec2 restore-snapshot-from-recycle-bin --snapshot-id <id>), then aws ec2 register-image "
                         f"with them{also}")
    if verdict != Verdict.UNUSED and mark is not None:
        action, act_after = ActionKind.UNMARK_IDLE, None
    unused = verdict == Verdict.UNUSED
    return Finding(kind=FindingKind.AMI, resource_id=img.image_id, resource_arn=img.arn, resource_type=IMAGE_TYPE,
                   account=img.account, region=img.region, **{**who, "name": who["name"] or img.name or img.image_id},
                   verdict=verdict, reason=reason, evidence=evidence, notes=tuple(notes),
                   monthly_usd=monthly if unused else None,
                   price_source=(f"EBS snapshot storage ${EBS_SNAPSHOT_PRICE}/GB-month on the volume sizes (up to: "
                                 "snapshots are incremental)") if unused else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity=severity(monthly) if unused else "info", run_id=run_id, observed_at=now)


def recheck_image(planned: Finding, current: MachineImage | None, used_by: list[str] | None, rbin: RecycleBin | None,
                  policy: Policy, *, now: datetime) -> Finding:
    """A deregistration decided minutes ago, checked just before: gone, kept, out of dev, unmarked, launched since,
    used now (or not readable), or no Recycle Bin snapshot rule now → not done."""
    if planned.action != ActionKind.DEREGISTER_IMAGE:
        return planned
    why = None
    if current is None:
        why = "the image is gone"
    elif (due := no_longer_due(current.tags, policy, now=now)) is not None:
        why = due
    elif current.last_launched is None or current.last_launched > now - timedelta(days=policy.amis.unused_days):
        why = "it was launched since"
    elif used_by is None:
        why = "what uses it could not be read just before"
    elif used_by:
        why = f"{', '.join(used_by[:3])} uses it now"
    elif rbin is None or not rbin.snapshot_rules:
        why = "no Recycle Bin retention rule for EBS snapshots now"
    if why is None:
        return planned
    return withdrawn(planned, f"not deregistered: {why}")


def snapshots_of(f: Finding) -> list[str]:
    """The snapshots a deregistration deletes: the image's own (none another image uses)."""
    return [s for s in str(f.evidence.get("snapshots") or "").split(",") if s]


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack (families/amis.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE and f.verdict == Verdict.UNUSED:
        return (f"Marked. Unless you keep it, after {when} it is deregistered and its snapshots deleted, if still "
                "unused and the Recycle Bin still keeps snapshots (the way back is below)." if when else "Marked.")
    if f.action == ActionKind.DEREGISTER_IMAGE:
        return {"done": "Deregistered, its snapshots deleted into the Recycle Bin: the way back is below.",
                "failed": f"Could not be deregistered ({f.action_error}); it is still there.",
                "skipped": f"Not deregistered: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Deregistration {f.action_status}.")
    if f.action == Ask.REVIEW and f.verdict == Verdict.UNUSED:
        return "The janitor does not delete it (production, the opt-in is off, or no Recycle Bin rule): see above."
    return None
