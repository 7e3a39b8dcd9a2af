"""Storage decisions: merge the janitor's lifecycle rules into a bucket's configuration without ever dropping or
changing a user's rule, estimate what tiering saves, and judge unattached volumes, old snapshots and log groups."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.core.models import ActionKind, Finding, FindingKind, LogGroup, Snapshot, Verdict, Volume, arn
from cost_janitor.core.policy import RULE_ID_PREFIX, LifecycleProfile, LifecycleRule, Policy
from cost_janitor.core.pricing import Price, RateBook, listed_rate

MAX_RULES = 1000
GB = 1024 ** 3

# S3 storage, USD per GB-month, us-east-1 list prices (first 50 TB tier for STANDARD).
S3_PRICE_DATE = "2025-05-01"
S3_PRICES = {"STANDARD": 0.023, "STANDARD_IA": 0.0125, "ONEZONE_IA": 0.01, "INTELLIGENT_TIERING": 0.023,
             "GLACIER_IR": 0.004, "GLACIER": 0.0036, "DEEP_ARCHIVE": 0.00099}
EBS_SNAPSHOT_PRICE = 0.05  # USD per GB-month, standard tier
EBS_PRICES = {"gp3": 0.08, "gp2": 0.10, "io1": 0.125, "io2": 0.125, "st1": 0.045, "sc1": 0.015, "standard": 0.05}
# the regions the EBS figures above are for; elsewhere the AWS Price List API's rates ("ebs:<type>", "ebs:snapshot"),
# else unknown
EBS_PRICED_REGIONS = frozenset({"us-east-1"})
EBS_SOURCE = f"EBS list price us-east-1 ({S3_PRICE_DATE})"


def ebs_rate(name: str, region: str, rates: RateBook | None) -> Price:
    """An EBS rate ("ebs:gp3", "ebs:snapshot"): the offline us-east-1 figure there, else the Price List API's."""
    table = EBS_SNAPSHOT_PRICE if name == "ebs:snapshot" else EBS_PRICES.get(name.removeprefix("ebs:"))
    return listed_rate(name, region, rates, source=EBS_SOURCE,
                       offline={r: table for r in EBS_PRICED_REGIONS} if table is not None else {})
LOGS_STORAGE_PRICE = 0.03  # USD per GB-month, compressed


def janitor_rule_id(profile: str, rule: LifecycleRule) -> str:
    return rule.rule_id(profile)


def is_v1_rule(rule: dict[str, Any]) -> bool:
    """A legacy (lifecycle V1) rule: its prefix at rule level, no Filter. S3 refuses V2 rules beside it."""
    return "Prefix" in rule and "Filter" not in rule


def is_janitor_rule(rule: dict[str, Any]) -> bool:
    return str(rule.get("ID", "")).startswith(RULE_ID_PREFIX)


def rule_prefix(rule: dict[str, Any]) -> str:
    """The key prefix a rule applies to, whatever its filter shape (Prefix, And, Tag, size, legacy Prefix)."""
    if "Prefix" in rule and "Filter" not in rule:
        return str(rule["Prefix"])
    flt = rule.get("Filter") or {}
    if "Prefix" in flt:
        return str(flt["Prefix"])
    return str((flt.get("And") or {}).get("Prefix", ""))


def _categories(rule: dict[str, Any]) -> set[str]:
    """What a rule does to objects: current-version tiering/expiry, noncurrent versions, multipart uploads."""
    cats = set()
    if rule.get("Transitions") or rule.get("Expiration"):
        cats.add("current")
    if rule.get("NoncurrentVersionTransitions") or rule.get("NoncurrentVersionExpiration"):
        cats.add("noncurrent")
    if rule.get("AbortIncompleteMultipartUpload"):
        cats.add("multipart")
    return cats


