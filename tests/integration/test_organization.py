"""Organization mode against a three-account emulator: a hub (the emulator's default account: Slack, notifier,
answers) and two members (A sweeping us-east-1 and us-west-2, B sweeping us-east-1). Findings go member bus → rule
→ hub bus (its policy admits the members) → notifier queue; answers go hub → the member's narrow role (STS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.adapters import clients
from cost_janitor.adapters.bus import BusPublisher
from cost_janitor.adapters.ledger import MessageState, SlackState
from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.policy import Policy
from cost_janitor.delivery import deliver as publish
from cost_janitor.handlers import notifier
from cost_janitor.local.context import FakeContext
from cost_janitor.local.emulator import (
    FAKE_ACCOUNT,
    HUB_BUS,
    LocalAws,
    deploy_hub_bus,
    deploy_janitor_resources,
    deploy_member_bus,
)
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import _ENV, Settings
from tests.conftest import load_event
from tests.integration.fleet import Fleet
from tests.integration.slack_helpers import click, deliver, signed_request, submit_keep
from tests.integration.slack_world import ANA, BO, message_to

HUB, A, B = FAKE_ACCOUNT, "210987654321", "310987654321"
POLICIES = {A: Policy.model_validate({"regions": ["us-east-1", "us-west-2"]}), B: Policy()}
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
NIGHT = END - timedelta(minutes=55)


def _become(monkeypatch: pytest.MonkeyPatch, aws: LocalAws, account: str, env: dict[str, str]) -> None:
    """Run as that account's Lambda: its credentials and exactly its stack's wiring."""
    for var in _ENV.values():
        if var != "AWS_REGION" and var != "SLACK_API_URL":
            monkeypatch.delenv(var, raising=False)
    for key, value in {**aws.credentials(account), **env, "COST_JANITOR_DRY_RUN": "false"}.items():
        monkeypatch.setenv(key, value)
    clients.reset()


@pytest.fixture
def org(aws: LocalAws, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    hub_env = deploy_janitor_resources(aws, Policy())
    hub_bus, hub_queue = deploy_hub_bus(aws, [A, B])
    envs = {HUB: {**hub_env, "MEMBER_ACCOUNTS": f"{A},{B}"}}
    for account in (A, B):
        envs[account] = {**deploy_janitor_resources(aws, POLICIES[account], account=account),
                         **deploy_member_bus(aws, account, hub_bus)}
    # an idle dev box of Ana's in member A, us-west-2; one of Bo's in member B, us-east-1
    a = Fleet(aws, END, region="us-west-2", account=A)
    a.add("a-dev", "m5.large", {"environment": "dev", "owner": "ana@example.com", "team": "vision"}, cpu=0.5)
    b = Fleet(aws, END, account=B)
    b.add("b-dev", "m5.large", {"environment": "dev", "owner": "bo@example.com", "team": "search"}, cpu=0.5)
    yield {"aws": aws, "envs": envs, "hub_bus": hub_bus, "hub_queue": hub_queue, "fleets": {A: a.done(), B: b.done()},
           "become": lambda account: _become(monkeypatch, aws, account, envs[account])}


def _sweep(org: dict[str, Any], account: str, run_id: str = "night-1") -> idle_sweep.SweepReport:
    org["become"](account)
    return idle_sweep.run(POLICIES[account], Settings.from_env(), now=NIGHT, run_id=run_id, dry_run=False)


def _hub_night(org: dict[str, Any]) -> list[dict[str, Any]]:
    """As the hub: what its bus handed the notifier's queue, through the notifier Lambda; returns the bodies."""
    org["become"](HUB)
    sqs, queue = org["aws"].client("sqs"), org["hub_queue"]
    records, bodies = [], []
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            record = json.loads(json.dumps(load_event("sqs/findings_batch.json")["Records"][0]))
            records.append({**record, "messageId": m["MessageId"], "body": m["Body"]})
            bodies.append(json.loads(m["Body"]))
    if records:
        assert notifier.lambda_handler({"Records": records}, FakeContext("notifier")) == {"batchItemFailures": []}
    return bodies


