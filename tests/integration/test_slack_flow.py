"""The whole loop against the moto server and the Slack stand-in: sweep → SNS → notifier → one message per
owner → a signed click → tags and ledger written → the message updated in place; strangers change nothing."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.adapters.ledger import SlackState
from cost_janitor.adapters.slack import SlackGateway
from cost_janitor.capabilities import idle_sweep, notify
from cost_janitor.core.policy import Policy
from cost_janitor.handlers import notifier, slack_interactivity
from cost_janitor.local.emulator import LocalAws, subscribe_queue
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.conftest import load_event
from tests.integration.fleet import Fleet
from tests.integration.slack_helpers import Ctx, button, click, deliver, signed_request, submit_keep, submit_reassign

ANA, BO, CY = "U0ANA0001", "U0BO00001", "U0CY00001"
POLICY = Policy.model_validate({"slack": {"team_channels": {"vision": "#vision", "search": "#search"},
                                          "admins": ["U0ADMIN01"]}})
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    standin = SlackStandIn(users={"ana@example.com": ANA, "bo@example.com": BO, "cy@example.com": CY})
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    yield standin
    standin.stop()


@pytest.fixture
def world(aws: LocalAws, janitor: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    janitor(POLICY)
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    fleet = Fleet(aws, END, hours=16 * 24)  # enough history for a week of nights
    dev = {"environment": "dev", "team": "vision"}
    fleet.add("ana-gpu", "g5.xlarge", {**dev, "owner": "ana@example.com"}, cpu=1.0, gpus=[(0.5, 0.5)])
    fleet.add("ana-cpu", "m5.large", {**dev, "owner": "ana@example.com"}, cpu=0.5)
    fleet.add("bo-prod", "g5.xlarge", {"environment": "prod", "team": "search", "owner": "bo@example.com"},
              cpu=0.5, gpus=[(1.0, 1.0)])
    fleet.add("orphan", "m5.large", {"environment": "prod", "team": "vision"}, cpu=0.5)
    fleet.add("stranger", "m5.large", {"environment": "prod", "owner": "zed@elsewhere.example"}, cpu=0.5)
    fleet.done()
    tap = subscribe_queue(aws, os.environ["FINDINGS_TOPIC_ARN"], name="notifier-input")
    return {"fleet": fleet, "tap": tap, "aws": aws}


def _night(world: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Sweep, then hand what SNS delivered to the notifier queue to the notifier Lambda."""
    result: dict[str, Any] = notifier.lambda_handler({"Records": _swept(world, now)}, Ctx())
    return result