def desired_rules(profile_name: str, profile: LifecycleProfile, *, versioned: bool) -> tuple[list[dict[str, Any]],
                                                                                             list[str]]:
    """The profile as S3 rules; noncurrent-version rules only where versioning is or was enabled."""
    rules, notes = [], []
    for r in profile.rules:
        rule: dict[str, Any] = {"ID": janitor_rule_id(profile_name, r), "Filter": {"Prefix": r.prefix},
                                "Status": "Enabled"}
        if r.transitions:
            rule["Transitions"] = [{"Days": t.days, "StorageClass": t.storage_class} for t in r.transitions]
        if r.expire_days:
            rule["Expiration"] = {"Days": r.expire_days}
        if r.noncurrent_expire_days:
            if versioned:
                rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": r.noncurrent_expire_days}
            else:
                notes.append(f"versioning was never enabled: no noncurrent-version rule for '{r.prefix}'")
        if r.abort_multipart_days:
            rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": r.abort_multipart_days}
        if len(rule) > 3:  # it does something
            rules.append(rule)
    return rules, notes


@dataclass
class MergePlan:
    rules: list[dict[str, Any]]
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    changed: bool = False


def merge(existing: list[dict[str, Any]], desired: list[dict[str, Any]]) -> MergePlan:
    """User rules first, untouched and in their order; then the janitor's, added, updated or removed by ID.
    A janitor rule whose prefix and kind of action a user rule already covers is not written: it is reported."""
    users = [r for r in existing if not is_janitor_rule(r)]
    ours = {r["ID"]: r for r in existing if is_janitor_rule(r)}
    plan = MergePlan(rules=[copy.deepcopy(r) for r in users])
    for rule in desired:
        clash = [u for u in users if rule_prefix(u) == rule_prefix(rule) and _categories(u) & _categories(rule)]
        if clash:  # the user's rule wins; ours (if we wrote it before) goes, so the two never both apply
            plan.conflicts.append(f"{rule['ID']}: user rule {clash[0].get('ID', '(no ID)')!r} already manages "
                                  f"prefix '{rule_prefix(rule)}'; left to it")
            continue
        before = ours.get(rule["ID"])
        (plan.unchanged if before == rule else plan.updated if before else plan.added).append(rule["ID"])
        plan.rules.append(rule)
    written = {r.get("ID") for r in plan.rules}
    plan.removed = [rid for rid in ours if rid not in written]
    if len(plan.rules) > MAX_RULES:
        plan.conflicts.append(f"the merged configuration would have {len(plan.rules)} rules; S3 allows {MAX_RULES}")
        plan.rules = [copy.deepcopy(r) for r in existing]
        plan.added, plan.updated, plan.removed = [], [], []
    plan.changed = plan.rules != existing
    return plan


def diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """The exact before/after of a bucket's configuration, as a unified diff of its JSON."""
    import difflib

    a = json.dumps({"Rules": before}, indent=2, sort_keys=True, default=str).splitlines()
    b = json.dumps({"Rules": after}, indent=2, sort_keys=True, default=str).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "current", "proposed", lineterm=""))


@dataclass(frozen=True)
class Savings:
    monthly_usd: float | None  # None: a rate is unknown in the bucket's region
    explanation: str


def s3_rate(storage_class: str, region: str, rates: RateBook | None) -> Price:
    """A storage class's first-tier rate: the offline us-east-1 table there, else the Price List API's
    ("s3:<class>")."""
    return listed_rate(f"s3:{storage_class}", region, rates, source=f"S3 list prices, us-east-1, {S3_PRICE_DATE}",
                       offline={"us-east-1": S3_PRICES[storage_class]} if storage_class in S3_PRICES else {})


