"""A dry-run of every capability, with every AWS call recorded at the botocore layer: nothing in the account is
changed — EC2 calls carry DryRun=True, other mutations are only planned; the janitor writes only its own ledger,
idempotency records and findings topic."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from cost_janitor.core.policy import Policy
from cost_janitor.local.context import FakeContext
from cost_janitor.local.emulator import (
    LocalAws,
    launch,
    seed_endpoint,
    seed_endpoint_metrics,
    seed_notebook,
    seed_studio_app,
    seed_studio_domain,
)
from cost_janitor.settings import Settings
from tests.conftest import load_event
from tests.integration.fleet import DEV, PROD, Fleet

MUTATING = re.compile(r"^(Create|Put|Delete|Stop|Start|Terminate|Modify|Tag|Untag|Send|Update|Attach|Detach|Run|"
                      r"Reboot|Associate|Disassociate|Add|Remove|Publish|BatchWrite|Restore|Copy|Enable|Disable)")
OWN = ("cost-janitor-ledger", "cost-janitor-idempotency")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def _changes(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every call that would change the account, other than the janitor's own bookkeeping."""
    out = []
    for op, params in calls:
        if not MUTATING.match(op) or params.get("DryRun") is True:
            continue
        own_batch = op == "BatchWriteItem" and set(params.get("RequestItems", {})) <= set(OWN)
        if params.get("TableName") in OWN or own_batch:
            continue
        if op == "Publish" and params.get("TopicArn") == os.environ.get("FINDINGS_TOPIC_ARN"):
            continue
        out.append(op)
    return out


@pytest.fixture
def world(aws: LocalAws, janitor: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    janitor(Policy.model_validate({"storage": {"delete_unattached_volumes": True, "set_log_retention": True},
                                   "agent": {"install_on_gpu_families": True},
                                   "sagemaker": {"delete_idle_dev_endpoints": True, "enable_studio_idle_shutdown": True,
                                                 "delete_studio_accelerator_apps": True}}))
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "true")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    fleet = Fleet(aws, end)
    fleet.add("idle-dev", "m5.large", {**DEV, "cost-janitor:idle-since": (end - timedelta(days=3)).isoformat()},
              cpu=1.0)
    fleet.add("idle-prod", "m5.large", PROD, cpu=1.0)
    fleet.add("gpu-no-agent", "g5.xlarge", DEV, cpu=1.0)
    fleet.done()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="ml-data")
    s3.put_bucket_tagging(Bucket="ml-data", Tagging={"TagSet": [{"Key": "cost-janitor:lifecycle-profile",
                                                                 "Value": "ml"}]})
    ec2 = aws.client("ec2")
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=10, TagSpecifications=[{"ResourceType": "volume", "Tags": [
        {"Key": "environment", "Value": "dev"}, {"Key": "cost-janitor:unattached-since",
                                                  "Value": "2026-01-01T00:00:00+00:00"}]}])
    aws.client("logs").create_log_group(logGroupName="/ml/forever")
    spot = launch(ec2, "g5.xlarge", {"owner": "a@b.co"}, InstanceMarketOptions={"MarketType": "spot"})
    marked = {**DEV, "cost-janitor:idle-since": (end - timedelta(days=3)).isoformat()}
    seed_endpoint(aws, "idle-endpoint", variants=[("AllTraffic", "ml.g5.xlarge", 1)], tags=marked,
                  created=end - timedelta(days=30))
    seed_endpoint(aws, "new-idle-endpoint", variants=[("AllTraffic", "ml.g5.xlarge", 1)], tags=DEV,
                  created=end - timedelta(days=30))
    for name in ("idle-endpoint", "new-idle-endpoint"):
        seed_endpoint_metrics(fleet.seeder, name, "AllTraffic", end=end, hours=9 * 24, invocations_per_hour=0,
                              gpus=[0.0])
    fleet.seeder.flush()
    seed_notebook(aws, "left-on", instance_type="ml.g4dn.xlarge", tags=marked, started=end - timedelta(hours=40))
    studio = seed_studio_domain(aws, "research", tags=DEV, idle_shutdown=False)
    seed_studio_app(aws, studio, user_profile="ana", app_type="JupyterLab", instance_type="ml.g5.xlarge",
                    tags=marked, created=end - timedelta(hours=40))
    return {"fleet": fleet, "spot": spot, "studio": studio}