def _swept(world: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Sweep; the SQS records SNS delivered to the notifier's queue."""
    idle_sweep.run(POLICY, Settings.from_env(), now=now, run_id=f"run-{now:%m%d}", dry_run=False)
    sqs = world["aws"].client("sqs")
    records = []
    while True:
        got = sqs.receive_message(QueueUrl=world["tap"], MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        for m in got:
            sqs.delete_message(QueueUrl=world["tap"], ReceiptHandle=m["ReceiptHandle"])
            record = json.loads(json.dumps(load_event("sqs/findings_batch.json")["Records"][0]))
            record.update({"messageId": m["MessageId"], "body": m["Body"]})
            records.append(record)
    return records


def _posts(slack: SlackStandIn) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for call in slack.of("chat.postMessage"):
        out.setdefault(str(call.args["channel"]), []).append(call.args)
    return out


def _message_to(slack: SlackStandIn, user: str) -> tuple[str, str]:
    """(channel, ts) of the DM the stand-in created for a user's first message."""
    calls = slack.of("chat.postMessage")
    index = next(n for n, c in enumerate(calls) if c.args["channel"] == user)
    return "D" + user[1:], f"1764300000.{index + 1:06d}"


def _act(payload: dict[str, Any], **request: Any) -> dict[str, Any]:
    result: dict[str, Any] = deliver(signed_request(payload, **request))
    return result


def test_one_message_per_owner_with_the_right_buttons(world: dict[str, Any], slack: SlackStandIn) -> None:
    assert _night(world, END + timedelta(minutes=5)) == {"batchItemFailures": []}
    posts = _posts(slack)
    # the stranger's email is unknown to Slack and has no team channel → the default channel
    assert sorted(posts) == ["#ml-cost", "#vision", "U0ANA0001", "U0BO00001"]
    assert all(len(v) == 1 for v in posts.values())
    ana = json.dumps(posts[ANA][0]["blocks"])
    assert "ana-gpu" in ana and "ana-cpu" in ana and '"stop_now"' in ana and '"keep"' in ana
    bo = json.dumps(posts[BO][0]["blocks"])
    assert '"snooze"' in bo and '"not_mine"' in bo and '"stop_now"' not in bo
    assert "orphan" in json.dumps(posts["#vision"][0]["blocks"])
    assert [c.args["email"] for c in slack.of("users.lookupByEmail")].count("ana@example.com") == 1  # cached


def test_owner_keeps_prod_box_with_a_reason_and_the_message_updates(world: dict[str, Any], slack: SlackStandIn) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    resource = fleet.ids["bo-prod"]
    channel, ts = _message_to(slack, BO)
    response = _act(click("keep", resource=resource, user=BO, channel=channel, ts=ts,
                          response_url=slack.response_url()))
    assert response["statusCode"] == 200
    [view] = slack.of("views.open")
    assert view.args["view"]["callback_id"] == "keep"
    reason = "Canary for the ranker launch on Dec 3; the team removes it after the launch review."
    response = _act(submit_keep(resource=resource, user=BO, channel=channel, ts=ts, reason=reason, days=7))
    assert json.loads(response["body"]) == {"response_action": "clear"}
    tags = fleet.tags("bo-prod")
    assert tags["cost-janitor:keep-by"] == BO and tags["cost-janitor:keep-reason"] == reason
    assert tags["cost-janitor:keep-until"] == (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    [update] = slack.of("chat.update")
    assert update.args["ts"] == ts and f"Kept by <@{BO}>" in json.dumps(update.args["blocks"])
    from cost_janitor.adapters.ledger import Ledger
    answers = [e for e in Ledger(world["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"]).history(resource)
               if e.key.endswith("#answer")]
    assert [(a.action, a.actor, a.reason) for a in answers] == [("justified", BO, reason)]


def test_a_click_by_someone_else_changes_nothing(world: dict[str, Any], slack: SlackStandIn) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, BO)
    before = fleet.tags("bo-prod")
    _act(click("snooze", resource=fleet.ids["bo-prod"], user=ANA, channel=channel, ts=ts,
               response_url=slack.response_url()))
    assert fleet.tags("bo-prod") == before
    [reply] = slack.of("response_url")
    assert reply.args["response_type"] == "ephemeral" and "Only the owner" in reply.args["text"]
    assert not slack.of("chat.update")


def test_an_admin_may_answer_for_anyone(world: dict[str, Any], slack: SlackStandIn) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, BO)
    _act(click("snooze", resource=fleet.ids["bo-prod"], user="U0ADMIN01", channel=channel, ts=ts,
               response_url=slack.response_url()))
    assert fleet.tags("bo-prod")["cost-janitor:keep-by"] == "U0ADMIN01"


def test_stop_now_stops_a_dev_box_through_the_executor_once(world: dict[str, Any], slack: SlackStandIn) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, ANA)
    request = click("stop_now", resource=fleet.ids["ana-cpu"], user=ANA, channel=channel, ts=ts,
                    response_url=slack.response_url(), action_ts="1764300200.000001")
    _act(request)
    _act(request)  # Slack retried / double click: same action_ts and user
    assert fleet.state("ana-cpu") == "stopped"
    replaced = slack.of("response_url")
    assert len(replaced) == 1 and replaced[0].args["replace_original"] is True
    assert f"Stopped at the request of <@{ANA}>" in json.dumps(replaced[0].args["blocks"])


