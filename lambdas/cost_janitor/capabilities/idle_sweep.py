"""The nightly idle sweep: the resource families the policy's idle.services turn on (families/: EC2 instances,
SageMaker endpoints, notebook instances, Studio, ...), region by region; then mark → tell → re-check → act for dev,
ask for prod. The sweep knows no family by name: each reads and judges its resources, looks again at what it is
about to act on, and owns its actions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.core.errors import AUTHORIZATION_ERRORS
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.delivery import deliver, record_starts
from cost_janitor.families import Family, Night, call_for, covering
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
    families: list[str] = field(default_factory=list)  # the families swept, by name

    def denied_everywhere(self) -> dict[str, str]:
        """Region → access-denied code when every family in every region reached was refused (the credentials, not
        the account, are wrong); empty otherwise."""
        reached = [r for r in self.regions if r not in self.not_reached]
        codes = {r: [self.failed_regions.get(f"{r} ({f})") for f in self.families] for r in reached}
        if not reached or not self.families or any(c not in AUTHORIZATION_ERRORS for cs in codes.values() for c in cs):
            return {}
        return {r: str(cs[0]) for r, cs in codes.items()}

    def summary(self) -> dict[str, Any]:
        idle = [f for f in self.findings if f.monthly_usd is not None]
        return {
            "run_id": self.run_id, "dry_run": self.dry_run, "regions": self.regions, "families": self.families,
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
          services: list[str] | None = None, families: list[Family] | None = None) -> SweepReport:
    """The whole sweep; the Lambda, the CLI and the demo all call this. With `remaining_ms` (the Lambda's clock)
    it starts no region once less than RESERVE_MS is left, reports the regions it did not reach, and the next run
    starts with them. `services` replaces the policy's idle.services for this run (the CLI's --services: a laptop
    sweep of a service the deployed policy leaves off, such as eks, is what was asked for); `families` replaces the
    families those turn on."""
    covered = list(policy.idle.services if services is None else services)
    swept = families if families is not None else covering(covered)
    ledger = Ledger(client("dynamodb", settings.region), settings.ledger_table) if settings.ledger_table else None
    wanted = regions or policy.regions or [settings.region]
    behind = [r for r in (ledger.sweep_backlog() if ledger else []) if r in wanted]
    report = SweepReport(run_id, dry_run, behind + [r for r in wanted if r not in behind], [],
                         families=[f.name for f in swept])
    night = Night(policy, now, run_id, ledger, calls=report.api_calls)
    for region in report.regions:
        if remaining_ms is not None and remaining_ms() < RESERVE_MS:
            report.not_reached.append(region)
            continue
        for family in swept:
            try:
                report.findings += family.read(region, night)
            except ClientError as exc:  # one region denied or down: the others still run; coverage is reported
                key = f"{region} ({family.name})"
                report.failed_regions[key] = exc.response["Error"]["Code"]
                logger.error("not swept", extra={"region": region, "family": family.name,
                                                 "error_code": report.failed_regions[key]})
                metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count, value=1)
    report.metrics_requested = night.metrics_requested
    if report.not_reached:
        logger.warning("time ran short; regions left for the next run", extra={"regions": report.not_reached})
        metrics.add_metric(name=METRIC_NOT_EVALUATED, unit=MetricUnit.Count, value=len(report.not_reached))
    if ledger:
        ledger.set_sweep_backlog(report.regions, report.not_reached)
    report.findings = _recheck(report.findings, swept, night)
    report.findings = Executor(client, dry_run=dry_run, calls=call_for).execute(report.findings, policy, now=now)
    for family in swept:
        family.acted(report.findings, night)
    if ledger:
        report.restarted = len(record_starts(night.starts, ledger, settings))
    report.messages_published = deliver(report.findings, settings, run_id=run_id)
    logger.info("sweep finished", extra=report.summary())
    return report


def _recheck(findings: list[Finding], families: list[Family], night: Night) -> list[Finding]:
    """Minutes pass between reading a region and acting: each resource about to be stopped or deleted is looked at
    again by its family just before acting, and its action re-decided on what it is now. A region where a family
    cannot look again acts on nothing of that family this run: nothing is acted on stale information."""
    fresh: dict[tuple[str, str], Finding] = {}
    for family in families:
        due: dict[str, list[Finding]] = {}
        for f in findings:
            if f.resource_type in family.resource_types and f.action in family.rechecked \
                    and f.action_status == "planned":
                due.setdefault(f.region, []).append(f)
        for region, planned in due.items():
            try:
                again = family.recheck(region, planned, night)
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                logger.error("actions not re-checked, so not made",
                             extra={"region": region, "family": family.name, "error_code": code})
                again = [f.model_copy(update={
                    "action_status": "skipped", "action_error": code,
                    "notes": (*f.notes, "not carried out: it could not be looked at again before acting")})
                    for f in planned]
            fresh.update({(f.region, f.resource_id): f for f in again})
    return [fresh.get((f.region, f.resource_id), f) for f in findings]