def test_every_capability_in_dry_run_changes_nothing(world: dict[str, Any],
                                                     recorded: list[tuple[str, dict[str, Any]]]) -> None:
    from cost_janitor.capabilities import report
    from cost_janitor.handlers import idle_sweep, spot_interruption, storage_lifecycle, tag_compliance

    settings = Settings.from_env()
    nightly = load_event("eventbridge/scheduled_nightly_sweep.json")
    sweep = idle_sweep.lambda_handler(nightly, FakeContext())
    assert {"stop:dry-run", "tag-gpu-agent:dry-run", "delete-endpoint:dry-run", "stop-notebook:dry-run",
            "mark-idle:dry-run", "enable-idle-shutdown:dry-run", "delete-app:dry-run"} <= set(sweep["actions"])
    storage = storage_lifecycle.lambda_handler({**nightly, "id": "storage-1"}, FakeContext())
    assert {"put-lifecycle:dry-run", "snapshot-volume:dry-run", "set-log-retention:dry-run"} <= set(
        storage["actions"])
    warning = load_event("eventbridge/spot_interruption_warning.json")
    warning["detail"]["instance-id"] = world["spot"]
    assert spot_interruption.lambda_handler(warning, FakeContext())["action_status"] == "dry-run"
    creation = load_event("cloudtrail/run_instances_three_by_iam_user.json")
    ids = world["fleet"].ids
    for item, iid in zip(creation["detail"]["responseElements"]["instancesSet"]["items"], ids.values(), strict=True):
        item["instanceId"] = iid
    record = load_event("sqs/findings_batch.json")["Records"][0]
    tag_compliance.lambda_handler({"Records": [{**record, "body": json.dumps(creation)}]}, FakeContext())
    report.send(report.build(Policy(), settings, now=datetime.now(UTC)), Policy(), settings, slack=None)

    operations = {op for op, _ in recorded}
    assert {"StopInstances", "DescribeInstances", "GetMetricData"} <= operations  # the real path ran
    assert _changes(recorded) == []
    assert world["fleet"].state("idle-dev") == "running"
    sm = world["fleet"].aws.client("sagemaker")
    assert {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]} == {"idle-endpoint", "new-idle-endpoint"}
    assert sm.describe_notebook_instance(NotebookInstanceName="left-on")["NotebookInstanceStatus"] == "InService"
    assert [a["Status"] for a in sm.list_apps()["Apps"]] == ["InService"]
    assert "JupyterLabAppSettings" in sm.describe_domain(DomainId=world["studio"])["DefaultUserSettings"]
    assert sm.describe_domain(DomainId=world["studio"])["DefaultUserSettings"]["JupyterLabAppSettings"][
        "AppLifecycleManagement"]["IdleSettings"]["LifecycleManagement"] == "DISABLED"


def test_the_check_itself_catches_a_real_change() -> None:
    calls = [("StopInstances", {"InstanceIds": ["i-1"], "DryRun": True}), ("PutItem", {"TableName": OWN[0]}),
             ("PutBucketLifecycleConfiguration", {"Bucket": "b"}), ("StopInstances", {"InstanceIds": ["i-1"]}),
             ("DescribeInstances", {})]
    assert _changes(calls) == ["PutBucketLifecycleConfiguration", "StopInstances"]


def test_slack_answers_in_dry_run_stop_nothing_and_write_only_the_owners_own_answer(
        world: dict[str, Any], recorded: list[tuple[str, dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop now in dry-run goes out with DryRun=True; a Keep is written even in dry-run (the owner asked, and it only
    ever makes the janitor do less) — and that tag write is the only change, limited to the keep keys."""
    from cost_janitor.adapters.ledger import MessageState, SlackState
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.local.slack_standin import SlackStandIn
    from tests.integration.slack_helpers import click, deliver, signed_request, submit_keep

    slack = SlackStandIn(users={"ana@example.com": "U0ANA0001"})
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    try:
        settings = Settings.from_env()
        found = {f.resource_id: f for f in idle_sweep.run(Policy(), settings, now=datetime.now(UTC), run_id="r",
                                                          dry_run=True).findings}
        fleet = world["fleet"]
        dev, prod = found[fleet.ids["idle-dev"]], found[fleet.ids["idle-prod"]]
        SlackState(world["fleet"].aws.client("dynamodb"), str(settings.ledger_table)).save_message(MessageState(
            channel="D0ANA0001", ts="1.000001", run_id="r", recipient="U0ANA0001", findings=[dev, prod]))
        recorded.clear()
        where = {"user": "U0ANA0001", "channel": "D0ANA0001", "ts": "1.000001"}
        deliver(signed_request(click("stop_now", resource=dev.resource_id, response_url=slack.response_url(),
                                     **where)))
        deliver(signed_request(submit_keep(resource=dev.resource_id, reason="Needed for Friday's demo.", **where)))
    finally:
        slack.stop()
    stops = [p for op, p in recorded if op == "StopInstances"]
    assert stops and all(p["DryRun"] is True for p in stops)
    writes = [p for op, p in recorded if op == "TagResources"]
    assert [sorted(p["Tags"]) for p in writes] == [["cost-janitor:keep-by", "cost-janitor:keep-reason",
                                                     "cost-janitor:keep-until"]]
    assert [op for op in _changes(recorded) if op not in ("TagResources", "SendMessage", "DeleteMessage")] == []
    assert world["fleet"].state("idle-dev") == "running"