def test_a_members_idle_box_is_told_through_the_hub_and_kept_from_slack_in_its_own_account_and_region(
        org: dict[str, Any], slack: SlackStandIn) -> None:
    a: Fleet = org["fleets"][A]
    report = _sweep(org, A)
    assert {(f.resource_id, f.account, f.region, f.action) for f in report.findings if f.verdict == "idle"} == {
        (a.ids["a-dev"], A, "us-west-2", "mark-idle")}
    [event] = _hub_night(org)
    assert event["account"] == A and event["source"] == "cost-janitor"  # EventBridge says who sent it
    channel, ts = message_to(slack, ANA)
    assert a.ids["a-dev"] in json.dumps(slack.of("chat.postMessage")[0].args["blocks"])
    reason = "Benchmark box for the A/B eval until Friday."
    deliver(signed_request(click("keep", resource=a.ids["a-dev"], user=ANA, channel=channel, ts=ts,
                                 response_url=slack.response_url())))
    deliver(signed_request(submit_keep(resource=a.ids["a-dev"], user=ANA, channel=channel, ts=ts, reason=reason)))
    tags = a.tags("a-dev")  # read in member A, us-west-2
    assert tags["cost-janitor:keep-by"] == ANA and tags["cost-janitor:keep-reason"] == reason
    [update] = slack.of("chat.update")
    assert f"Kept by <@{ANA}>" in json.dumps(update.args["blocks"])
    hub_ec2 = org["aws"].client("ec2", "us-west-2")  # nothing of it in the hub's own account
    assert hub_ec2.describe_instances()["Reservations"] == []


def test_stop_now_on_member_bs_dev_box_stops_it_there(org: dict[str, Any], slack: SlackStandIn) -> None:
    b: Fleet = org["fleets"][B]
    _sweep(org, B)
    _hub_night(org)
    channel, ts = message_to(slack, BO)
    deliver(signed_request(click("stop_now", resource=b.ids["b-dev"], user=BO, channel=channel, ts=ts,
                                 response_url=slack.response_url())))
    assert b.state("b-dev") in ("stopping", "stopped")
    [reply] = slack.of("response_url")
    assert f"Stopped at the request of <@{BO}>" in json.dumps(reply.args["blocks"])


