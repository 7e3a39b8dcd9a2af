"""SageMaker endpoints: judged on the metrics AWS documents for their kind (core/endpoints.py). An idle dev endpoint
is deleted only with the opt-in (sagemaker.delete_idle_dev_endpoints), after a mark and a grace period, and only
when it can be restored: its EndpointConfig and Model stay, and Restore recreates it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.cloudwatch import CloudWatchReader
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.adapters.pricing import night_prices
from cost_janitor.adapters.sagemaker import MARKS, EndpointUsageReader, inventory, sm_tags
from cost_janitor.core.endpoints import (
    ENDPOINT_TYPE,
    RESTORABLE_TAG,
    Endpoint,
    classify_endpoints,
    needs_description,
    recheck_endpoint,
    what_happens,
)
from cost_janitor.core.models import ActionKind, Finding, LedgerRecord
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import ml_price
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

ENDPOINTS, CONFIGS = Arn("sagemaker", "endpoint"), Arn("sagemaker", "endpoint-config")


def _delete(sm: Any, api: Api, f: Finding, run: Run) -> None:
    """The endpoint only: its EndpointConfig is tagged as the janitor's to restore (the one thing CreateEndpoint
    may later use) and it and the Model stay; the finding, recorded in the ledger, carries the config and tags."""
    config_arn = f.evidence.get("endpoint_config_arn")
    if not config_arn:
        raise ClientError({"Error": {"Code": "NoRestoreRecord", "Message": "the EndpointConfig was not read; an "
                                     "endpoint that cannot be restored is not deleted"}}, "DeleteEndpoint")
    api(sm.add_tags, ResourceArn=str(config_arn), Tags=sm_tags({RESTORABLE_TAG: f.resource_id}))
    api(sm.delete_endpoint, EndpointName=f.resource_id)


def _restore(sm: Any, api: Api, f: Finding, run: Run) -> None:
    """CreateEndpoint from the recorded EndpointConfig, with the endpoint's recorded tags."""
    config, tags = run.payload[f.resource_id]
    api(sm.create_endpoint, EndpointName=f.resource_id, EndpointConfigName=config, Tags=sm_tags(tags))


class Endpoints:
    name = "endpoints"
    service = "sagemaker"
    resource_types = (ENDPOINT_TYPE,)
    rechecked = (ActionKind.DELETE_ENDPOINT,)
    answered = (ENDPOINTS,)
    actions = {
        **MARKS,
        ActionKind.DELETE_ENDPOINT: Call("sagemaker", ("sagemaker:AddTags", "sagemaker:DeleteEndpoint"),
                                         each(_delete), dry_run_supported=False, batch=False),
        # an owner's (or the CLI user's) explicit answer: made in dry-run too
        ActionKind.RESTORE_ENDPOINT: Call("sagemaker", ("sagemaker:CreateEndpoint", "sagemaker:AddTags"),
                                          each(_restore), dry_run_supported=False, batch=False, always=True),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        """Listed with their tags, their metrics read in batches, only the candidates described (the ledger keeps
        descriptions of endpoints not updated since), and async endpoints' own metrics read."""
        sagemaker, cloudwatch = inventory(region), CloudWatchReader(client("cloudwatch", region))
        policy, now = night.policy, night.now
        with counted(night, sagemaker.calls, cloudwatch.calls, prefix="sagemaker:"):
            try:
                endpoints = sagemaker.endpoints()
                usage, not_read = EndpointUsageReader(cloudwatch).read(endpoints, policy, now=now)
                wanted = [e for e in endpoints if e.name not in not_read
                          and needs_description(e, usage.get(e.name, {}), policy, now=now)]
                described = sagemaker.describe(wanted, night.ledger, now=now)
                endpoints = [described.get(e.name) or e for e in endpoints if described.get(e.name, e) is not None]
                async_usage, async_not_read = EndpointUsageReader(cloudwatch).read_async(endpoints, policy, now=now)
            finally:  # GetMetricData is billed per metric requested, read or not
                night.metrics_requested += cloudwatch.metrics_requested
        unknown = {(v.instance_type, e.region) for e in endpoints for v in e.variants or ()
                   if v.instance_type and ml_price(v.instance_type, e.region).hourly_usd is None}
        return classify_endpoints(endpoints, usage, policy, now=now, run_id=night.run_id,
                                  not_read=not_read | async_not_read, async_usage=async_usage,
                                  prices=night_prices(night.memory, night.calls, "sagemaker_hosting", unknown,
                                                      ledger=night.ledger, now=night.now))

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each endpoint about to be deleted is described again (its state and tags now)."""
        sagemaker = inventory(region)
        with counted(night, sagemaker.calls, prefix="sagemaker:", suffix=" (re-check)"):
            current = sagemaker.current([Endpoint(name=f.resource_id, arn=f.resource_arn, region=f.region,
                                                  account=f.account, created=f.observed_at,
                                                  last_modified=f.observed_at) for f in planned])
        return [recheck_endpoint(f, current.get(f.resource_id), night.policy, now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: a deletion is recorded in the ledger with every finding (its config and tags: the restore)."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev = dev_only(policy)
        idle_key = only_tag_keys(policy.exemptions.idle_since_tag)
        why = ("SageMaker endpoints and configs of the policy's regions: reads, and writes conditioned on the dev "
               "environment tag and the janitor's tag keys")
        grants = [
            Grant("ListSageMaker", ("sagemaker:ListEndpoints", "tag:GetResources", "cloudwatch:GetMetricData",
                                    "cloudwatch:ListMetrics", "pricing:GetProducts"),
                  why="SageMaker lists, the tagging API, CloudWatch reads and the Price List API have no "
                      "resource-level permissions"),
            Grant("DescribeEndpointsAndDomains", ("sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"),
                  (ENDPOINTS, CONFIGS), why=why),
            Grant("MarkOnlyDevSageMaker", ("sagemaker:AddTags",), (ENDPOINTS,), {**dev, **idle_key}),
            Grant("UnmarkSageMaker", ("sagemaker:DeleteTags",), (ENDPOINTS,), idle_key),
            Grant("NeverDeleteConfigsModelsNotebooks", ("sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel"),
                  deny=True),
        ]
        if policy.sagemaker.delete_idle_dev_endpoints:
            grants += [
                Grant("DeleteDevEndpointsOptIn", ("sagemaker:DeleteEndpoint",), (ENDPOINTS,), dev),
                Grant("MarkConfigsRestorable", ("sagemaker:AddTags",), (CONFIGS,),
                      only_tag_keys(RESTORABLE_TAG)),
            ]
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return []  # the digest's common sections


FAMILY: Family = Endpoints()