def test_not_mine_reassigns_and_tells_the_new_owner(world: dict[str, Any], slack: SlackStandIn) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, BO)
    resource = fleet.ids["bo-prod"]
    _act(click("not_mine", resource=resource, user=BO, channel=channel, ts=ts, response_url=slack.response_url()))
    assert slack.of("views.open")[0].args["view"]["callback_id"] == "reassign"
    _act(submit_reassign(resource=resource, user=BO, channel=channel, ts=ts, new_owner=CY))
    assert fleet.tags("bo-prod")["owner"] == CY
    assert resource in json.dumps(_posts(slack)[CY][0]["blocks"])
    assert "Reassigned to <@U0CY00001>" in json.dumps(slack.of("chat.update")[0].args["blocks"])


@pytest.mark.parametrize("request_args, status", [
    ({"secret": "not-the-secret"}, 401),
    ({"timestamp": str(int(datetime.now(UTC).timestamp()) - 600)}, 401),
    ({"timestamp": "tomorrow"}, 401),
    ({"body": "payload=" + "x" * 70_000}, 413),
], ids=["wrong-secret", "replayed-after-5-minutes", "non-numeric-timestamp", "oversized-body"])
def test_unsigned_or_stale_requests_are_refused_without_side_effects(world: dict[str, Any], slack: SlackStandIn,
                                                                     request_args: dict[str, Any],
                                                                     status: int) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, BO)
    before = fleet.tags("bo-prod")
    payload = click("snooze", resource=fleet.ids["bo-prod"], user=BO, channel=channel, ts=ts,
                    response_url=slack.response_url())
    response = _act(payload, **request_args)
    assert response["statusCode"] == status
    assert fleet.tags("bo-prod") == before and not slack.of("response_url")


def test_plain_text_body_and_unknown_route(world: dict[str, Any], slack: SlackStandIn) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, BO)
    payload = click("snooze", resource=fleet.ids["bo-prod"], user=BO, channel=channel, ts=ts,
                    response_url=slack.response_url())
    assert _act(payload, b64=False)["statusCode"] == 200
    assert "cost-janitor:keep-until" in fleet.tags("bo-prod")
    assert _act(payload, path="/other")["statusCode"] == 404


def test_prod_requests_are_reasked_after_n_days_and_escalated_after_m(world: dict[str, Any],
                                                                        slack: SlackStandIn) -> None:
    for day in (0, 1, 3, 7):
        _night(world, END - timedelta(days=7 - day) + timedelta(minutes=5))
    to_bo = [c for c in slack.of("chat.postMessage") if c.args["channel"] == BO]
    assert len(to_bo) == 3  # day 0, re-asked day 3 and day 7 (reask_after_days = 3); not day 1
    escalated = [c for c in slack.of("chat.postMessage") if c.args["channel"] == "#search"]
    assert len(escalated) == 1 and "unanswered" in escalated[0].args["text"]


def test_slack_rate_limit_is_honoured_and_errors_are_not_retried_forever(world: dict[str, Any],
                                                                          slack: SlackStandIn) -> None:
    slack.fail_next = [429]
    _night(world, END + timedelta(minutes=5))
    assert len(_posts(slack)) == 4  # the 429 was retried after Retry-After
    slack.fail_next = [500] * 20
    calls_before = len(slack.calls)
    result = _night(world, END + timedelta(days=1, minutes=5))
    assert result == {"batchItemFailures": []}
    assert len(slack.calls) - calls_before < 20  # each failure recorded once, not retried in a loop


