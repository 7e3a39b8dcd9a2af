"""Faults injected at the botocore layer: SNS refusing findings, CloudWatch throttled for good, a region that
denies access — the run completes, nothing is silently dropped, nothing unread is called idle."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from cost_janitor.adapters.ledger import Ledger
from cost_janitor.core.models import Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.emulator import LocalAws, subscribe_queue
from cost_janitor.handlers.idle_sweep import sweep
from cost_janitor.settings import Settings
from tests.integration.fleet import DEV, Fleet

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def fail(monkeypatch: pytest.MonkeyPatch, when: Callable[[Any, str, dict[str, Any]], bool], code: str) -> None:
    original = botocore.client.BaseClient._make_api_call

    def injected(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if when(self, operation, params):
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", injected)


@pytest.fixture
def fleet(aws: LocalAws, janitor: Any) -> Fleet:
    janitor()
    f = Fleet(aws, NOW)
    f.add("idle-a", "m5.large", DEV, cpu=1.0)
    f.add("idle-b", "m5.large", DEV, cpu=1.0)
    return f.done()


def _run(policy: Policy | None = None, run_id: str = "r1") -> Any:
    return sweep(policy or Policy(), Settings.from_env(), now=NOW, run_id=run_id, dry_run=True)


def test_clients_retry_throttling_with_backoff_in_adaptive_mode(aws: LocalAws) -> None:
    from cost_janitor.adapters.clients import client

    retries = client("cloudwatch", "us-east-1").meta.config.retries
    assert retries["mode"] == "adaptive"
    assert retries["total_max_attempts"] == 9  # botocore counts the first try: 8 retries


def test_findings_sns_refuses_wait_in_the_outbox_and_go_out_next_run(fleet: Fleet, aws: LocalAws,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    tap = subscribe_queue(aws, str(settings.findings_topic_arn))
    with monkeypatch.context() as m:
        fail(m, lambda c, op, p: op == "Publish", "InternalError")
        report = _run(run_id="night-1")
    assert report.messages_published == 0
    ledger = Ledger(aws.client("dynamodb"), str(settings.ledger_table))
    [(_, run_id, waiting)] = ledger.outbox()
    assert run_id == "night-1" and sorted(f.resource_id for f in waiting) == sorted(fleet.ids.values())
    _run(run_id="night-2")
    assert ledger.outbox() == []
    bodies = [json.loads(m["Body"]) for m in aws.client("sqs").receive_message(
        QueueUrl=tap, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["run_id"] for b in bodies) == ["night-1", "night-2"]


def test_persistent_throttling_leaves_instances_not_evaluated_never_idle(fleet: Fleet,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fail(monkeypatch, lambda c, op, p: op == "GetMetricData", "ThrottlingException")
    report = _run()
    assert {f.verdict for f in report.findings} == {Verdict.NOT_EVALUATED}
    assert all(f.action is None for f in report.findings)
    assert all(f.publishable for f in report.findings)  # reported, not dropped


def test_a_region_denying_access_does_not_stop_the_others(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    fail(monkeypatch, lambda c, op, p: op == "DescribeInstances" and c.meta.region_name == "us-west-2",
         "UnauthorizedOperation")
    report = _run(Policy.model_validate({"regions": ["us-east-1", "us-west-2"]}))
    assert report.failed_regions == {"us-west-2": "UnauthorizedOperation"}
    assert sorted(f.resource_id for f in report.findings) == sorted(fleet.ids.values())
    assert report.summary()["failed_regions"] == {"us-west-2": "UnauthorizedOperation"}


def test_a_sweep_short_of_time_stops_starting_regions_and_the_next_run_starts_with_them(fleet: Fleet) -> None:
    policy = Policy.model_validate({"regions": ["us-east-1", "us-west-2", "eu-west-1"]})
    clock = iter([600_000, 90_000, 80_000])  # ms left before each region: the 2nd and 3rd are too close to the end
    report = sweep(policy, Settings.from_env(), now=NOW, run_id="short", dry_run=True,
                   remaining_ms=lambda: next(clock))
    assert report.not_reached == ["us-west-2", "eu-west-1"]
    assert sorted(f.resource_id for f in report.findings) == sorted(fleet.ids.values())  # us-east-1 was done
    assert report.summary()["not_reached"] == ["us-west-2", "eu-west-1"]
    following = sweep(policy, Settings.from_env(), now=NOW, run_id="next", dry_run=True,
                      remaining_ms=lambda: 600_000)
    assert following.regions == ["us-west-2", "eu-west-1", "us-east-1"] and following.not_reached == []
