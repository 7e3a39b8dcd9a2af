"""Tag compliance Lambda: creation calls from the delay queue (each record alone) → capabilities.tag_compliance.run;
the nightly schedule → its coverage report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from cost_janitor.capabilities import tag_compliance
from cost_janitor.events import CloudTrailApiCall, CreationQueueEvent, ScheduledEvent
from cost_janitor.observability import logger
from cost_janitor.runtime import each_record, idempotent_run, janitor_handler, load_policy_for
from cost_janitor.settings import TagComplianceSettings


@janitor_handler(CreationQueueEvent)
def _on_creations(event: CreationQueueEvent, context: LambdaContext) -> dict[str, Any]:
    settings = TagComplianceSettings.from_env()
    policy = load_policy_for(settings)
    dry_run = settings.dry_run(policy)

    def run(event: CloudTrailApiCall) -> dict[str, Any]:  # once per creation event, however often delivered
        found = tag_compliance.run(event, policy, settings, dry_run=dry_run, now=datetime.now(UTC))
        return {"checked": [f.resource_id for f in found], "non_compliant": [
            f.resource_id for f in found if f.verdict == "non-compliant"]}

    def check(record: SQSRecord) -> Any:
        try:
            call = CloudTrailApiCall.model_validate_json(record.body)
        except ValidationError as exc:  # retried, then redriven to the DLQ
            logger.error("not a CloudTrail API call event", extra={"message_id": record.message_id,
                                                                   "errors": exc.error_count()})
            raise
        try:
            return idempotent_run(run, call, settings, context)
        except Exception as exc:  # this record fails alone: SQS retries it (throttling passes), then parks it in
            logger.error("creation call not checked", extra={  # the DLQ; the rest of the batch goes on
                "message_id": record.message_id, "event_id": call.id, "error": type(exc).__name__,
                "reason": str(exc)[:500]})
            raise

    return each_record(event, check, context)


@janitor_handler(ScheduledEvent)
def _nightly(event: ScheduledEvent, context: LambdaContext) -> dict[str, Any]:
    settings = TagComplianceSettings.from_env()
    result = tag_compliance.coverage_report(load_policy_for(settings), settings, regions=event.detail.regions or None)
    return {"resources": result.resources, "by_key": result.by_key, "by_team": result.by_team,
            "top_untagged": result.top_untagged}


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Creation checks arrive from the delay queue (SQS records); the coverage report from a schedule."""
    result: dict[str, Any] = (_on_creations if "Records" in event else _nightly)(event, context)
    return result
