"""Notifier Lambda: findings from the topic's queue (each SQS body parsed alone) → capabilities.notifier.run; the
findings another notifier is writing, or whose history could not be read, go back to the queue."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ledger import SlackState
from cost_janitor.adapters.slack import SLACK_API, SlackGateway, load_secrets
from cost_janitor.capabilities import notifier
from cost_janitor.core.models import Finding
from cost_janitor.core.notify import admit_forwarded
from cost_janitor.delivery import record_forwarded
from cost_janitor.events import FindingsQueueEvent, findings_message
from cost_janitor.observability import METRIC_REFUSED_FINDINGS, logger, metrics
from cost_janitor.runtime import janitor_handler, load_policy_for
from cost_janitor.settings import NotifierSettings


def _from(sender: str, findings: list[Finding], members: set[str]) -> list[Finding]:
    """What core.notify.admit_forwarded admits; the rest is logged and counted (RefusedFindings)."""
    accepted, dropped = admit_forwarded(sender, findings, members)
    if dropped:
        logger.error("findings from an account that is not a member; dropped" if sender not in members else
                     "findings naming another account than their sender; dropped",
                     extra={"account": sender, "named": sorted({f.account for f in dropped}),
                            "resources": [f.resource_id for f in dropped]})
        metrics.add_metric(name=METRIC_REFUSED_FINDINGS, unit=MetricUnit.Count, value=len(dropped))
    return accepted


@janitor_handler(FindingsQueueEvent)
def lambda_handler(event: FindingsQueueEvent, context: LambdaContext) -> dict[str, Any]:
    settings = NotifierSettings.from_env()
    policy = load_policy_for(settings)
    findings, failures = [], []
    origin: dict[str, list[str]] = defaultdict(list)  # resource → the SQS messages that carried it
    for record in event.Records:
        try:
            document, sender = findings_message(str(record.body))
        except ValidationError as exc:
            logger.error("bad findings message", extra={"message_id": record.messageId, "errors": exc.error_count(),
                                                        "problems": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                                     for e in exc.errors()[:5]]})
            failures.append({"itemIdentifier": record.messageId})  # SQS retries it, then its redrive DLQ
            continue
        accepted = document.findings if sender is None else _from(sender, document.findings, settings.members())
        if sender is not None and accepted:
            record_forwarded(accepted, settings, account=sender)  # the hub's digest counts every member
        findings += accepted
        for f in accepted:
            origin[f.resource_id].append(record.messageId)
    secrets = load_secrets(client("secretsmanager", settings.region), str(settings.slack_secret_arn))
    state = SlackState(client("dynamodb", settings.region), str(settings.ledger_table))
    slack = SlackGateway(secrets.bot_token, base_url=settings.slack_api_url or SLACK_API, directory=state)
    sent = notifier.run(findings, policy, slack, state, holder=context.aws_request_id,
                        remaining_ms=context.get_remaining_time_in_millis)
    logger.info("notified", extra={**sent.__dict__, "failed": json.dumps(sent.failed)})
    handed_back = sorted({m for r in sent.busy for m in origin[r]})  # redelivered after the visibility timeout
    return {"batchItemFailures": failures + [{"itemIdentifier": m} for m in handed_back]}
