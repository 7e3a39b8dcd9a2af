"""Tag compliance: check each new resource a few minutes after its creation call (an SQS delay queue), tag it
with its creator, and tell the creator what is missing; nightly, report tag coverage."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ec2 import Ec2Inventory
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.tagging import ResourceTags
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import instance_price
from cost_janitor.core.tagging import Coverage, compliance_finding, coverage, created_resources, creator_of
from cost_janitor.delivery import deliver
from cost_janitor.events import CloudTrailApiCall
from cost_janitor.observability import logger, metrics
from cost_janitor.settings import Settings


def run(event: CloudTrailApiCall, policy: Policy, settings: Settings, *, dry_run: bool,
          now: datetime) -> list[Finding]:
    """The recipe for one creation call; the Lambda, the CLI (`tags --event`) and the demo call it. (The same
    Lambda's nightly trigger is `coverage_report`.)"""
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
                                   run_id=creations_window(now)) for r in created]
    findings = Executor(client, dry_run=dry_run).execute(findings, policy, now=now)
    deliver(findings, settings, run_id=event.id)
    return findings


def creations_window(now: datetime) -> str:
    """The run the notifier groups creation findings by: the hour they were checked in. A creator whose Auto Scaling
    group launches 2,000 instances in ten minutes gets that hour's message(s) updated — at most
    slack.max_messages_per_recipient with buttons, the rest named in summaries — not 2,000 messages, one per call."""
    return f"creations-{now:%Y%m%dT%H}"


def coverage_report(policy: Policy, settings: Settings, *, regions: list[str] | None = None) -> Coverage:
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
