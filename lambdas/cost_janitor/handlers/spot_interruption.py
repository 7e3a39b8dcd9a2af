"""Spot interruption Lambda: EventBridge's warning or rebalance → capabilities.spot_interruption.run, once per event
id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cost_janitor.capabilities import spot_interruption
from cost_janitor.events import SpotEvent
from cost_janitor.runtime import idempotent_run, janitor_handler, load_policy_for
from cost_janitor.settings import SpotSettings


@janitor_handler(SpotEvent)
def lambda_handler(event: SpotEvent, context: LambdaContext) -> dict[str, Any]:
    settings = SpotSettings.from_env()
    policy = load_policy_for(settings)

    def run(event: SpotEvent) -> dict[str, Any]:
        finding = spot_interruption.run(event, policy, settings, dry_run=settings.dry_run(policy),
                                        now=datetime.now(UTC))
        return finding.model_dump(mode="json", by_alias=True, include={
            "resource_id", "verdict", "reason", "action", "action_status", "action_error"})

    return idempotent_run(run, event, settings, context)