def tiering_savings(profile: LifecycleProfile, standard_bytes: float | None, region: str = "us-east-1",
                    rates: RateBook | None = None) -> Savings | None:
    """An upper bound: every Standard byte ends in the profile's coldest transition class, at the bucket region's
    rates (s3_rate); unknown (None dollars, the reason said) where a rate is."""
    if standard_bytes is None:
        return None
    coldest = [t for r in profile.rules for t in r.transitions]
    if not coldest or standard_bytes <= 0:
        return Savings(0.0, "no Standard bytes to move" if coldest else "the profile has no transitions")
    target = min(coldest, key=lambda t: S3_PRICES[t.storage_class])
    gb = standard_bytes / GB
    standard, colder = s3_rate("STANDARD", region, rates), s3_rate(target.storage_class, region, rates)
    if standard.hourly_usd is None or colder.hourly_usd is None:
        missing = standard if standard.hourly_usd is None else colder
        return Savings(None, f"{gb / 1024:,.1f} TB in Standard could move to {target.storage_class}; "
                             f"dollars {missing.source}")
    usd = round(gb * (standard.hourly_usd - colder.hourly_usd), 2)
    sources = standard.source if standard.source == colder.source else f"{standard.source}; {colder.source}"
    return Savings(usd, f"≈ ${usd:,.0f}/month if all {gb / 1024:,.1f} TB in Standard moved to "
                        f"{target.storage_class} (upper bound: assumes every object is older than {target.days} days "
                        f"and under the profile's prefixes; {sources})")


@dataclass(frozen=True)
class VolumeVerdict:
    unattached_since: datetime | None
    mark: bool  # first sighting: tag it with the time
    old_enough: bool
    may_delete: bool
    monthly_usd: float | None
    reason: str


def judge_volume(*, size_gb: int, volume_type: str, tags: dict[str, str], policy: Policy,
                 now: datetime, rate: Price | None = None) -> VolumeVerdict:
    """An available (unattached) volume: marked on first sight; after N days reported, and — opt-in, dev only —
    snapshotted then deleted."""
    from cost_janitor.core.exemptions import evaluate_exemption, parse_instant

    price = (rate or ebs_rate(f"ebs:{volume_type}", "us-east-1", None)).hourly_usd
    monthly = round(size_gb * price, 2) if price is not None else None
    raw = tags.get(policy.storage.unattached_since_tag)
    since = parse_instant(raw) if raw else None
    if since is None:
        return VolumeVerdict(None, True, False, False, monthly, f"unattached; first seen now (reported after "
                                                                f"{policy.storage.unattached_volume_days} days)")
    days = (now - since).days
    old = now - since >= timedelta(days=policy.storage.unattached_volume_days)
    env = policy.environments.class_of(tags.get(policy.environments.tag_key))
    exempt = evaluate_exemption(tags, policy.exemptions, now=now).exempt
    may_delete = (old and policy.storage.delete_unattached_volumes and not exempt
                  and policy.environments.classes[env].on_idle == "stop")
    reason = f"unattached for {days} days ({size_gb} GiB {volume_type})"
    if exempt:
        reason += "; exempt"
    return VolumeVerdict(since, False, old, may_delete, monthly, reason)


@dataclass(frozen=True)
class BucketLifecycle:
    """A bucket's lifecycle configuration as S3 returns it: the rules, and the bucket-wide default minimum object
    size for transitions (None when the bucket has no configuration). Written back unchanged with the rules."""

    rules: list[dict[str, Any]] = field(default_factory=list)
    min_object_size: str | None = None


@dataclass(frozen=True)
class BucketPlan:
    finding: Finding | None  # None: the bucket has no profile (not the janitor's business)
    configuration: BucketLifecycle | None  # the merged configuration to write, when something changes
    diff: str