def test_a_warm_hub_answers_after_the_members_session_has_expired(org: dict[str, Any], slack: SlackStandIn,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub keeps one assumed-role session per member in a warm container. With a short-lived session (STS's
    15-minute minimum, inside botocore's refresh window) every later answer lands on fresh credentials instead of
    failing with ExpiredToken once the session is over."""
    b: Fleet = org["fleets"][B]
    _sweep(org, B)
    _hub_night(org)
    channel, ts = message_to(slack, BO)
    assumed: list[str] = []
    original = clients.client

    def counting(service: str, region: str | None = None) -> Any:
        made = original(service, region)
        if service == "sts" and not getattr(made, "_counted", False):
            made.meta.events.register("before-call.sts.AssumeRole", lambda **kw: assumed.append("x"))
            made._counted = True
        return made

    counting.cache_clear = original.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(clients, "client", counting)
    monkeypatch.setattr(clients, "SESSION_SECONDS", 900)
    deliver(signed_request(submit_keep(resource=b.ids["b-dev"], user=BO, channel=channel, ts=ts,
                                       reason="demo next week")))
    first = len(assumed)
    assert first >= 1 and "cost-janitor:keep-until" in b.tags("b-dev")
    b.ec2.delete_tags(Resources=[b.ids["b-dev"]], Tags=[{"Key": "cost-janitor:keep-until"}])
    deliver(signed_request(submit_keep(resource=b.ids["b-dev"], user=BO, channel=channel, ts=ts,
                                       reason="demo next week, still", view_id="V0KEEP0002")))
    assert len(assumed) > first, "the session about to expire was not refreshed"
    assert "cost-janitor:keep-until" in b.tags("b-dev")


def test_a_member_the_hub_refuses_keeps_its_findings_and_sends_them_once_admitted(org: dict[str, Any]) -> None:
    events = org["aws"].client("events")
    events.remove_permission(EventBusName=HUB_BUS, StatementId=f"member-{B}")  # the hub's policy no longer admits B
    _sweep(org, B)
    assert _hub_night(org) == []  # nothing reached the hub...
    outbox = org["aws"].client("sqs", account=B)

    def waiting() -> str:
        attrs = outbox.get_queue_attributes(QueueUrl=org["envs"][B]["HUB_OUTBOX_QUEUE_URL"],
                                            AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return str(attrs["ApproximateNumberOfMessages"])

    assert waiting() == "1"  # ...and nothing was lost: it waits in B's hub outbox
    org["become"](B)
    assert publish([], Settings.from_env(), run_id="night-2") == 1  # put on B's bus again (B cannot see the hub)...
    assert _hub_night(org) == [] and waiting() == "1"  # ...refused again: back in the outbox, once, not looping
    events.put_permission(EventBusName=HUB_BUS, StatementId=f"member-{B}", Action="events:PutEvents", Principal=B)
    org["become"](B)
    assert publish([], Settings.from_env(), run_id="night-3") == 1  # the next run of any capability sends it
    [event] = _hub_night(org)
    assert event["account"] == B and event["detail"]["run_id"] == "night-1"
    assert [f["resource_id"] for f in event["detail"]["findings"]] == [org["fleets"][B].ids["b-dev"]]


def test_findings_naming_another_account_or_from_a_stranger_are_dropped(org: dict[str, Any],
                                                                        slack: SlackStandIn) -> None:
    """EventBridge sets `account` to whoever put the event: member A cannot speak for B's box, and an account the
    bus admits but the hub does not list as a member is not heard at all."""
    report = _sweep(org, B)
    [b_finding] = [f for f in report.findings if f.verdict == "idle"]
    org["aws"].client("sqs").purge_queue(QueueUrl=org["hub_queue"])  # B's own, genuine batch: not this test's
    org["become"](A)
    BusPublisher(clients.client("events"), org["envs"][A]["FINDINGS_BUS_NAME"]).publish([b_finding], run_id="forged")
    stranger = "999999999999"
    org["aws"].client("events").put_permission(EventBusName=HUB_BUS, StatementId="stranger",
                                               Action="events:PutEvents", Principal=stranger)
    bus = deploy_member_bus(org["aws"], stranger, org["hub_bus"])["FINDINGS_BUS_NAME"]
    BusPublisher(org["aws"].client("events", account=stranger), bus).publish(
        [b_finding.model_copy(update={"account": stranger})], run_id="stranger")
    bodies = _hub_night(org)  # the notifier takes both (no retries: retrying would not make them true)...
    assert sorted(b["account"] for b in bodies) == sorted([A, stranger])
    assert slack.of("chat.postMessage") == []  # ...and tells nobody about either


def test_an_answer_for_an_account_the_hub_does_not_know_is_refused(org: dict[str, Any], slack: SlackStandIn) -> None:
    report = _sweep(org, A)
    [finding] = [f for f in report.findings if f.verdict == "idle"]
    org["become"](HUB)
    unknown = finding.model_copy(update={"account": "999999999999", "resource_id": "i-0unknownaccount01"})
    SlackState(org["aws"].client("dynamodb"), org["envs"][HUB]["LEDGER_TABLE"]).save_message(MessageState(
        channel="D0ANA0001", ts="1.000001", run_id="r", recipient=ANA, findings=[unknown]))
    deliver(signed_request(click("snooze", resource=unknown.resource_id, user=ANA, channel="D0ANA0001",
                                 ts="1.000001", response_url=slack.response_url())))
    [reply] = slack.of("response_url")
    assert reply.args["response_type"] == "ephemeral"
    assert "does not act in account 999999999999" in reply.args["text"]
    assert not slack.of("chat.update")


def test_the_hubs_one_digest_counts_every_members_savings_by_account(org: dict[str, Any]) -> None:
    from cost_janitor.capabilities import report as report_capability
    from cost_janitor.slack_blocks import digest_message

    marked = (NIGHT - timedelta(days=3)).isoformat()
    for account, name in ((A, "a-dev"), (B, "b-dev")):  # idle and marked for three days: this night stops them
        fleet: Fleet = org["fleets"][account]
        fleet.ec2.create_tags(Resources=[fleet.ids[name]], Tags=[{"Key": "cost-janitor:idle-since", "Value": marked}])
        report = _sweep(org, account)
        assert {(f.action, f.action_status) for f in report.findings if f.verdict == "idle"} == {("stop", "done")}
    _hub_night(org)  # the hub hears both, and writes their actions in its own ledger
    built = report_capability.build(Policy(), Settings.from_env(), now=NIGHT + timedelta(days=2))
    assert set(built.by_account) == {A, B}
    assert built.by_account[A] == built.by_account[B] == round(70.08 / 730 * 48, 2)  # m5.large, 48 h stopped
    assert built.weeks[-1]["realized_usd"] == round(2 * 70.08 / 730 * 48, 2)
    text = json.dumps(digest_message(built.document(), team=None)["blocks"])
    assert f"*By account:* {A} $4.61, {B} $4.61" in text or f"*By account:* {B} $4.61, {A} $4.61" in text
    # B's box runs again: the state change B's rule forwards reaches the hub's report function, ending its savings
    from cost_janitor.handlers import report as report_handler

    started = load_event("eventbridge/ec2_state_change_running.json")
    started.update({"account": B, "time": (NIGHT + timedelta(days=1)).isoformat()})
    started["detail"]["instance-id"] = org["fleets"][B].ids["b-dev"]
    assert report_handler.lambda_handler(started, FakeContext("report")) == {"recorded": True}
    later = report_capability.build(Policy(), Settings.from_env(), now=NIGHT + timedelta(days=2))
    assert later.by_account == {A: round(70.08 / 730 * 48, 2), B: round(70.08 / 730 * 24, 2)}


def test_a_members_box_started_again_in_another_region_ends_its_savings_in_the_hubs_digest(
        org: dict[str, Any]) -> None:
    """EC2 sends state changes only in the instance's own region, and A's box is in us-west-2, away from A's stack:
    A's next sweep sees it running, records the start and tells the hub, whose digest stops counting it."""
    from cost_janitor.capabilities import report as report_capability
    from cost_janitor.handlers import report as report_handler
    from cost_janitor.local.emulator import HUB_STARTED_QUEUE

    a: Fleet = org["fleets"][A]
    a.ec2.create_tags(Resources=[a.ids["a-dev"]], Tags=[{"Key": "cost-janitor:idle-since",
                                                          "Value": (NIGHT - timedelta(days=3)).isoformat()}])
    assert {(f.action, f.action_status) for f in _sweep(org, A).findings if f.verdict == "idle"} == {
        ("stop", "done")}
    _hub_night(org)
    a.ec2.start_instances(InstanceIds=[a.ids["a-dev"]])  # its owner needs it back
    launched = a.ec2.describe_instances(InstanceIds=[a.ids["a-dev"]])["Reservations"][0]["Instances"][0]["LaunchTime"]
    assert _sweep(org, A, run_id="night-2").restarted == 1
    org["become"](HUB)
    sqs = org["aws"].client("sqs")
    queue = sqs.get_queue_url(QueueName=HUB_STARTED_QUEUE)["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert event["account"] == A and event["detail"]["started"][0]["region"] == "us-west-2"
    assert report_handler.lambda_handler(event, FakeContext("report")) == {"recorded": 1}
    assert report_handler.lambda_handler(event, FakeContext("report")) == {"recorded": 0}  # a repeat is harmless
    built = report_capability.build(Policy(), Settings.from_env(), now=NIGHT + timedelta(days=2))
    hours = (launched - NIGHT).total_seconds() / 3600
    assert built.by_account[A] == round(70.08 / 730 * hours, 2) < round(70.08 / 730 * 24, 2)


def test_a_member_with_10000_findings_forwards_every_one_within_eventbridges_and_snss_sizes(
        org: dict[str, Any]) -> None:
    """#27: the emulator refuses a PutEvents request over EventBridge's entry size (its User Guide's calculation; 1 MB
    since January 2026) and moto an SNS message over 256 KiB. A member's 10,000 findings go to the hub as events of at
    most 256 KB each (under the old limit too), none dropped; the same batches fit SNS."""
    from botocore.exceptions import ClientError

    from cost_janitor.adapters.sns import FindingsPublisher
    from cost_janitor.core.idle import classify_instances
    from tests.builders import NOW, make_instance, make_usage

    boxes = [make_instance(instance_id=f"i-{k:017x}", account=A, region="us-west-2", instance_type="g5.xlarge",
                           tags={"environment": "dev", "owner": f"user{k % 800}@example.com", "team": "vision",
                                 "Name": f"train-{k:05d}"}) for k in range(10_000)]
    findings = classify_instances(boxes, {b.instance_id: make_usage(cpu=1, gpus=[0.5]) for b in boxes}, Policy(),
                                  now=NOW, run_id="big-night")
    org["become"](A)
    events = clients.client("events")
    sent = BusPublisher(events, org["envs"][A]["FINDINGS_BUS_NAME"]).publish(findings, run_id="big-night")
    sqs, queue = org["aws"].client("sqs"), org["hub_queue"]
    seen, sizes = [], []
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            event = json.loads(m["Body"])
            sizes.append(len(json.dumps(event["detail"]).encode()))
            seen += [f["resource_id"] for f in event["detail"]["findings"]]
    assert len(sizes) == sent > 1 and max(sizes) <= 256 * 1024
    assert sorted(seen) == sorted(f.resource_id for f in findings)  # every one, once
    with pytest.raises(ClientError, match="over the limit"):  # and the emulator does refuse what is too big
        events.put_events(Entries=[{"Source": "x", "DetailType": "y", "EventBusName": org["envs"][A][
            "FINDINGS_BUS_NAME"], "Detail": json.dumps({"pad": "x" * (1024 * 1024)})}])
    org["become"](HUB)
    assert FindingsPublisher(clients.client("sns"), org["envs"][HUB]["FINDINGS_TOPIC_ARN"]).publish(
        findings, run_id="big-night") == sent  # moto refuses an SNS message over 256 KiB: none was
