"""Tag compliance: check each new resource a few minutes after its creation call (an SQS delay queue), tag it
with its creator, and tell the creator what is missing; nightly, report tag coverage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ec2 import Ec2Inventory
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.tagging import ResourceTags
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import instance_price
from cost_janitor.core.tagging import Coverage, compliance_finding, coverage, created_resources, creator_of
from cost_janitor.delivery import deliver
from cost_janitor.events import CloudTrailApiCall, CreationQueueEvent, ScheduledEvent
from cost_janitor.observability import logger, metrics
from cost_janitor.runtime import idempotent_run, janitor_handler, load_policy_for
from cost_janitor.settings import Settings

REQUIRED = ("findings_topic_arn", "ledger_table", "idempotency_table", "policy_parameter")


def check(event: CloudTrailApiCall, policy: Policy, settings: Settings, *, dry_run: bool,
          now: datetime) -> list[Finding]:
    """The recipe for one creation call; the Lambda, the CLI (`tags --event`) and the demo call it."""
    d = event.detail
    account = d.recipient_account_id or event.account
    if d.error_code:
        logger.info("creation call failed; nothing was created", extra={"event": d.event_name, "error": d.error_code})
        return []
    if d.event_name not in policy.tagging.watched_events.get(d.event_source, []):
        logger.warning("not a watched creation call; ignored", extra={"source": d.event_source, "event": d.event_name})
        return []
    created = created_resources(d.event_name, d.event_source, d.aws_region, account, d.request_parameters,
                                d.response_elements)
    if not created:
        logger.warning("creation call names no resource (responseElements empty); nothing to check",
                       extra={"event": d.event_name, "event_id": d.event_id})
        return []
    tags = ResourceTags(client("resourcegroupstaggingapi", d.aws_region)).current(created)
    creator = creator_of(d.user_identity)
    findings = [compliance_finding(r, tags[r.arn], creator, account=account, policy=policy, now=now,
                                   run_id=event.id) for r in created]
    findings = Executor(client, dry_run=dry_run).execute(findings, policy, now=now)
    deliver(findings, settings, run_id=event.id)
    return findings


def report(policy: Policy, settings: Settings, *, regions: list[str] | None = None) -> Coverage:
    """Coverage of the required tags over every tagged resource, with the costliest non-compliant instances."""
    resources: list[tuple[str, dict[str, str]]] = []
    prices: dict[str, float | None] = {}
    for region in regions or policy.regions or [settings.region]:
        resources += ResourceTags(client("resourcegroupstaggingapi", region)).everything()
        for i in Ec2Inventory(client("ec2", region), region).running_instances():
            prices[i.arn] = instance_price(i.instance_type, region).monthly_usd
            if i.arn not in dict(resources):
                resources.append((i.arn, i.tags))  # never tagged: the tagging API does not list it
    result = coverage(resources, policy, prices)
    for key, pct in result.by_key.items():
        metrics.add_metric(name=f"TagCoverage.{key}", unit=MetricUnit.Percent, value=pct)
    return result


@janitor_handler(CreationQueueEvent)
def _on_creations(event: CreationQueueEvent, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(require=REQUIRED)
    policy = load_policy_for(settings)
    dry_run = settings.dry_run(policy)
    failures = []
    for record in event.Records:
        try:
            call = CloudTrailApiCall.model_validate_json(str(record.body))
        except ValidationError as exc:
            logger.error("not a CloudTrail API call event", extra={"message_id": record.messageId,
                                                                   "errors": exc.error_count()})
            failures.append({"itemIdentifier": record.messageId})  # retried, then redriven to the DLQ
            continue

        def run(event: CloudTrailApiCall) -> dict[str, Any]:  # once per creation event, however often delivered
            found = check(event, policy, settings, dry_run=dry_run, now=datetime.now(UTC))
            return {"checked": [f.resource_id for f in found], "non_compliant": [
                f.resource_id for f in found if f.verdict == "non-compliant"]}

        try:
            idempotent_run(run, call, settings, context)
        except Exception as exc:  # this record fails alone: SQS retries it (throttling passes), then parks it
            logger.error("creation call not checked", extra={  # in the DLQ; the rest of the batch goes on
                "message_id": record.messageId, "event_id": call.id, "error": type(exc).__name__,
                "reason": str(exc)[:500]})
            failures.append({"itemIdentifier": record.messageId})
    return {"batchItemFailures": failures}


@janitor_handler(ScheduledEvent)
def _nightly(event: ScheduledEvent, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(require=REQUIRED)
    result = report(load_policy_for(settings), settings, regions=event.detail.regions or None)
    return {"resources": result.resources, "by_key": result.by_key, "by_team": result.by_team,
            "top_untagged": result.top_untagged}


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Creation checks arrive from the delay queue (SQS records); the coverage report from a schedule."""
    result: dict[str, Any] = (_on_creations if "Records" in event else _nightly)(event, context)
    return result