def plan_bucket(*, bucket: str, region: str, account: str, tags: dict[str, str], versioned: bool,
                current: BucketLifecycle, standard_bytes: float | None, policy: Policy, now: datetime,
                run_id: str, rates: RateBook | None = None) -> BucketPlan:
    """Which profile applies (policy list first, then the bucket's tag), the merge, and what it would save."""
    profile_name = policy.lifecycle.buckets.get(bucket) or tags.get(policy.lifecycle.profile_tag)
    if not profile_name:
        return BucketPlan(None, None, "")
    base = {"kind": FindingKind.LIFECYCLE, "resource_id": bucket, "resource_arn": arn("s3", region, "", bucket),
            "resource_type": "s3:bucket", "account": account, "region": region,
            **policy.ownership(tags), "name": bucket, "run_id": run_id, "observed_at": now}
    profile = policy.lifecycle.profiles.get(profile_name)
    if profile is None:
        return BucketPlan(Finding(**base, verdict=Verdict.CONFLICT, severity="low",
                                  reason=f"tagged with unknown lifecycle profile {profile_name!r}; known: "
                                         f"{sorted(policy.lifecycle.profiles)}"), None, "")
    existing = current.rules
    legacy = [str(r.get("ID") or "(no ID)") for r in existing if is_v1_rule(r)]
    if legacy:
        return BucketPlan(Finding(**base, verdict=Verdict.CONFLICT, severity="low", evidence={
            "profile": profile_name, "legacy_rules": len(legacy), "rules_before": len(existing)},
            reason=f"lifecycle profile {profile_name!r} not applied: rule(s) {', '.join(legacy[:5])} use the legacy "
                   "V1 form (Prefix at rule level), and S3 refuses the janitor's Filter rules beside them. The "
                   "janitor never rewrites a user's rule: rewrite them with Filter.Prefix (same meaning) and the "
                   "profile is merged on the next run"), None, "")
    desired, notes = desired_rules(profile_name, profile, versioned=versioned)
    plan = merge(existing, desired)
    evidence: dict[str, float | int | str | None] = {
        "profile": profile_name, "versioned": str(versioned).lower(), "rules_before": len(existing),
        "rules_after": len(plan.rules), "added": len(plan.added), "updated": len(plan.updated),
        "removed": len(plan.removed), "user_rules_kept": len([r for r in existing if not is_janitor_rule(r)])}
    all_notes = tuple(notes + plan.conflicts)
    if not plan.changed:
        verdict = Verdict.CONFLICT if plan.conflicts else Verdict.COMPLIANT
        return BucketPlan(Finding(**base, verdict=verdict, evidence=evidence, notes=all_notes,
                                  reason=f"lifecycle profile {profile_name!r} already in place"
                                  + (" except where a user rule manages the same prefix" if plan.conflicts else "")),
                          None, "")
    savings = tiering_savings(profile, standard_bytes, region, rates)
    reason = (f"lifecycle profile {profile_name!r}: add {len(plan.added)}, update {len(plan.updated)}, remove "
              f"{len(plan.removed)} of the janitor's rules; {evidence['user_rules_kept']} user rule(s) kept as is")
    return BucketPlan(Finding(**base, verdict=Verdict.CHANGE_PROPOSED, evidence=evidence, notes=all_notes,
                              reason=reason, action=ActionKind.PUT_LIFECYCLE, action_status="planned",
                              monthly_usd=savings.monthly_usd if savings else None,
                              price_source=savings.explanation if savings else "no S3 storage metrics yet",
                              severity="medium" if savings and (savings.monthly_usd or 0) >= 50 else "low"),
                      BucketLifecycle(plan.rules, current.min_object_size), diff(existing, plan.rules))


def plan_volume(*, volume: Volume, snapshot_state: str | None, account: str, region: str, policy: Policy,
                now: datetime, run_id: str, rates: RateBook | None = None) -> Finding | None:
    """Mark on first sight; after N days report; opt-in (dev only): snapshot, then — once complete — delete.
    None while a marked volume is still within its N days (nothing to say yet). Priced at the region's rate for its
    type (ebs_rate), unknown where neither the table nor the Price List API has one."""
    tags = volume.tags
    rate = ebs_rate(f"ebs:{volume.volume_type}", region, rates)
    verdict = judge_volume(size_gb=volume.size_gb, volume_type=volume.volume_type, tags=tags, policy=policy, now=now,
                           rate=rate)
    if not verdict.mark and not verdict.old_enough:
        return None
    action: ActionKind | None = None
    reason = verdict.reason
    if verdict.mark:
        action = ActionKind.MARK_UNATTACHED
    elif verdict.may_delete:
        if snapshot_state is None:
            action, reason = ActionKind.SNAPSHOT_VOLUME, reason + "; snapshot first, delete on a later run"
        elif snapshot_state == "completed":
            action = ActionKind.DELETE_VOLUME
            reason += f"; snapshot {tags.get(policy.storage.snapshot_tag)} is complete, so the volume goes"
        else:
            reason += f"; waiting for snapshot {tags.get(policy.storage.snapshot_tag)} ({snapshot_state})"
    return Finding(
        kind=FindingKind.UNATTACHED_VOLUME, resource_id=volume.volume_id, resource_type="ec2:volume",
        resource_arn=arn("ec2", region, account, f"volume/{volume.volume_id}"), account=account, region=region,
        **policy.ownership(tags), verdict=Verdict.UNATTACHED,
        reason=reason, monthly_usd=verdict.monthly_usd if verdict.old_enough else None,
        price_source=rate.source if verdict.old_enough else None,
        evidence={"size_gb": volume.size_gb, "volume_type": volume.volume_type,
                  "snapshot": tags.get(policy.storage.snapshot_tag),
                  "snapshot_state": snapshot_state},
        action=action, action_status="planned" if action else None, run_id=run_id, observed_at=now,
        severity="medium" if verdict.old_enough else "info")


