"""Faults injected at the botocore layer: SNS refusing findings, CloudWatch throttled for good, a region that
denies access — the run completes, nothing is silently dropped, nothing unread is called idle."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import botocore.client
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.endpoint import Endpoint
from botocore.exceptions import ClientError
from botocore.retries import bucket

from cost_janitor.adapters import clients
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import ec2 as ec2_family
from cost_janitor.local.emulator import LocalAws, subscribe_queue
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
    return idle_sweep.run(policy or Policy(), Settings.from_env(), now=NOW, run_id=run_id, dry_run=True)


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


def test_two_runs_draining_the_outbox_at_once_publish_each_waiting_batch_once(
        fleet: Fleet, aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    tap = subscribe_queue(aws, str(settings.findings_topic_arn))
    with monkeypatch.context() as m:
        fail(m, lambda c, op, p: op == "Publish", "InternalError")
        _run(run_id="night-1")
    ledger = Ledger(aws.client("dynamodb"), str(settings.ledger_table))
    seen_by_both = ledger.outbox()  # both runs list the outbox before either has drained it
    monkeypatch.setattr(Ledger, "outbox", lambda self: seen_by_both)
    _run(run_id="night-2")
    _run(run_id="night-3")
    bodies = [json.loads(m["Body"]) for m in aws.client("sqs").receive_message(
        QueueUrl=tap, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(b["run_id"] for b in bodies) == ["night-1", "night-2", "night-3"]  # night-1 once, not twice
    [(key, _, _)] = seen_by_both
    assert ledger.take_outbox(key) is None


def test_a_waiting_batch_sns_refuses_again_goes_back_to_the_outbox(fleet: Fleet, aws: LocalAws,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env()
    ledger = Ledger(aws.client("dynamodb"), str(settings.ledger_table))
    fail(monkeypatch, lambda c, op, p: op == "Publish", "InternalError")
    _run(run_id="night-1")
    _run(run_id="night-2")
    assert sorted(run_id for _, run_id, _ in ledger.outbox()) == ["night-1", "night-2"]


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
    assert report.failed_regions == {"us-west-2 (ec2-instances)": "UnauthorizedOperation"}
    assert sorted(f.resource_id for f in report.findings) == sorted(fleet.ids.values())
    assert report.summary()["failed_regions"] == {"us-west-2 (ec2-instances)": "UnauthorizedOperation"}


def test_a_sweep_short_of_time_stops_starting_regions_and_the_next_run_starts_with_them(fleet: Fleet) -> None:
    policy = Policy.model_validate({"regions": ["us-east-1", "us-west-2", "eu-west-1"]})
    clock = iter([600_000, 90_000, 80_000])  # ms left before each region: the 2nd and 3rd are too close to the end
    report = idle_sweep.run(policy, Settings.from_env(), now=NOW, run_id="short", dry_run=True,
                   remaining_ms=lambda: next(clock))
    assert report.not_reached == ["us-west-2", "eu-west-1"]
    assert sorted(f.resource_id for f in report.findings) == sorted(fleet.ids.values())  # us-east-1 was done
    assert report.summary()["not_reached"] == ["us-west-2", "eu-west-1"]
    following = idle_sweep.run(policy, Settings.from_env(), now=NOW, run_id="next", dry_run=True,
                      remaining_ms=lambda: 600_000)
    assert following.regions == ["us-west-2", "eu-west-1", "us-east-1"] and following.not_reached == []


def test_per_region_sweeps_running_at_once_keep_each_others_backlog(fleet: Fleet, aws: LocalAws) -> None:
    """The fan-out runs one sweep per region at the same time: one region's run never clears another's backlog."""
    policy = Policy.model_validate({"regions": ["us-east-1", "us-west-2", "eu-west-1"]})
    ledger = Ledger(aws.client("dynamodb"), str(Settings.from_env().ledger_table))

    def sweep(region: str, left_ms: int) -> idle_sweep.SweepReport:
        return idle_sweep.run(policy, Settings.from_env(), now=NOW, run_id=f"{region}-{left_ms}", dry_run=True,
                              regions=[region], remaining_ms=lambda: left_ms)

    assert sweep("us-west-2", 1_000).not_reached == ["us-west-2"]  # started too close to its end
    assert sweep("eu-west-1", 600_000).not_reached == []
    assert ledger.sweep_backlog() == ["us-west-2"]  # eu-west-1's run left us-west-2's backlog alone
    assert sweep("us-west-2", 600_000).not_reached == [] and ledger.sweep_backlog() == []


# --- Throttling at the HTTP layer: the response AWS sends, parsed and retried by botocore's own retry loop. ---

EC2_LIMIT = (503, {}, b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
                      b"</Message></Error></Errors><RequestID>injected</RequestID></Response>")


# CloudWatch over its JSON protocol (the one this botocore picks), query-compatible as AWS sends it.
CW_THROTTLED = (400, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": "Throttling;Sender"},
                b'{"__type": "com.amazonaws.cloudwatch#ThrottlingException", "message": "Rate exceeded"}')


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


@dataclass
class HttpThrottle:
    """Every HTTP attempt of the throttled operations, the backoff botocore slept between retries, and the time
    adaptive mode's token bucket held requests back. Both run on a virtual clock: the test measures, never waits."""

    attempts: Counter[str] = field(default_factory=Counter)
    sleeps: list[float] = field(default_factory=list)
    held_back: list[float] = field(default_factory=list)
    skew: float = 0.0

    def advance(self, seconds: float, into: list[float]) -> None:
        into.append(seconds)
        self.skew += seconds


Reply = tuple[int, dict[str, str], bytes]


