"""What every handler shares: the decorator stack, bad-event rejection, policy, idempotency and delivery."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.parser.models import SqsModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from cost_janitor.adapters import queues
from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ssm import PolicyStore
from cost_janitor.core.errors import BadEventError, ConfigError
from cost_janitor.core.policy import Policy
from cost_janitor.events import parse_event
from cost_janitor.observability import (
    logger,
    metrics,
    tracer,
)
from cost_janitor.settings import Settings

M = TypeVar("M", bound=BaseModel)
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


def sqs_records(event: SqsModel) -> dict[str, Any]:
    """The parsed SQS batch as Powertools' BatchProcessor reads it (its records as Lambda delivered them)."""
    return {"Records": [r.model_dump(mode="json", by_alias=True) for r in event.Records]}


def each_record(event: SqsModel, handle: Callable[[SQSRecord], Any], context: LambdaContext) -> dict[str, Any]:
    """Each record of an SQS batch alone (Powertools' BatchProcessor): one that raises goes back to the queue
    (batch item failure; retried, then the DLQ), the rest are done — even when every record fails, the failures
    are returned rather than the whole batch raised again."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(event=sqs_records(event), record_handler=handle, processor=processor,
                                        context=context)
    return dict(response)


def reject(event: Any, error: BadEventError) -> dict[str, str]:
    """Log the reason, park the event in the DLQ and return normally, so Lambda does not retry it."""
    logger.error("bad event rejected", extra={"reason": str(error)})
    metrics.add_metric(name=METRIC_BAD_EVENTS, unit=MetricUnit.Count, value=1)
    queue = os.environ.get("DLQ_URL")
    if not queue:
        raise error  # no queue wired: let Lambda's own retry limit and DLQ take it
    body = json.dumps(event, default=str)
    if len(body.encode()) > queues.MAX_BODY_BYTES:
        body = json.dumps({"truncated": True, "head": body[:queues.MAX_BODY_BYTES // 2]})
    queues.send(client("sqs"), queue, body, reason=str(error))
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
