"""The nightly idle sweep: GPU-aware verdicts per region; mark → tell → re-check → stop for dev, ask for prod. It
covers the policy's services (idle.services): EC2 instances, and SageMaker real-time endpoints (deleted only with
the opt-in, restorable) and notebook instances (stopped)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.cloudwatch import CloudWatchReader, UsageReader
from cost_janitor.adapters.ec2 import Ec2Inventory
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.adapters.sagemaker import EndpointUsageReader, SageMakerInventory
from cost_janitor.core.idle import (
    PROTECTION_KEPT,
    classify_instances,
    protection_reads,
    recheck,
    started_again,
    stop_candidates,
)
from cost_janitor.core.models import STOPS, ActionKind, Finding, Instance, Started, Usage
from cost_janitor.core.policy import Policy
from cost_janitor.core.sagemaker import (
    APP_TYPE,
    ENDPOINT_TYPE,
    NOTEBOOK_TYPE,
    Endpoint,
    classify_apps,
    classify_domains,
    classify_endpoints,
    classify_notebooks,
    needs_description,
    recheck_endpoint,
)
from cost_janitor.delivery import deliver, record_starts
from cost_janitor.observability import METRIC_NOT_EVALUATED, logger, metrics, tracer
from cost_janitor.settings import Settings

RESERVE_MS = 120_000  # time kept for acting on, recording and publishing what was read


@dataclass
class SweepReport:
    run_id: str
    dry_run: bool
    regions: list[str]
    findings: list[Finding]
    failed_regions: dict[str, str] = field(default_factory=dict)
    not_reached: list[str] = field(default_factory=list)
    messages_published: int = 0
    api_calls: Counter[str] = field(default_factory=Counter)
    metrics_requested: int = 0  # GetMetricData's billing unit, for the own-cost model and the benchmarks
    restarted: int = 0  # resources the janitor stopped or deleted that their owners started again

    def summary(self) -> dict[str, Any]:
        idle = [f for f in self.findings if f.monthly_usd is not None]
        return {
            "run_id": self.run_id, "dry_run": self.dry_run, "regions": self.regions,
            "instances": len(self.findings),
            "verdicts": dict(Counter(str(f.verdict) for f in self.findings)),
            "actions": dict(Counter(f"{f.action}:{f.action_status}" if f.action_status else str(f.action)
                                    for f in self.findings if f.action)),
            "estimated_monthly_usd": round(sum(f.monthly_usd or 0 for f in idle), 2),
            "failed_regions": self.failed_regions, "not_reached": self.not_reached,
            "messages_published": self.messages_published,
            "api_calls": dict(self.api_calls),
        }


@tracer.capture_method
def run(policy: Policy, settings: Settings, *, now: datetime, run_id: str, dry_run: bool,
          regions: list[str] | None = None, remaining_ms: Callable[[], int] | None = None,
          services: list[str] | None = None) -> SweepReport:
    """The whole sweep; the Lambda, the CLI and the demo all call this. With `remaining_ms` (the Lambda's clock)
    it starts no region once less than RESERVE_MS is left, reports the regions it did not reach, and the next run
    starts with them. `services` narrows the policy's idle.services (the CLI's --services)."""
    covered = [s for s in policy.idle.services if services is None or s in services]
    ledger = Ledger(client("dynamodb", settings.region), settings.ledger_table) if settings.ledger_table else None
    wanted = regions or policy.regions or [settings.region]
    behind = [r for r in (ledger.sweep_backlog() if ledger else []) if r in wanted]
    report = SweepReport(run_id, dry_run, behind + [r for r in wanted if r not in behind], [])
    usage: dict[str, Usage] = {}
    starts: list[Started] = []
    watching: dict[str, dict[str, datetime]] = {}  # region → the boxes the janitor stopped there, as read tonight
    for region in report.regions:
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:
            report.not_reached.append(region)
            continue
        if "sagemaker" in covered:
            report.findings += _sweep_sagemaker(region, policy, ledger, now=now, run_id=run_id, report=report,
                                                starts=starts)
        if "ec2" not in covered:
            continue
        try:
            inventory = Ec2Inventory(client("ec2", region), region)
            instances = inventory.running_instances()
            cloudwatch = CloudWatchReader(client("cloudwatch", region))
            read = UsageReader(cloudwatch).read(instances, policy, now=now)
        except ClientError as exc:  # one region denied or down: the others still run; coverage is reported
            report.failed_regions[region] = exc.response["Error"]["Code"]
            logger.error("region not swept", extra={"region": region, "error_code": report.failed_regions[region]})
            metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count, value=1)
            continue
        if ledger:
            starts += _ec2_started_again(instances, ledger, region, watching, now=now)
        findings = classify_instances(instances, read, policy, now=now, run_id=run_id)
        report.api_calls.update({"DescribeInstances+Spot": inventory.calls, **cloudwatch.calls})
        report.metrics_requested += cloudwatch.metrics_requested
        usage.update(read)
        report.findings += _with_stop_protection(findings, instances, read, inventory, policy, ledger, region=region,
                                                 now=now, run_id=run_id, calls=report.api_calls)
    if report.not_reached:
        logger.warning("time ran short; regions left for the next run", extra={"regions": report.not_reached})
        metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count, value=len(report.not_reached))
    if ledger:
        ledger.set_sweep_backlog(report.regions, report.not_reached)
    report.findings = _recheck_stops(report, usage, policy, now=now)
    report.findings = _recheck_sagemaker(report, policy, now=now)
    report.findings = Executor(client, dry_run=dry_run).execute(report.findings, policy, now=now)
    if ledger:
        _watch_stopped(report.findings, ledger, watching, now=now)
        report.restarted = len(record_starts(starts, ledger, settings))
    report.messages_published = deliver(report.findings, settings, run_id=run_id)
    logger.info("sweep finished", extra=report.summary())
    return report


def _with_stop_protection(findings: list[Finding], instances: list[Instance], usage: dict[str, Usage],
                          inventory: Ec2Inventory, policy: Policy, ledger: Ledger | None, *, region: str,
                          now: datetime, run_id: str, calls: Counter[str]) -> list[Finding]:
    """A box with stop protection (DisableApiStop) would be marked and fail to stop every night: its attribute is
    read for the mark/stop candidates only (one call each, never the whole fleet; a box found protected is kept in
    the ledger and not read again for a week) and those protected are judged again knowing it (not-stoppable)."""
    known = ledger.stop_protected(region) if ledger and stop_candidates(findings) else {}
    reads, protected = protection_reads(findings, known, now=now)
    if not reads and not protected:
        return findings
    before = inventory.calls
    read = inventory.stop_protection(reads)
    calls["DescribeInstanceAttribute"] += inventory.calls - before
    protected |= {iid for iid, on in read.items() if on}
    if ledger:
        kept = {iid: at for iid, at in known.items() if iid not in read and now - at < PROTECTION_KEPT}
        kept.update({iid: now for iid, on in read.items() if on})
        if kept != known:
            ledger.save_stop_protected(region, kept)
    if not protected:
        return findings
    again = {f.resource_id: f for f in classify_instances(
        [i.model_copy(update={"stop_protected": True}) for i in instances if i.instance_id in protected],
        usage, policy, now=now, run_id=run_id)}
    return [again.get(f.resource_id, f) for f in findings]


def _recheck_stops(report: SweepReport, usage: dict[str, Usage], policy: Policy, *, now: datetime) -> list[Finding]:
    """Minutes pass between reading a region and acting: each instance about to be stopped is described again
    (one call per 200) and its stop re-decided on what it is now (core.idle.recheck). A region where that look
    fails stops nothing this run: nothing is stopped on stale information."""
    due: dict[str, list[str]] = {}
    for f in report.findings:
        if f.action in STOPS:
            due.setdefault(f.region, []).append(f.resource_id)
    current: dict[str, Instance] = {}
    unchecked: dict[str, str] = {}
    for region, ids in due.items():
        inventory = Ec2Inventory(client("ec2", region), region)
        try:
            current.update(inventory.current(ids))
        except ClientError as exc:
            unchecked[region] = exc.response["Error"]["Code"]
            logger.error("stops not re-checked, so not made", extra={"region": region, "error_code": unchecked[region]})
        report.api_calls["DescribeInstances (re-check)"] += inventory.calls
    out = []
    for f in report.findings:
        if f.action in STOPS and f.region in unchecked:
            f = f.model_copy(update={"action_status": "skipped", "action_error": unchecked[f.region],
                                     "notes": (*f.notes, "not stopped: it could not be looked at again before acting")})
        elif f.action in STOPS:
            f = recheck(f, current.get(f.resource_id), usage.get(f.resource_id, Usage()), policy, now=now)
        out.append(f)
    return out


def _sweep_sagemaker(region: str, policy: Policy, ledger: Ledger | None, *, now: datetime, run_id: str,
                     report: SweepReport, starts: list[Started]) -> list[Finding]:
    """Endpoints (listed, their metrics read in batches, only the candidates described) and notebook instances, in
    one region. A region where SageMaker cannot be read is reported like an EC2 one; the rest of the sweep runs."""
    inventory = SageMakerInventory(client("sagemaker", region), client("resourcegroupstaggingapi", region), region)
    cloudwatch = CloudWatchReader(client("cloudwatch", region))
    try:
        endpoints = inventory.endpoints()
        usage, not_read = EndpointUsageReader(cloudwatch).read(endpoints, policy, now=now)
        wanted = [e for e in endpoints if e.name not in not_read
                  and needs_description(e, usage.get(e.name, {}), policy, now=now)]
        described = inventory.describe(wanted, ledger, now=now)
        endpoints = [described.get(e.name) or e for e in endpoints if described.get(e.name, e) is not None]
        async_usage, async_not_read = EndpointUsageReader(cloudwatch).read_async(endpoints, policy, now=now)
        not_read |= async_not_read
        notebooks = inventory.notebooks()
        domains = inventory.domains()
        apps = inventory.apps(domains)
    except ClientError as exc:
        key = f"{region} (sagemaker)"
        report.failed_regions[key] = exc.response["Error"]["Code"]
        logger.error("SageMaker not swept", extra={"region": region, "error_code": report.failed_regions[key]})
        metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count, value=1)
        return []
    finally:
        report.api_calls.update({f"sagemaker:{k}": v for k, v in inventory.calls.items()})
        report.api_calls.update({f"sagemaker:{k}": v for k, v in cloudwatch.calls.items() if v})
        report.metrics_requested += cloudwatch.metrics_requested
    starts += [Started(resource_id=n.name, resource_type=NOTEBOOK_TYPE, region=region, at=n.last_modified)
               for n in notebooks if n.status == "InService" and now - n.last_modified <= timedelta(hours=26)]
    starts += [Started(resource_id=a.resource_id, resource_type=APP_TYPE, region=region, at=a.created)
               for a in apps if now - a.created <= timedelta(hours=26)]
    return (classify_endpoints(endpoints, usage, policy, now=now, run_id=run_id, not_read=not_read,
                               async_usage=async_usage)
            + classify_notebooks(notebooks, policy, now=now, run_id=run_id)
            + classify_domains(domains, policy, now=now, run_id=run_id)
            + classify_apps(apps, policy, now=now, run_id=run_id))


def _ec2_started_again(running: list[Instance], ledger: Ledger, region: str,
                       watching: dict[str, dict[str, datetime]], *, now: datetime) -> list[Started]:
    """Boxes the janitor stopped in this region that run again (one ledger read a region, kept in `watching` for
    tonight's stops): EC2 sends state-change events only in the instance's own region, so this is how starts in
    every other region end their savings."""
    stopped = ledger.janitor_stopped(region)
    again, still = started_again(stopped, running, now=now)
    watching[region] = still
    if still != stopped:
        ledger.save_janitor_stopped(region, still)
    return [Started(resource_id=iid, resource_type="ec2:instance", region=region, at=at) for iid, at in again]


def _watch_stopped(findings: list[Finding], ledger: Ledger, watching: dict[str, dict[str, datetime]], *,
                   now: datetime) -> None:
    """Boxes stopped tonight join their region's watch list (one write a region with stops; the list as read
    earlier tonight)."""
    by_region: dict[str, list[str]] = {}
    for f in findings:
        if f.action in STOPS and f.action_status == "done":
            by_region.setdefault(f.region, []).append(f.resource_id)
    for region, ids in by_region.items():
        known = watching[region] if region in watching else ledger.janitor_stopped(region)
        ledger.save_janitor_stopped(region, {**known, **dict.fromkeys(ids, now)})


RECHECKED = (ActionKind.DELETE_ENDPOINT, ActionKind.STOP_NOTEBOOK, ActionKind.DELETE_APP)


def _recheck_sagemaker(report: SweepReport, policy: Policy, *, now: datetime) -> list[Finding]:
    """Each endpoint or Studio app about to be deleted and each notebook instance about to be stopped is looked at
    again just before acting (its state and tags now); a region where that look fails deletes and stops nothing."""
    due: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.action in RECHECKED:
            due.setdefault(f.region, []).append(f)
    fresh: dict[tuple[str, str], Finding | None] = {}
    for region, planned in due.items():
        inventory = SageMakerInventory(client("sagemaker", region), client("resourcegroupstaggingapi", region), region)
        try:
            endpoints = inventory.current([_endpoint_of(f) for f in planned if f.resource_type == ENDPOINT_TYPE])
            notebooks = {n.name: n for n in inventory.notebooks()} if any(
                f.resource_type == NOTEBOOK_TYPE for f in planned) else {}
            apps = {a.resource_id: a for a in inventory.apps(inventory.domains())} if any(
                f.resource_type == APP_TYPE for f in planned) else {}
        except ClientError as exc:
            logger.error("SageMaker actions not re-checked, so not made",
                         extra={"region": region, "error_code": exc.response["Error"]["Code"]})
            fresh.update({(f.region, f.resource_id): None for f in planned})
            continue
        finally:
            report.api_calls.update({f"sagemaker:{k} (re-check)": v for k, v in inventory.calls.items()})
        for f in planned:
            if f.resource_type == ENDPOINT_TYPE:
                fresh[(region, f.resource_id)] = recheck_endpoint(f, endpoints.get(f.resource_id), policy, now=now)
            else:
                now_nb, now_app = notebooks.get(f.resource_id), apps.get(f.resource_id)
                again = classify_notebooks([now_nb], policy, now=now, run_id=f.run_id)[0] if now_nb else \
                    next(iter(classify_apps([now_app], policy, now=now, run_id=f.run_id)), None) if now_app else None
                fresh[(region, f.resource_id)] = f if again is not None and again.action == f.action else \
                    f.model_copy(update={"action": None, "action_status": None, "notes": (
                        *f.notes, "not stopped: it changed between read and act (stopped, kept or re-tagged)")})
    out = []
    for f in report.findings:
        key = (f.region, f.resource_id)
        if key in fresh and f.action in RECHECKED:
            again = fresh[key]
            f = again if again is not None else f.model_copy(update={
                "action_status": "skipped", "action_error": "not-rechecked",
                "notes": (*f.notes, "not carried out: it could not be looked at again before acting")})
        out.append(f)
    return out


def _endpoint_of(f: Finding) -> Endpoint:
    return Endpoint(name=f.resource_id, arn=f.resource_arn, region=f.region, account=f.account,
                    created=f.observed_at, last_modified=f.observed_at)
