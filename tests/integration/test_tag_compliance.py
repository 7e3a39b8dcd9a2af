"""Tag compliance against the moto server: each CloudTrail sample replayed on real resources, the check reading
tags as they are minutes later, created-by written, duplicates harmless, bad records parked."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from cost_janitor.handlers.tag_compliance import lambda_handler
from cost_janitor.local.context import FakeContext
from cost_janitor.local.emulator import LocalAws, launch, subscribe_queue
from tests.conftest import load_event

GOOD = {"team": "vision", "project": "detector", "environment": "dev", "cost-center": "cc-1001"}


@pytest.fixture
def world(aws: LocalAws, janitor: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    env = janitor()
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    return {"aws": aws, "ec2": aws.client("ec2"), "tap": subscribe_queue(aws, env["FINDINGS_TOPIC_ARN"])}


def _replay(sample: str, ids: list[str] | None = None, edit: Callable[[dict[str, Any]], None] | None = None,
            deliveries: int = 1) -> dict[str, Any]:
    """The sample, its resource ids replaced by real ones, delivered by the delay queue (SQS) to the handler."""
    event = load_event(f"cloudtrail/{sample}.json")
    response = event["detail"].get("responseElements") or {}
    if ids and "instancesSet" in response:
        for item, iid in zip(response["instancesSet"]["items"], ids, strict=True):
            item["instanceId"] = iid
    elif ids and "volumeId" in response:
        response["volumeId"] = ids[0]
    if edit:
        edit(event)
    record = load_event("sqs/findings_batch.json")["Records"][0]
    records = [{**record, "messageId": f"m{n}", "body": json.dumps(event)} for n in range(deliveries)]
    result: dict[str, Any] = lambda_handler({"Records": records}, FakeContext())
    return result


def _published(world: dict[str, Any]) -> list[dict[str, Any]]:
    got = world["aws"].client("sqs").receive_message(QueueUrl=world["tap"], MaxNumberOfMessages=10)
    return [f for m in got.get("Messages", []) for f in json.loads(m["Body"])["findings"]]


def _tags(world: dict[str, Any], resource_id: str) -> dict[str, str]:
    tags = world["ec2"].describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def test_partly_tagged_instance_gets_its_creator_tagged_and_told(world: dict[str, Any]) -> None:
    iid = launch(world["ec2"], "g5.xlarge", {"team": "vision"})
    assert _replay("run_instances_assumed_role_partial_tags", [iid]) == {"batchItemFailures": []}
    assert _tags(world, iid)["created-by"] == "ana@example.com"
    [finding] = _published(world)
    assert (finding["verdict"], finding["owner"]) == ("non-compliant", "ana@example.com")
    assert "missing project, environment, cost-center" in finding["reason"]


def test_tags_added_after_creation_are_seen_by_the_delayed_check(world: dict[str, Any]) -> None:
    iid = launch(world["ec2"], "g5.xlarge", {})
    world["ec2"].create_tags(Resources=[iid], Tags=[{"Key": k, "Value": v} for k, v in GOOD.items()])
    _replay("run_instances_assumed_role_partial_tags", [iid])
    [finding] = _published(world)
    assert finding["verdict"] == "compliant" and finding["action"] == "tag-created-by"


def test_three_instances_are_three_findings_for_one_iam_user(world: dict[str, Any]) -> None:
    ids = [launch(world["ec2"], "c5.xlarge", {}) for _ in range(3)]
    _replay("run_instances_three_by_iam_user", ids)
    findings = _published(world)
    assert sorted(f["resource_id"] for f in findings) == sorted(ids)
    assert {_tags(world, i)["created-by"] for i in ids} == {"bo"}


def test_a_volume_created_without_tags(world: dict[str, Any]) -> None:
    vol = world["ec2"].create_volume(AvailabilityZone="us-east-1b", Size=500)["VolumeId"]
    _replay("create_volume_iam_user_no_tags", [vol])
    [finding] = _published(world)
    assert finding["resource_type"] == "ec2:volume" and finding["verdict"] == "non-compliant"
    assert _tags(world, vol) == {"created-by": "bo"}


def test_a_bucket_is_tagged_through_the_tagging_api_without_losing_its_tags(world: dict[str, Any]) -> None:
    s3 = world["aws"].client("s3")
    s3.create_bucket(Bucket="acme-ml-new-features")
    s3.put_bucket_tagging(Bucket="acme-ml-new-features", Tagging={"TagSet": [{"Key": "team", "Value": "vision"}]})
    _replay("create_bucket")
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket="acme-ml-new-features")["TagSet"]}
    assert tags == {"team": "vision", "created-by": "ana@example.com"}


def test_a_failed_call_created_nothing_and_is_ignored(world: dict[str, Any]) -> None:
    assert _replay("run_instances_failed") == {"batchItemFailures": []}
    assert _published(world) == []


def test_an_unwatched_event_name_is_ignored_with_a_log_line(world: dict[str, Any]) -> None:
    def rename(event: dict[str, Any]) -> None:
        event["detail"]["eventName"] = "ModifyInstanceAttribute"

    assert _replay("run_instances_assumed_role_partial_tags", edit=rename) == {"batchItemFailures": []}
    assert _published(world) == []


def test_a_duplicate_delivery_checks_once(world: dict[str, Any]) -> None:
    iid = launch(world["ec2"], "g5.xlarge", {"team": "vision"})
    _replay("run_instances_assumed_role_partial_tags", [iid], deliveries=2)
    from cost_janitor.adapters.ledger import Ledger

    entries = Ledger(world["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"]).history(iid)
    assert [e.action for e in entries] == ["tag-created-by"]


def test_a_malformed_record_fails_alone_and_goes_back_to_the_queue(world: dict[str, Any]) -> None:
    record = load_event("sqs/findings_batch.json")["Records"][0]
    bad = json.dumps(load_event("cloudtrail/invalid/api_call_without_event_name.json"))
    result = lambda_handler({"Records": [{**record, "messageId": "bad-1", "body": bad}]}, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}


def test_nightly_coverage_report(world: dict[str, Any]) -> None:
    launch(world["ec2"], "p3.2xlarge", {"team": "vision"})
    launch(world["ec2"], "m5.large", GOOD)
    world["ec2"].create_volume(AvailabilityZone="us-east-1b", Size=10, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "search"}]}])
    result = lambda_handler(load_event("eventbridge/scheduled_nightly_sweep.json"), FakeContext())
    assert result["resources"] == 3
    assert result["by_key"] == {"team": 100.0, "project": 33.3, "environment": 33.3, "cost-center": 33.3}
    assert result["top_untagged"][0][2] == round(3.06 * 730, 2)  # the p3.2xlarge, costliest first


def test_a_record_of_another_shape_fails_alone_and_the_rest_of_the_batch_is_checked(world: dict[str, Any]) -> None:
    [good] = [i["InstanceId"] for i in world["ec2"].run_instances(
        ImageId="ami-0c55b159cbfafe1f0", InstanceType="m5.large", MinCount=1, MaxCount=1)["Instances"]]
    event = load_event("cloudtrail/run_instances_assumed_role_partial_tags.json")
    event["detail"]["responseElements"]["instancesSet"]["items"][0]["instanceId"] = good
    odd = json.loads(json.dumps(event))
    odd["id"] = "odd-shape"
    odd["detail"]["eventID"] = "odd-shape"
    odd["detail"]["responseElements"]["instancesSet"] = ["not", "an", "object"]
    record = load_event("sqs/findings_batch.json")["Records"][0]
    result = lambda_handler({"Records": [{**record, "messageId": "odd", "body": json.dumps(odd)},
                                         {**record, "messageId": "good", "body": json.dumps(event)}]}, FakeContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "odd"}]}
    assert "created-by" in _tags(world, good)  # the record after the odd one was checked and tagged


def test_a_storm_of_creations_by_one_creator_is_told_in_that_hours_messages_not_one_each(
        world: dict[str, Any], slack: Any) -> None:
    """#27: an Auto Scaling group's launches arrive as one creation call each. 30 of them by Ana in one hour: the
    notifier groups them by the hour (capabilities.tag_compliance.creations_window), so Ana gets the hour's messages
    (12 resources each with buttons) — 3 — not 30."""
    from cost_janitor.adapters.ledger import SlackState
    from cost_janitor.adapters.slack import SlackGateway
    from cost_janitor.capabilities import notifier
    from cost_janitor.core.models import Finding
    from cost_janitor.core.policy import Policy

    def another_call(n: int) -> Callable[[dict[str, Any]], None]:
        def edit(event: dict[str, Any]) -> None:  # each launch is its own CloudTrail event
            event["id"] = f"{event['id'][:-4]}{n:04d}"
            event["detail"]["eventID"] = f"{event['detail']['eventID'][:-4]}{n:04d}"
        return edit

    for n in range(30):
        iid = launch(world["ec2"], "g5.xlarge", {"team": "vision"})
        assert _replay("run_instances_assumed_role_partial_tags", [iid], edit=another_call(n)) == {
            "batchItemFailures": []}
    sqs, findings = world["aws"].client("sqs"), []
    while got := sqs.receive_message(QueueUrl=world["tap"], MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            sqs.delete_message(QueueUrl=world["tap"], ReceiptHandle=m["ReceiptHandle"])
            findings += [Finding.model_validate(f) for f in json.loads(m["Body"])["findings"]]
    assert len(findings) == 30 and len({f.run_id for f in findings}) == 1
    state = SlackState(world["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
    report = notifier.run(findings, Policy(), SlackGateway("xoxb", base_url=slack.api_url), state)
    to_ana = [c for c in slack.of("chat.postMessage") if c.args["channel"] == "U0ANA0001"]
    assert report.messages_posted == len(to_ana) == 3  # was 30: one run (and message) per creation call
