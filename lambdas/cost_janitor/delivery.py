"""Record and publish, in one place every capability uses: the ledger (what was done), SNS (the findings topic,
with an outbox in the ledger when SNS refuses) — or, in a member of an organization, the member's bus (→ the hub)
with the same outbox, plus the hub outbox for what the hub refused — and the run's metrics. Nothing else publishes
findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from cost_janitor.adapters.bus import BusPublisher, announce_started, redrive
from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.adapters.sns import FindingsPublisher
from cost_janitor.core.models import Finding, Started
from cost_janitor.core.report import ends_savings
from cost_janitor.observability import (
    METRIC_ESTIMATED_SAVINGS,
    METRIC_FINDINGS,
    METRIC_FINDINGS_BY_KIND,
    METRIC_PUBLISH_FAILURES,
    count_by,
    logger,
    metrics,
)
from cost_janitor.settings import Settings


def ledger_for(settings: Settings) -> Ledger | None:
    """The ledger, where the stack wired one (the CLI may run without)."""
    return Ledger(client("dynamodb", settings.region), settings.ledger_table) if settings.ledger_table else None


def publisher_for(settings: Settings) -> FindingsPublisher | BusPublisher | None:
    """Where findings go: a member's bus (→ the hub: organization mode), else the stack's findings topic."""
    if settings.findings_bus_name:
        return BusPublisher(client("events", settings.region), settings.findings_bus_name)
    if settings.findings_topic_arn:
        return FindingsPublisher(client("sns", settings.region), settings.findings_topic_arn)
    return None


def _redrive_hub_outbox(settings: Settings, publisher: BusPublisher) -> int:
    """A member's batches the hub refused (bus policy, hub down): put on the bus again, once a run. Failing to
    reach them is logged, never fatal: they stay in the queue."""
    if not settings.hub_outbox_queue_url:
        return 0
    try:
        sent = redrive(client("sqs", settings.region), settings.hub_outbox_queue_url, publisher)
    except ClientError as exc:
        metrics.add_metric(name=METRIC_PUBLISH_FAILURES, unit=MetricUnit.Count, value=1)
        logger.error("hub outbox not sent; kept for the next run", extra={"error_code": exc.response["Error"]["Code"]})
        return 0
    if sent:
        logger.info("hub outbox sent again", extra={"events": sent})
    return sent


def _drain_outbox(ledger: Ledger, publisher: FindingsPublisher | BusPublisher) -> int:
    """Publish what earlier runs could not. Each waiting batch is taken (a conditional delete) before it is
    published, so two runs draining at once never publish it twice; one SNS refuses again goes back."""
    sent = 0
    for key, _, _ in ledger.outbox():
        taken = ledger.take_outbox(key)
        if taken is None:
            continue  # another run took it first and publishes it
        try:
            sent += publisher.publish(taken[1], run_id=taken[0])
        except ClientError:
            ledger.return_outbox(key, *taken)
            raise
    return sent


def end_savings(started: Sequence[Started], ledger: Ledger, *, source: Callable[[Started], str]) -> list[Started]:
    """The starts that end savings the ledger counts (core.report.ends_savings: once — a start already recorded, by
    the state-change rule say, is not recorded twice), recorded; returns them. Every path that hears of a start
    (the sweep, EC2's state change, a member's event at the hub) records it here."""
    recorded = [s for s in started
                if ends_savings(ledger.history(s.resource_id), s.at, resource_type=s.resource_type)]
    for s in recorded:
        ledger.record_started(s.resource_id, at=s.at.isoformat(), source=source(s))
    return recorded


def record_starts(started: Sequence[Started], ledger: Ledger, settings: Settings) -> list[Started]:
    """Resources the janitor stopped or deleted that run again: their savings end in the ledger, and in a member
    the hub hears too (its digest counts the member's savings). Returns those recorded."""
    recorded = end_savings(started, ledger, source=lambda s: f"{s.resource_type} seen running again")
    if recorded and settings.findings_bus_name:
        try:
            announce_started(client("events", settings.region), settings.findings_bus_name, recorded)
        except ClientError as exc:  # the hub then overstates these savings until the next restart it hears of
            metrics.add_metric(name=METRIC_PUBLISH_FAILURES, unit=MetricUnit.Count, value=1)
            logger.error("restarts not sent to the hub", extra={"error_code": exc.response["Error"]["Code"],
                                                                "resources": len(recorded)})
    return recorded


def deliver(findings: Sequence[Finding], settings: Settings, *, run_id: str) -> int:
    """Record actions in the ledger and publish what people should hear about; returns SNS messages sent.
    If SNS refuses, the findings wait in the ledger's outbox and go out with the next run (of any capability):
    the actions are done, so failing the run (and re-running them) would be worse."""
    ledger = ledger_for(settings)
    if ledger:
        ledger.record(findings)
    publishable = [f for f in findings if f.publishable]
    metrics.add_metric(name=METRIC_FINDINGS, unit=MetricUnit.Count, value=len(publishable))
    for kind, n in Counter(f.kind for f in publishable).items():
        count_by(METRIC_FINDINGS_BY_KIND, "kind", kind, n)
    metrics.add_metric(name=METRIC_ESTIMATED_SAVINGS, unit=MetricUnit.Count,
                       value=round(sum(f.monthly_usd or 0 for f in publishable), 2))
    publisher = publisher_for(settings)
    if publisher is None:
        return 0
    sent = _redrive_hub_outbox(settings, publisher) if isinstance(publisher, BusPublisher) else 0
    try:
        if ledger:
            sent += _drain_outbox(ledger, publisher)
        if publishable:
            sent += publisher.publish(publishable, run_id=run_id)
    except ClientError as exc:
        metrics.add_metric(name=METRIC_PUBLISH_FAILURES, unit=MetricUnit.Count, value=1)
        logger.error("findings not published; kept for the next run",
                     extra={"error_code": exc.response["Error"]["Code"], "findings": len(publishable)})
        if not ledger:
            raise
        ledger.save_outbox(run_id, publishable)
    return sent


def record_forwarded(findings: Sequence[Finding], settings: Settings, *, account: str) -> int:
    """On a hub: a member's findings, as they arrive, go in the hub's ledger too (actor `member <account>`), so the
    one digest counts every member's savings. A batch sent twice writes the same items again (same keys)."""
    ledger = ledger_for(settings)
    return ledger.record(findings, actor=f"member {account}") if ledger else 0


def publish_digest(document: Mapping[str, Any], email: str, settings: Settings) -> int:
    """The weekly digest: one message on the findings topic (kind=weekly-digest, which the notifier's subscription
    filters out), JSON for machines and readable text for email."""
    if not settings.findings_topic_arn:
        return 0
    FindingsPublisher(client("sns", settings.region), settings.findings_topic_arn).publish_document(
        document, email=email, subject="cost-janitor: weekly digest", kind="weekly-digest")
    return 1
