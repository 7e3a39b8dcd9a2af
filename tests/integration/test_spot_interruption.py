"""Spot interruption handling against the moto server: the checkpoint command goes out through SSM Run Command,
once per event; gone instances and rebalance recommendations become findings, never crashes."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from cost_janitor.adapters.ledger import Ledger
from cost_janitor.core.spot import KIND
from cost_janitor.handlers.spot_interruption import lambda_handler
from cost_janitor.local.context import FakeContext
from cost_janitor.local.emulator import LocalAws, launch, subscribe_queue
from tests.conftest import load_event


@pytest.fixture
def spot(aws: LocalAws, janitor: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    env = janitor()
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    ec2 = aws.client("ec2")
    tagged = launch(ec2, "g5.12xlarge", {"owner": "ana@example.com", "environment": "dev", "Name": "llm-finetune",
                                         "cost-janitor:checkpoint-command": "touch /tmp/checkpoint-now"},
                    InstanceMarketOptions={"MarketType": "spot"}, Placement={"AvailabilityZone": "us-east-1b"})
    plain = launch(ec2, "p3.2xlarge", {"owner": "bo@example.com"}, InstanceMarketOptions={"MarketType": "spot"})
    return {"tagged": tagged, "plain": plain, "tap": subscribe_queue(aws, env["FINDINGS_TOPIC_ARN"]),
            "ssm": aws.client("ssm"), "aws": aws}


def _warning(instance_id: str, event_id: str = "1e5527d7-bb36-4607-3370-4164db56a40e",
             action: str = "terminate") -> dict[str, Any]:
    event = load_event("eventbridge/spot_interruption_warning.json")
    event["id"] = event_id
    event["detail"] = {"instance-id": instance_id, "instance-action": action}
    return event


def _published(spot: dict[str, Any]) -> list[dict[str, Any]]:
    messages = spot["aws"].client("sqs").receive_message(QueueUrl=spot["tap"], MaxNumberOfMessages=10)
    return [f for m in messages.get("Messages", []) for f in json.loads(m["Body"])["findings"]]


def test_warning_for_a_live_instance_runs_its_checkpoint_command(spot: dict[str, Any]) -> None:
    result = lambda_handler(_warning(spot["tagged"]), FakeContext())
    assert (result["verdict"], result["action"], result["action_status"]) == (
        "at-risk", "checkpoint", "done")
    [command] = spot["ssm"].list_commands()["Commands"]
    assert command["DocumentName"] == "AWS-RunShellScript" and command["InstanceIds"] == [spot["tagged"]]
    assert command["Parameters"]["commands"] == ["touch /tmp/checkpoint-now"]
    [finding] = _published(spot)
    assert finding["owner"] == "ana@example.com" and finding["evidence"]["availability_zone"] == "us-east-1b"
    [entry] = Ledger(spot["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"]).entries(KIND)
    assert (entry.instance_type, entry.action, entry.status) == ("g5.12xlarge", "checkpoint", "done")
    assert json.loads(entry.evidence)["availability_zone"] == "us-east-1b"


def test_without_a_tag_the_policy_default_signals_the_spot_watch_helper(spot: dict[str, Any]) -> None:
    lambda_handler(_warning(spot["plain"]), FakeContext())
    [command] = spot["ssm"].list_commands()["Commands"]
    assert command["Parameters"]["commands"] == ["kill -USR1 $(cat /run/cost-janitor/spot-watch.pid)"]


def test_a_duplicate_event_sends_one_command(spot: dict[str, Any]) -> None:
    first = lambda_handler(_warning(spot["tagged"]), FakeContext())
    assert lambda_handler(_warning(spot["tagged"]), FakeContext()) == first
    assert len(spot["ssm"].list_commands()["Commands"]) == 1


def test_warning_for_a_vanished_instance_is_a_clean_finding(spot: dict[str, Any]) -> None:
    result = lambda_handler(_warning("i-0000000000deadbee", event_id="2f"), FakeContext())
    assert result["verdict"] == "gone" and result["action"] is None
    assert spot["ssm"].list_commands()["Commands"] == []
    [finding] = _published(spot)
    assert "already unknown to EC2" in finding["reason"]


def test_hibernate_warning_says_there_is_no_lead_time(spot: dict[str, Any]) -> None:
    result = lambda_handler(_warning(spot["tagged"], action="hibernate"), FakeContext())
    assert "without the usual lead time" in result["reason"]


def test_rebalance_recommendation_is_a_finding_only(spot: dict[str, Any]) -> None:
    event = load_event("eventbridge/spot_rebalance_recommendation.json")
    event["detail"]["instance-id"] = spot["tagged"]
    result = lambda_handler(event, FakeContext())
    assert (result["verdict"], result["action"]) == ("at-risk", None)
    assert spot["ssm"].list_commands()["Commands"] == []
    assert [f["verdict"] for f in _published(spot)] == ["at-risk"]


def test_dry_run_plans_the_checkpoint_without_sending_it(spot: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "true")
    result = lambda_handler(_warning(spot["tagged"], event_id="3f"), FakeContext())
    assert result["action_status"] == "dry-run"
    assert spot["ssm"].list_commands()["Commands"] == []


def test_malformed_spot_event_goes_to_the_dead_letter_queue(spot: dict[str, Any]) -> None:
    result = lambda_handler(load_event("eventbridge/invalid/spot_warning_without_instance_id.json"), FakeContext())
    assert result["status"] == "rejected" and "instance-id" in result["reason"]
