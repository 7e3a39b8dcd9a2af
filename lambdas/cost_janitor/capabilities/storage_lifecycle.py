"""Weekly storage run: merge lifecycle profiles into ML buckets (never losing a user's rule), and report — or,
opt-in, act on — unattached volumes, old snapshots and log groups that never expire."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.cloudwatch import CloudWatchReader, MetricQuery
from cost_janitor.adapters.ec2 import Ebs
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.adapters.logs import LogGroups
from cost_janitor.adapters.pricing import night_prices
from cost_janitor.adapters.s3 import S3Buckets
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.core.storage import (
    EBS_PRICED_REGIONS,
    S3_PRICES,
    BucketPlan,
    plan_bucket,
    plan_log_group,
    plan_snapshot,
    plan_volume,
)
from cost_janitor.delivery import deliver
from cost_janitor.observability import METRIC_NOT_EVALUATED, logger, metrics, tracer
from cost_janitor.settings import Settings

RESERVE_MS = 120_000  # time kept for writing the merged rules, acting on volumes, recording and publishing
BUCKET_CURSOR = "storage-buckets"


@dataclass
class StorageReport:
    run_id: str
    dry_run: bool
    findings: list[Finding] = field(default_factory=list)
    diffs: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    not_reached_regions: list[str] = field(default_factory=list)
    not_reached_buckets: list[str] = field(default_factory=list)
    pricing_calls: Counter[str] = field(default_factory=Counter)  # the Price List API and its weekly cache

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "dry_run": self.dry_run,
                "findings": dict(Counter(f"{f.kind}:{f.verdict}" for f in self.findings)),
                "actions": dict(Counter(f"{f.action}:{f.action_status}" for f in self.findings if f.action)),
                "estimated_monthly_usd": round(sum(f.monthly_usd or 0 for f in self.findings), 2),
                "failed": self.failed, "not_reached_regions": self.not_reached_regions,
                "not_reached_buckets": len(self.not_reached_buckets), "pricing_calls": dict(self.pricing_calls)}


@tracer.capture_method
def run(policy: Policy, settings: Settings, *, now: datetime, run_id: str, dry_run: bool, account: str,
                buckets: list[str] | None = None, regions: list[str] | None = None,
                remaining_ms: Callable[[], int] | None = None) -> StorageReport:
    """The recipe; the Lambda, the CLI and the demo call it. With `remaining_ms` (the Lambda's clock) it starts
    nothing once less than RESERVE_MS is left: the regions' volumes, snapshots and log groups first (a few paged
    calls each), then the buckets (four calls each) from where the last short run stopped; what it did not reach
    is reported, and the next run starts there."""
    report = StorageReport(run_id, dry_run)
    ledger = Ledger(client("dynamodb", settings.region), settings.ledger_table) if settings.ledger_table else None

    def short() -> bool:
        return remaining_ms is not None and remaining_ms() < RESERVE_MS

    for region in regions or policy.regions or [settings.region]:
        if short():
            report.not_reached_regions.append(region)
            continue
        try:
            report.findings += _region_findings(policy, region, account=account, now=now, run_id=run_id,
                                                ledger=ledger, calls=report.pricing_calls)
        except ClientError as exc:
            report.failed[region] = exc.response["Error"]["Code"]
    payload: dict[str, Any] = {}
    for plan in _bucket_plans(policy, settings, report, now=now, account=account, only=buckets, short=short,
                              ledger=None if buckets else ledger):
        if plan.finding is None:
            continue
        report.findings.append(plan.finding)
        if plan.configuration is not None:
            payload[plan.finding.resource_id] = plan.configuration
            report.diffs[plan.finding.resource_id] = plan.diff
    if report.failed:  # a bucket or region denied or gone: partial coverage, which the alarm watches
        logger.error("not evaluated", extra={"failed": report.failed})
        metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count, value=len(report.failed))
    if report.not_reached_regions or report.not_reached_buckets:
        logger.warning("time ran short; left for the next run", extra={
            "regions": report.not_reached_regions, "buckets": len(report.not_reached_buckets),
            "next_bucket": report.not_reached_buckets[0] if report.not_reached_buckets else None})
        metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count,
                           value=len(report.not_reached_regions) + len(report.not_reached_buckets))
    report.findings = Executor(client, dry_run=dry_run).execute(report.findings, policy, now=now, payload=payload)
    deliver(report.findings, settings, run_id=run_id)
    logger.info("storage run finished", extra=report.summary())
    return report


def _bucket_plans(policy: Policy, settings: Settings, report: StorageReport, *, now: datetime, account: str,
                  only: list[str] | None, short: Callable[[], bool], ledger: Ledger | None) -> list[BucketPlan]:
    home = S3Buckets(client("s3", settings.region))
    names = only or sorted(home.names())
    after = ledger.cursor(BUCKET_CURSOR) if ledger else None
    if after is not None:  # the last run stopped after this bucket: start behind it, come round to the rest
        names = [n for n in names if n > after] + [n for n in names if n <= after]
    read: list[dict[str, Any]] = []
    for k, name in enumerate(names):
        if short():
            report.not_reached_buckets = names[k:]
            break
        try:
            region = home.region(name)
            s3 = S3Buckets(client("s3", region))
            tags = s3.tags(name)
            if not (policy.lifecycle.buckets.get(name) or tags.get(policy.lifecycle.profile_tag)):
                continue
            read.append({"bucket": name, "region": region, "tags": tags, "versioned": s3.versioned(name),
                         "current": s3.lifecycle(name)})
        except ClientError as exc:  # one bucket denied or gone: the others still run
            report.failed[name] = exc.response["Error"]["Code"]
    if ledger:
        reached = len(names) - len(report.not_reached_buckets)
        if not report.not_reached_buckets:
            ledger.set_cursor(BUCKET_CURSOR, None)  # all done: the next run starts from the beginning
        elif reached:
            ledger.set_cursor(BUCKET_CURSOR, names[reached - 1])
    sizes = _standard_bytes(read, now)
    wanted = {(f"s3:{c}", b["region"]) for b in read if b["region"] != "us-east-1" and sizes.get(b["bucket"])
              for c in ("STANDARD", *S3_PRICES)}
    rates = night_prices({}, report.pricing_calls, "rates", wanted, ledger=ledger, now=now)
    return [plan_bucket(bucket=b["bucket"], region=b["region"], account=account, tags=b["tags"],
                        versioned=b["versioned"], current=b["current"], standard_bytes=sizes.get(b["bucket"]),
                        policy=policy, now=now, run_id=report.run_id, rates=rates) for b in read]


def _standard_bytes(buckets: list[dict[str, Any]], now: datetime) -> dict[str, float | None]:
    """S3's daily BucketSizeBytes (StandardStorage), the largest of the last 3 days, one batched read per region."""
    out: dict[str, float | None] = {}
    for region in {b["region"] for b in buckets}:
        queries = [MetricQuery(b["bucket"], "AWS/S3", "BucketSizeBytes",
                               (("BucketName", b["bucket"]), ("StorageType", "StandardStorage")), "Maximum")
                   for b in buckets if b["region"] == region]
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        found, _ = CloudWatchReader(client("cloudwatch", region)).read(queries, start=end - timedelta(days=3),
                                                                       end=end, period=86400)
        out.update({str(k): s.maximum for k, s in found.items()})
    return out


