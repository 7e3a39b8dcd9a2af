"""Weekly storage Lambda: the schedule's event → capabilities.storage_lifecycle.run, once per event id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cost_janitor.capabilities import storage_lifecycle
from cost_janitor.events import ScheduledEvent
from cost_janitor.runtime import idempotent_run, janitor_handler, load_policy_for
from cost_janitor.settings import StorageSettings


@janitor_handler(ScheduledEvent)
def lambda_handler(event: ScheduledEvent, context: LambdaContext) -> dict[str, Any]:
    settings = StorageSettings.from_env()
    policy = load_policy_for(settings)

    def run(event: ScheduledEvent) -> dict[str, Any]:
        return storage_lifecycle.run(policy, settings, now=datetime.now(UTC), run_id=event.id,
                                     dry_run=settings.dry_run(policy), account=event.account,
                                     regions=event.detail.regions or None,
                                     remaining_ms=context.get_remaining_time_in_millis).summary()

    return idempotent_run(run, event, settings, context)
