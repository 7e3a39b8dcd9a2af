"""Spot interruption warning → checkpoint the run through SSM; rebalance recommendation → tell the owner."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ec2 import Ec2Inventory
from cost_janitor.adapters.executor import Executor
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.core.spot import interruption_finding
from cost_janitor.delivery import deliver
from cost_janitor.events import SpotEvent, SpotInterruptionWarning
from cost_janitor.runtime import idempotent_run, janitor_handler, load_policy_for
from cost_janitor.settings import Settings

REQUIRED = ("findings_topic_arn", "ledger_table", "idempotency_table", "policy_parameter")


def handle(event: SpotEvent, policy: Policy, settings: Settings, *, dry_run: bool, now: datetime) -> Finding:
    """The recipe; the Lambda and the demo call it."""
    spot = event.root
    warning = isinstance(spot, SpotInterruptionWarning)
    instance = Ec2Inventory(client("ec2", spot.region), spot.region).instance(spot.detail.instance_id)
    finding = interruption_finding(
        event="warning" if warning else "rebalance", instance_id=spot.detail.instance_id, instance=instance,
        region=spot.region, account=spot.account, policy=policy, now=now, run_id=spot.id,
        instance_action=spot.detail.instance_action if isinstance(spot, SpotInterruptionWarning) else None)
    [finding] = Executor(client, dry_run=dry_run).execute([finding], policy, now=now)
    deliver([finding], settings, run_id=spot.id)
    return finding


@janitor_handler(SpotEvent)
def lambda_handler(event: SpotEvent, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env(require=REQUIRED)
    policy = load_policy_for(settings)

    def run(event: SpotEvent) -> dict[str, Any]:
        dry_run = settings.dry_run(policy)
        finding = handle(event, policy, settings, dry_run=dry_run, now=datetime.now(UTC))
        return finding.model_dump(mode="json", by_alias=True, include={
            "resource_id", "verdict", "reason", "action", "action_status", "action_error"})

    return idempotent_run(run, event, settings, context)
