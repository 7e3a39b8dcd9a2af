"""Restore an endpoint the janitor deleted: CreateEndpoint from the EndpointConfig its deletion recorded, with its
recorded tags. The Slack Restore button (answers) and `cost-janitor restore <endpoint>` call this."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.adapters.sagemaker import SageMakerInventory
from cost_janitor.core.endpoints import ENDPOINT_TYPE, deletion_of, restore_blocker, restore_plan
from cost_janitor.core.errors import AUTHORIZATION_ERRORS, RestoreRefused
from cost_janitor.core.models import ActionKind, Finding
from cost_janitor.core.policy import Policy
from cost_janitor.families import call_for
from cost_janitor.settings import Settings


def run(endpoint: str, policy: Policy, settings: Settings, *, actor: str, now: datetime) -> Finding:
    """Recreate the endpoint in the region it was deleted from; the ledger records the restore and ends the
    deletion's savings. RestoreRefused (a clear sentence) when it cannot be brought back."""
    ledger = Ledger(client("dynamodb", settings.region), str(settings.ledger_table))
    deleted = deletion_of(ledger.history(endpoint))
    evidence: dict[str, Any] = json.loads(deleted.evidence or "{}")
    config, tags = restore_plan(evidence)
    region = deleted.region or settings.region
    inventory = SageMakerInventory(client("sagemaker", region), None, region)
    blocker = restore_blocker(endpoint, inventory.endpoint_status(endpoint))
    if blocker:
        raise RestoreRefused(blocker)
    try:
        key = inventory.config_key(config)
    except ClientError as exc:
        raise RestoreRefused(f"its EndpointConfig {config!r} no longer exists in {region} (someone deleted it after "
                             f"the janitor kept it); recreate it from the ledger record: {evidence}") from exc
    finding = Finding(kind=deleted.kind or "idle-endpoint", resource_id=endpoint, resource_arn="",
                      resource_type=ENDPOINT_TYPE, account="", region=region, team=deleted.team,
                      environment=policy.ownership(tags)["environment"] or "prod", verdict="idle",
                      reason=f"restored by {actor} from EndpointConfig {config}", evidence={"endpoint_config": config},
                      monthly_usd=deleted.monthly_usd, action=ActionKind.RESTORE_ENDPOINT, action_status="planned",
                      observed_at=now)
    [done] = Executor(client, dry_run=settings.dry_run(policy), calls=call_for).execute(
        [finding], policy, now=now, payload={endpoint: (config, tags)})
    if done.action_status != "done":
        code = done.action_error or done.action_status
        if key and code in AUTHORIZATION_ERRORS:
            raise RestoreRefused(f"SageMaker could not use the KMS key {key} that encrypts EndpointConfig {config!r} "
                                 f"({code}): the key policy must let the role that restores (the answers Lambda's, "
                                 "or yours from the CLI) kms:CreateGrant and kms:DescribeKey — SageMaker: \"the KMS "
                                 "key policy must grant permission to the IAM role that you specify in your "
                                 "CreateEndpoint\"")
        if code == "ValidationException":
            raise RestoreRefused(f"SageMaker refused to create {endpoint!r} ({code}): an endpoint of that name "
                                 "probably exists already")
        raise RestoreRefused(f"SageMaker refused to create {endpoint!r} ({code})")
    ledger.record([done], actor=actor)
    ledger.record_started(endpoint, at=now.isoformat(), source=f"restore by {actor}")
    return done