def plan_snapshot(*, snapshot: Snapshot, used_by_ami: bool, account: str, region: str, policy: Policy,
                  now: datetime, run_id: str, rates: RateBook | None = None) -> Finding | None:
    """Old snapshots no AMI uses are reported (never deleted): size × price is an upper bound (incremental)."""
    age = (now - snapshot.start_time).days
    if used_by_ami or age < policy.storage.snapshot_max_age_days:
        return None
    rate = ebs_rate("ebs:snapshot", region, rates)
    monthly = round(snapshot.size_gb * rate.hourly_usd, 2) if rate.hourly_usd is not None else None
    return Finding(
        kind=FindingKind.OLD_SNAPSHOT, resource_id=snapshot.snapshot_id, resource_type="ec2:snapshot",
        resource_arn=arn("ec2", region, "", f"snapshot/{snapshot.snapshot_id}"), account=account, region=region,
        **policy.ownership(snapshot.tags), verdict=Verdict.UNUSED,
        reason=f"{age} days old, used by no AMI ({snapshot.size_gb} GiB volume)",
        monthly_usd=monthly, price_source=(f"upper bound: snapshots are incremental; standard tier, {rate.source}"
                                           if monthly is not None else rate.source),
        evidence={"age_days": age, "size_gb": snapshot.size_gb}, run_id=run_id, observed_at=now,
        severity="low")


def logs_rate(region: str, rates: RateBook | None = None) -> Price:
    """CloudWatch Logs storage's USD per GB-month in `region`: the offline us-east-1 figure there, else the Price
    List's ("logs:storage"), else unknown."""
    return listed_rate("logs:storage", region, rates, offline={"us-east-1": LOGS_STORAGE_PRICE},
                       source=f"CloudWatch Logs storage list price, us-east-1 ({S3_PRICE_DATE})")


def plan_log_group(*, group: LogGroup, account: str, region: str, policy: Policy, now: datetime,
                   run_id: str, rates: RateBook | None = None) -> Finding | None:
    """A log group kept longer than the policy's days, priced at its region's Logs storage rate (the offline figure
    in us-east-1, else the Price List's "logs:storage", else unknown)."""
    retention = group.retention_days
    if retention is not None and retention <= policy.storage.log_retention_days:
        return None
    gb = group.stored_bytes / GB
    rate = logs_rate(region, rates)
    action = ActionKind.SET_LOG_RETENTION if policy.storage.set_log_retention else None
    return Finding(
        kind=FindingKind.LOG_RETENTION, resource_id=group.name, resource_type="logs:log-group",
        resource_arn=group.arn or arn("logs", region, account, f"log-group:{group.name}"),
        account=account, region=region, environment=policy.environments.default, verdict=Verdict.NO_RETENTION,
        reason=(f"retention {'never expires' if retention is None else f'{retention} days'}; policy maximum "
                f"{policy.storage.log_retention_days} days; {gb:,.1f} GB stored"),
        monthly_usd=round(gb * rate.hourly_usd, 2) if rate.hourly_usd is not None else None,
        price_source=f"stored bytes × {rate.source}" if rate.hourly_usd is not None else rate.source,
        evidence={"retention_days": retention, "stored_gb": round(gb, 2)}, action=action,
        action_status="planned" if action else None, run_id=run_id, observed_at=now, severity="low")
