"""Report Lambda: the weekly schedule → capabilities.report.run (once per event id); an instance starting →
report.record_start (a stopped box's realized savings stop counting); a member's restarts →
report.record_member_starts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.slack import SLACK_API, SlackGateway, load_secrets
from cost_janitor.capabilities import report
from cost_janitor.events import Ec2StateChange, ReportEvent, ScheduledEvent, StartedAgain
from cost_janitor.runtime import idempotent_run, janitor_handler, load_policy_for
from cost_janitor.settings import DigestSettings


@janitor_handler(ReportEvent)
def lambda_handler(event: ReportEvent, context: LambdaContext) -> dict[str, Any]:
    settings = DigestSettings.from_env()
    if isinstance(event.root, Ec2StateChange):
        return report.record_start(event.root, settings)
    if isinstance(event.root, StartedAgain):
        return report.record_member_starts(event.root, settings)
    policy = load_policy_for(settings)

    def run(event: ScheduledEvent) -> dict[str, Any]:
        secrets = load_secrets(client("secretsmanager", settings.region), settings.slack_secret_arn)
        slack = SlackGateway(secrets.bot_token, base_url=settings.slack_api_url or SLACK_API)
        return report.run(policy, settings, now=datetime.now(UTC), slack=slack,
                          remaining_ms=context.get_remaining_time_in_millis)

    return idempotent_run(run, event.root, settings, context)  # a repeated delivery does not send it again