def test_the_creator_fixes_missing_tags_with_the_slack_form(aws: LocalAws, janitor: Any, slack: SlackStandIn,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Policy.model_validate({"tagging": {"required": {
        "team": [], "project": [], "environment": ["dev", "prod"], "cost-center": []}}})
    janitor(policy)
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    from cost_janitor.handlers.tag_compliance import lambda_handler as tag_handler
    from cost_janitor.local.emulator import launch
    ec2 = aws.client("ec2")
    iid = launch(ec2, "g5.xlarge", {"team": "vision"})
    tap = subscribe_queue(aws, os.environ["FINDINGS_TOPIC_ARN"], name="notifier-input")
    event = load_event("cloudtrail/run_instances_assumed_role_partial_tags.json")
    event["detail"]["responseElements"]["instancesSet"]["items"][0]["instanceId"] = iid
    record = load_event("sqs/findings_batch.json")["Records"][0]
    tag_handler({"Records": [{**record, "body": json.dumps(event)}]}, Ctx())
    [message] = aws.client("sqs").receive_message(QueueUrl=tap)["Messages"]
    notifier.lambda_handler({"Records": [{**record, "messageId": message["MessageId"],
                                          "body": message["Body"]}]}, Ctx())
    [post] = slack.of("chat.postMessage")
    assert post.args["channel"] == ANA and '"fix_tags"' in json.dumps(post.args["blocks"])
    channel, ts = _message_to(slack, ANA)
    _act(click("fix_tags", resource=iid, user=ANA, channel=channel, ts=ts, response_url=slack.response_url(),
               value=button(post.args["blocks"], "fix_tags", iid)))
    [view] = slack.of("views.open")
    fields = {b["block_id"]: b["element"]["type"] for b in view.args["view"]["blocks"] if b["type"] == "input"}
    assert fields == {"tag:project": "plain_text_input", "tag:environment": "static_select",
                      "tag:cost-center": "plain_text_input"}
    payload = submit_keep(resource=iid, user=ANA, channel=channel, ts=ts, reason="-", view_id="V0TAGS0001")
    payload["view"]["callback_id"] = "fix_tags"
    payload["view"]["state"] = {"values": {
        "tag:project": {"value": {"type": "plain_text_input", "value": "detector"}},
        "tag:environment": {"value": {"type": "static_select", "selected_option": {"value": "dev"}}},
        "tag:cost-center": {"value": {"type": "plain_text_input", "value": "cc-1001"}}}}
    assert json.loads(_act(payload)["body"]) == {"response_action": "clear"}
    tags = {t["Key"]: t["Value"] for t in ec2.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]}
    assert tags == {"team": "vision", "created-by": "ana@example.com", "project": "detector", "environment": "dev",
                    "cost-center": "cc-1001"}
    assert "Tagged by <@U0ANA0001>" in json.dumps(slack.of("chat.update")[-1].args["blocks"])