def throttle_http(monkeypatch: pytest.MonkeyPatch, rules: dict[str, tuple[int | None, Reply]]) -> HttpThrottle:
    """rules: operation → (how many first attempts get the response, None = all of them; the response)."""
    seen = HttpThrottle()
    original = Endpoint._send

    def send(self: Endpoint, request: AWSPreparedRequest) -> Any:
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        target = request.headers.get("X-Amz-Target", b"")
        target = target if isinstance(target, bytes) else target.encode()
        for operation, (times, (status, headers, payload)) in rules.items():
            if target.endswith(f".{operation}".encode()) or body.startswith(f"Action={operation}&".encode()):
                seen.attempts[operation] += 1
                if times is None or seen.attempts[operation] <= times:
                    return AWSResponse(request.url, status, headers, _Raw(payload))
        return original(self, request)

    class HeldBack(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            seen.advance(timeout or 0.0, seen.held_back)
            return False

    monkeypatch.setattr(Endpoint, "_send", send)
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda s: seen.advance(s, seen.sleeps)))
    # Wholly virtual and repeatable from here: the clock moves only by botocore's sleeps and the bucket's waits (from a
    # whole second, as the rate clocker buckets by second), and the backoff's jitter — drawn from the random module —
    # is the same every run; what the token bucket measures no longer depends on how fast this machine runs the test.
    start = float(int(time.time()))
    random.seed(20261206)
    monkeypatch.setattr(bucket.Clock, "current_time", lambda self: start + seen.skew)
    monkeypatch.setattr(bucket, "threading", SimpleNamespace(Lock=threading.Lock, Condition=HeldBack))
    clients.reset()  # clients built from here on get the virtual clock in their token bucket
    return seen


def test_botocore_retries_throttled_http_responses_with_backoff_and_the_sweep_still_decides(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    unthrottled = {f.resource_id: (f.verdict, f.action) for f in _run(run_id="calm").findings}
    seen = throttle_http(monkeypatch, {"DescribeInstances": (3, EC2_LIMIT), "GetMetricData": (2, CW_THROTTLED)})
    report = _run(run_id="throttled")
    # 3 refusals + 1 success; GetMetricData: the CPU call 2 refusals + 1 success, then the network call at once
    assert seen.attempts["DescribeInstances"] == 4 and seen.attempts["GetMetricData"] == 4
    assert len(seen.sleeps) == 5 and all(0 <= s <= 20 for s in seen.sleeps) and sum(seen.sleeps) > 0
    assert {f.resource_id: (f.verdict, f.action) for f in report.findings} == unthrottled
    assert {v for v, _ in unthrottled.values()} == {Verdict.IDLE}


def test_throttling_that_outlasts_botocores_nine_attempts_leaves_instances_not_evaluated(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = throttle_http(monkeypatch, {"GetMetricData": (None, CW_THROTTLED)})
    report = _run()
    assert seen.attempts["GetMetricData"] % 9 == 0 and seen.attempts["GetMetricData"] >= 9  # 9 tries per call
    assert len(seen.sleeps) == seen.attempts["GetMetricData"] - seen.attempts["GetMetricData"] // 9
    assert sum(seen.held_back) > 0  # adaptive mode also slowed the client down on its own
    assert {f.verdict for f in report.findings} == {Verdict.NOT_EVALUATED}
    assert all(f.action is None for f in report.findings)


# --- Resources changing between read and act ---

MARKED = {**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}


@pytest.fixture
def due(aws: LocalAws, janitor: Any) -> Fleet:
    """Four dev boxes idle and marked 30 hours ago: every one is due to be stopped tonight."""
    janitor()
    f = Fleet(aws, NOW)
    for name in ("untouched", "terminated", "owner-stopped", "now-prod"):
        f.add(name, "m5.large", MARKED, cpu=1.0)
    return f.done()


def test_instances_that_change_between_read_and_act_are_not_stopped_on_stale_information(
        due: Fleet, aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    ec2, original = aws.client("ec2"), ec2_family.classify_instances

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        decided = original(*args, **kwargs)  # the stops are decided; the world moves on before they are made
        ec2.terminate_instances(InstanceIds=[due.ids["terminated"]])
        ec2.stop_instances(InstanceIds=[due.ids["owner-stopped"]])
        ec2.create_tags(Resources=[due.ids["now-prod"]], Tags=[{"Key": "environment", "Value": "prod"}])
        return decided

    monkeypatch.setattr(ec2_family, "classify_instances", meanwhile)
    report = idle_sweep.run(Policy(), Settings.from_env(), now=NOW, run_id="moving", dry_run=False)
    names = {v: k for k, v in due.ids.items()}
    found = {names[f.resource_id]: (f.action, f.action_status, f.action_error) for f in report.findings}
    assert found == {
        "untouched": (ActionKind.STOP, "done", None),
        "terminated": (ActionKind.STOP, "skipped", "instance-terminated"),
        "owner-stopped": (ActionKind.STOP, "skipped", "instance-stopped"),
        "now-prod": (Ask.JUSTIFY, None, None),
    }
    assert (due.state("untouched"), due.state("now-prod")) == ("stopped", "running")
    assert report.api_calls["DescribeInstances (re-check)"] == 1


def test_stops_that_cannot_be_rechecked_are_not_made(due: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    fail(monkeypatch, lambda c, op, p: op == "DescribeInstances" and "instance-id" in str(p.get("Filters")),
         "RequestLimitExceeded")
    report = idle_sweep.run(Policy(), Settings.from_env(), now=NOW, run_id="blind", dry_run=False)
    assert {(f.action, f.action_status, f.action_error) for f in report.findings} == {
        (ActionKind.STOP, "skipped", "RequestLimitExceeded")}
    assert {due.state(name) for name in due.ids} == {"running"}
