"""What every handler shares: the decorator stack, bad-event rejection, policy, idempotency and delivery."""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.adapters.sns import FindingsPublisher
from cost_janitor.adapters.ssm import PolicyStore
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.errors import BadEventError, ConfigError
from cost_janitor.events import parse_event
from cost_janitor.observability import (
    METRIC_ESTIMATED_SAVINGS,
    METRIC_FINDINGS,
    METRIC_FINDINGS_BY_KIND,
    METRIC_PUBLISH_FAILURES,
    count_by,
    logger,
    metrics,
    tracer,
)
from cost_janitor.settings import Settings

M = TypeVar("M", bound=BaseModel)
MAX_DLQ_BYTES = 200 * 1024
METRIC_BAD_EVENTS = "BadEvents"


def janitor_handler(model: type[M]) -> Callable[[Callable[[M, LambdaContext], Any]], Callable[..., Any]]:
    """Logger context, tracing, metrics, and the event typed at the edge; a bad event is rejected, not retried."""

    def wrap(fn: Callable[[M, LambdaContext], Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        @logger.inject_lambda_context(clear_state=True)
        @tracer.capture_lambda_handler
        @metrics.log_metrics
        def handler(event: Any, context: LambdaContext) -> Any:
            try:
                parsed = parse_event(model, event)
            except BadEventError as exc:
                return reject(event, exc)
            return fn(parsed, context)

        return handler

    return wrap


def reject(event: Any, error: BadEventError) -> dict[str, str]:
    """Log the reason, park the event in the DLQ and return normally, so Lambda does not retry it."""
    logger.error("bad event rejected", extra={"reason": str(error)})
    metrics.add_metric(name=METRIC_BAD_EVENTS, unit=MetricUnit.Count, value=1)
    queue = os.environ.get("DLQ_URL")
    if not queue:
        raise error  # no queue wired: let Lambda's own retry limit and DLQ take it
    body = json.dumps(event, default=str)
    if len(body.encode()) > MAX_DLQ_BYTES:
        body = json.dumps({"truncated": True, "head": body[:MAX_DLQ_BYTES // 2]})
    client("sqs").send_message(QueueUrl=queue, MessageBody=body, MessageAttributes={
        "reason": {"DataType": "String", "StringValue": str(error)[:1000]}})
    return {"status": "rejected", "reason": str(error)}


@lru_cache(maxsize=4)
def _policy_store(ssm: Any) -> PolicyStore:
    """One store per SSM client, so Powertools' parameter cache survives across warm invocations."""
    return PolicyStore(ssm)


def load_policy_for(settings: Settings) -> Policy:
    if not settings.policy_parameter:
        raise ConfigError("missing environment variable(s): POLICY_PARAMETER")
    return _policy_store(client("ssm", settings.region)).load(settings.policy_parameter)


@lru_cache(maxsize=8)
def _persistence(table: str, region: str, key_path: str) -> DynamoDBPersistenceLayer:
    """One store per idempotency key path: Powertools configures a store once and keeps its first key path."""
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb", region))


def idempotent_run(run: Callable[[M], dict[str, Any]], event: M, settings: Settings,
                   context: LambdaContext) -> dict[str, Any]:
    """Run once per event id: a duplicate or retried delivery returns the first run's result."""
    settings.require("idempotency_table")
    config = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=24 * 3600,
                               raise_on_no_idempotency_key=True)
    config.register_lambda_context(context)
    store = _persistence(str(settings.idempotency_table), settings.region, "id")
    once = idempotent_function(data_keyword_argument="event", persistence_store=store, config=config)(run)
    result: dict[str, Any] = once(event=event)
    return result


def idempotent_call(fn: Callable[[], dict[str, Any]], *, key: str, settings: Settings,
                    context: LambdaContext | None = None) -> dict[str, Any]:
    """Run `fn` once per key (Slack retries and double clicks): a repeat returns the first result."""
    settings.require("idempotency_table")
    store = _persistence(str(settings.idempotency_table), settings.region, "key")
    config = IdempotencyConfig(event_key_jmespath="key", expires_after_seconds=24 * 3600,
                               raise_on_no_idempotency_key=True)
    if context is not None:
        config.register_lambda_context(context)

    def run(request: dict[str, str]) -> dict[str, Any]:
        return fn()

    once = idempotent_function(data_keyword_argument="request", persistence_store=store, config=config)(run)
    try:
        result: dict[str, Any] = once(request={"key": key})
    except IdempotencyAlreadyInProgressError:  # a double click while the first is still running
        return {"status": "in-progress"}
    return result


def _drain_outbox(ledger: Ledger, publisher: FindingsPublisher) -> int:
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


def deliver(findings: Sequence[Finding], settings: Settings, *, run_id: str) -> int:
    """Record actions in the ledger and publish what people should hear about; returns SNS messages sent.
    If SNS refuses, the findings wait in the ledger's outbox and go out with the next run (of any capability):
    the actions are done, so failing the run (and re-running them) would be worse."""
    ledger = Ledger(client("dynamodb", settings.region), settings.ledger_table) if settings.ledger_table else None
    if ledger:
        ledger.record(findings)
    publishable = [f for f in findings if f.publishable]
    metrics.add_metric(name=METRIC_FINDINGS, unit=MetricUnit.Count, value=len(publishable))
    for kind, n in Counter(f.kind for f in publishable).items():
        count_by(METRIC_FINDINGS_BY_KIND, "kind", kind, n)
    metrics.add_metric(name=METRIC_ESTIMATED_SAVINGS, unit=MetricUnit.Count,
                       value=round(sum(f.monthly_usd or 0 for f in publishable), 2))
    if not settings.findings_topic_arn:
        return 0
    publisher = FindingsPublisher(client("sns", settings.region), settings.findings_topic_arn)
    sent = 0
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