def test_a_recipient_another_notifier_is_writing_to_is_handed_back_to_sqs_not_posted_twice(
        world: dict[str, Any], slack: SlackStandIn) -> None:
    now = END + timedelta(minutes=5)
    records = _swept(world, now)
    state = SlackState(world["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
    assert state.claim(f"run-{now:%m%d}", ANA, holder="the-other-notifier")
    first = notifier.lambda_handler({"Records": records}, Ctx())
    carrying_ana = sorted(r["messageId"] for r in records if "ana@example.com" in r["body"])
    assert sorted(f["itemIdentifier"] for f in first["batchItemFailures"]) == carrying_ana != []
    assert ANA not in _posts(slack) and len(_posts(slack)) == 3  # everyone else got theirs
    state.release(f"run-{now:%m%d}", ANA, holder="the-other-notifier")
    redelivered = [r for r in records if {"itemIdentifier": r["messageId"]} in first["batchItemFailures"]]
    assert notifier.lambda_handler({"Records": redelivered}, Ctx()) == {"batchItemFailures": []}
    posts = _posts(slack)
    assert len(posts[ANA]) == 1 and all(len(v) == 1 for v in posts.values())


def test_two_notifiers_writing_one_runs_findings_to_one_owner_at_once_post_one_message(
        world: dict[str, Any], slack: SlackStandIn) -> None:
    now = END + timedelta(minutes=5)
    report = idle_sweep.run(POLICY, Settings.from_env(), now=now, run_id="run-race", dry_run=False)
    ana = [f for f in report.findings if f.owner == "ana@example.com" and f.publishable]
    assert len(ana) == 2
    slack.delays["chat.postMessage"] = 0.5  # the first post is in flight while the second notifier arrives
    start = threading.Barrier(2)
    reports: list[Any] = []

    def notifier_instance(findings: list[Any]) -> None:
        gateway = SlackGateway("xoxb-test", base_url=slack.api_url)
        state = SlackState(world["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
        start.wait()
        reports.append(notify.run(findings, POLICY, gateway, state))

    threads = [threading.Thread(target=notifier_instance, args=([f],)) for f in ana]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(_posts(slack)[ANA]) == 1  # without the lease both found no message and both posted
    # the other one found the lease held (and hands its findings back), or — on a slow machine — came after the
    # first had finished and merged into its message
    assert sum(len(r.busy) + r.messages_updated for r in reports) == 1 and len(reports) == 2


def test_slack_too_slow_to_answer_is_a_recorded_failure_not_a_hang_or_a_retry_loop(
        world: dict[str, Any], slack: SlackStandIn) -> None:
    report = idle_sweep.run(POLICY, Settings.from_env(), now=END + timedelta(minutes=5), run_id="run-slow",
                            dry_run=False)
    ana = [f for f in report.findings if f.owner == "ana@example.com" and f.publishable]
    slack.delays["chat.postMessage"] = 6.0  # the gateway waits 5 s
    state = SlackState(world["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
    started = time.monotonic()
    result = notify.run(ana, POLICY, SlackGateway("xoxb-test", base_url=slack.api_url), state)
    assert time.monotonic() - started < 8
    assert result.failed == {ANA: "TimeoutError"} and result.messages_posted == 0
    assert slack.arrived.count("chat.postMessage") == 1  # one try, no retry loop; the next run tells them
    assert state.claim("run-slow", ANA, holder="next")  # the lease was given back


def test_requests_are_logged_without_secrets_or_signatures(world: dict[str, Any], slack: SlackStandIn,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    _night(world, END + timedelta(minutes=5))
    fleet: Fleet = world["fleet"]
    channel, ts = _message_to(slack, BO)
    payload = click("snooze", resource=fleet.ids["bo-prod"], user=BO, channel=channel, ts=ts,
                    response_url=slack.response_url())
    caplog.clear()
    statuses = [_act(payload, **args)["statusCode"] for args in (
        {"secret": "not-the-secret"}, {"timestamp": "tomorrow"}, {"method": "GET"}, {"path": "/elsewhere"}, {})]
    unsigned = signed_request(payload)
    for header in [h for h in unsigned["headers"] if h.lower().startswith("x-slack-")]:
        del unsigned["headers"][header]
    statuses.insert(0, slack_interactivity.lambda_handler(unsigned, Ctx())["statusCode"])
    assert statuses == [401, 401, 401, 404, 404, 200]  # unsigned, forged, bad timestamp, GET, wrong path, good
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)  # message and every extra
    assert "slack request rejected" in logged  # the refusals are logged...
    for secret in ("local-signing-secret", "xoxb-local-test-token", "v0=", "not-the-secret"):
        assert secret not in logged  # ...without the secrets, the signatures or the forged secret


def test_a_finding_whose_notice_history_cannot_be_read_waits_and_the_rest_are_told(
        world: dict[str, Any], slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    now = END + timedelta(minutes=5)
    records = _swept(world, now)
    unlucky = world["fleet"].ids["ana-gpu"]
    original = botocore.client.BaseClient._make_api_call

    def throttled(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Query" and params.get("ExpressionAttributeValues", {}).get(":pk") == {"S": unlucky}:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, operation)
        return original(self, operation, params)

    with monkeypatch.context() as m:
        m.setattr(botocore.client.BaseClient, "_make_api_call", throttled)
        first = notifier.lambda_handler({"Records": records}, Ctx())
    back = sorted(f["itemIdentifier"] for f in first["batchItemFailures"])
    assert back == sorted(r["messageId"] for r in records if unlucky in r["body"]) != []
    posts = _posts(slack)
    assert len(posts) == 4 and "ana-cpu" in json.dumps(posts[ANA]) and "ana-gpu" not in json.dumps(posts[ANA])
    redelivered = [r for r in records if r["messageId"] in back]
    assert notifier.lambda_handler({"Records": redelivered}, Ctx()) == {"batchItemFailures": []}
    assert len(_posts(slack)[ANA]) == 1  # merged into the message Ana already has, not a second one
    assert "ana-gpu" in json.dumps(slack.of("chat.update")[-1].args["blocks"])


def test_answers_act_in_the_region_the_finding_is_in(aws: LocalAws, janitor: Any, slack: SlackStandIn,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A two-region account: Keep on a us-west-2 box tags it in us-west-2; Stop now stops the us-west-2 dev box."""
    policy = Policy.model_validate({**POLICY.model_dump(mode="json"), "regions": ["us-east-1", "us-west-2"]})
    janitor(policy)
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    west = Fleet(aws, END, hours=9 * 24, region="us-west-2")
    west.add("bo-prod-west", "g5.xlarge", {"environment": "prod", "team": "search", "owner": "bo@example.com"},
             cpu=0.5, gpus=[(1.0, 1.0)])
    west.add("ana-dev-west", "m5.large", {"environment": "dev", "team": "vision", "owner": "ana@example.com"},
             cpu=0.5)
    west.done()
    tap = subscribe_queue(aws, os.environ["FINDINGS_TOPIC_ARN"], name="notifier-input")
    now = END + timedelta(minutes=5)
    report = idle_sweep.run(policy, Settings.from_env(), now=now, run_id="run-west", dry_run=False)
    assert {f.region for f in report.findings} == {"us-west-2"}
    records = []
    sqs = aws.client("sqs")
    while got := sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            sqs.delete_message(QueueUrl=tap, ReceiptHandle=m["ReceiptHandle"])
            records.append({**load_event("sqs/findings_batch.json")["Records"][0], "messageId": m["MessageId"],
                            "body": m["Body"]})
    monkeypatch.setenv("POLICY_PARAMETER", os.environ["POLICY_PARAMETER"])
    assert notifier.lambda_handler({"Records": records}, Ctx()) == {"batchItemFailures": []}
    posts = _posts(slack)
    bo, ana = west.ids["bo-prod-west"], west.ids["ana-dev-west"]
    channel, ts = _message_to(slack, BO)
    deliver(signed_request(click("keep", resource=bo, user=BO, channel=channel, ts=ts,
                                 response_url=slack.response_url(), value=button(posts[BO][0]["blocks"], "keep", bo))))
    [view] = slack.of("views.open")
    assert json.loads(view.args["view"]["private_metadata"])["region"] == "us-west-2"
    keep = submit_keep(resource=bo, user=BO, channel=channel, ts=ts, reason="Serving the west-coast canary.")
    keep["view"]["private_metadata"] = view.args["view"]["private_metadata"]
    assert json.loads(deliver(signed_request(keep))["body"]) == {"response_action": "clear"}
    assert west.tags("bo-prod-west")["cost-janitor:keep-by"] == BO
    channel, ts = _message_to(slack, ANA)
    deliver(signed_request(click("stop_now", resource=ana, user=ANA, channel=channel, ts=ts,
                                 response_url=slack.response_url(),
                                 value=button(posts[ANA][0]["blocks"], "stop_now", ana))))
    assert west.state("ana-dev-west") == "stopped"
    assert f"Stopped at the request of <@{ANA}>" in json.dumps(slack.of("response_url")[-1].args["blocks"])