def _region_findings(policy: Policy, region: str, *, account: str, now: datetime, run_id: str, ledger: Ledger | None,
                     calls: Counter[str]) -> list[Finding]:
    ebs = Ebs(client("ec2", region))
    volumes = ebs.unattached_volumes()
    snapshots = ebs.own_snapshots()
    states = ebs.snapshot_states([v.tags[policy.storage.snapshot_tag] for v in volumes
                                  if policy.storage.snapshot_tag in v.tags])
    groups = LogGroups(client("logs", region)).groups()
    wanted = ({(f"ebs:{v.volume_type}", region) for v in volumes} | ({("ebs:snapshot", region)} if snapshots else set())
              | ({("logs:storage", region)} if groups else set()))
    rates = night_prices({}, calls, "rates", wanted if region not in EBS_PRICED_REGIONS else set(), ledger=ledger,
                         now=now)
    findings = [f for v in volumes if (f := plan_volume(
        volume=v, snapshot_state=states.get(v.tags.get(policy.storage.snapshot_tag, "")), account=account,
        region=region, policy=policy, now=now, run_id=run_id, rates=rates))]
    used = ebs.ami_snapshot_ids()
    findings += [f for s in snapshots if (f := plan_snapshot(
        snapshot=s, used_by_ami=s.snapshot_id in used, account=account, region=region, policy=policy, now=now,
        run_id=run_id, rates=rates))]
    findings += [f for g in groups if (f := plan_log_group(
        group=g, account=account, region=region, policy=policy, now=now, run_id=run_id, rates=rates))]
    return findings
