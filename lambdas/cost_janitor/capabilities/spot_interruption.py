"""Spot interruption warning → checkpoint the run through SSM; rebalance recommendation → tell the owner."""

from __future__ import annotations

from datetime import datetime

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ec2 import Ec2Inventory
from cost_janitor.adapters.executor import Executor
from cost_janitor.core.models import Finding
from cost_janitor.core.policy import Policy
from cost_janitor.core.spot import interruption_finding
from cost_janitor.delivery import deliver
from cost_janitor.events import SpotEvent, SpotInterruptionWarning
from cost_janitor.settings import Settings


def run(event: SpotEvent, policy: Policy, settings: Settings, *, dry_run: bool, now: datetime) -> Finding:
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
