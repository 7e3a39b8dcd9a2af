"""The answers Lambda against the moto server and the Slack stand-in: a signed click or form from the owner, handed
off by the endpoint, tags or stops the box and updates the message in place, once, in the box's own account and
region; strangers change nothing; replies Slack refuses are logged, counted and retried; an answer that fails goes
back to the queue."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.policy import Policy
from cost_janitor.handlers import answers, notifier
from cost_janitor.local.context import FakeContext
from cost_janitor.local.emulator import LocalAws, subscribe_queue
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.conftest import load_event
from tests.integration.fleet import Fleet
from tests.integration.slack_helpers import (
    CHANNEL,
    TS,
    button,
    click,
    deliver,
    endpoint,
    signed_request,
    submit_keep,
    submit_reassign,
)
from tests.integration.slack_world import ANA, BO, CY, END, POLICY, act, message_to, night, posts_by_channel


def test_queued_answers_are_carried_out_by_the_answers_lambda_once(world: dict[str, Any],
                                                                  slack: SlackStandIn) -> None:
    payload = click("snooze", resource=world["resource"], user=BO, channel=CHANNEL, ts=TS,
                    response_url=slack.response_url(), action_ts="1764300300.000001")
    endpoint(payload)
    deliver(signed_request(payload))  # Slack retried: both copies are queued, the answer is carried out once
    assert world["fleet"].tags("bo-prod")["cost-janitor:keep-by"] == BO
    assert len(slack.of("response_url")) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 410, 500])
def test_a_reply_slack_refuses_is_logged_with_its_status_and_counted(
        world: dict[str, Any], slack: SlackStandIn, status: int, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    counted: list[tuple[str, float]] = []
    from cost_janitor.adapters import slack as slack_adapter

    monkeypatch.setattr(slack_adapter.metrics, "add_metric", lambda name, unit, value: counted.append((name, value)))
    slack.fail_method["response_url"] = [status]
    deliver(signed_request(click("snooze", resource=world["resource"], user=BO, channel=CHANNEL, ts=TS,
                                 response_url=slack.response_url())))
    assert world["fleet"].tags("bo-prod")["cost-janitor:keep-by"] == BO  # the answer itself was carried out
    [record] = [r for r in caplog.records if r.getMessage() == "slack reply not delivered"]
    assert record.__dict__["status"] == status
    assert ("SlackReplyFailures", 1) in counted and len(slack.of("response_url")) == 1  # not retried


def test_a_rate_limited_reply_is_retried_after_retry_after(world: dict[str, Any], slack: SlackStandIn,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    slack.fail_method["response_url"] = [429]
    deliver(signed_request(click("snooze", resource=world["resource"], user=BO, channel=CHANNEL, ts=TS,
                                 response_url=slack.response_url())))
    replies = slack.of("response_url")
    assert len(replies) == 2 and "Snoozed by" in json.dumps(replies[-1].args["blocks"])
    assert not [r for r in caplog.records if r.getMessage() == "slack reply not delivered"]


def test_an_answer_that_fails_goes_back_to_the_queue(world: dict[str, Any], slack: SlackStandIn,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call

    def throttled(self: Any, operation: str, params: Any) -> Any:
        if operation == "TagResources":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)
        return original(self, operation, params)

    payload = click("snooze", resource=world["resource"], user=BO, channel=CHANNEL, ts=TS,
                    response_url=slack.response_url())
    record = {"messageId": "m-1", "body": json.dumps(payload), "receiptHandle": "r", "md5OfBody": "x",
              "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "s",
                             "ApproximateFirstReceiveTimestamp": "0"}, "messageAttributes": {},
              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
              "awsRegion": "us-east-1"}
    with monkeypatch.context() as m:
        m.setattr(botocore.client.BaseClient, "_make_api_call", throttled)
        assert answers.lambda_handler({"Records": [record]}, FakeContext()) == {"batchItemFailures": [
            {"itemIdentifier": "m-1"}]}
    assert answers.lambda_handler({"Records": [record]}, FakeContext()) == {"batchItemFailures": []}  # the retry works
    assert world["fleet"].tags("bo-prod")["cost-janitor:keep-by"] == BO


def test_owner_keeps_prod_box_with_a_reason_and_the_message_updates(team: dict[str, Any], slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    resource = fleet.ids["bo-prod"]
    channel, ts = message_to(slack, BO)
    response = act(click("keep", resource=resource, user=BO, channel=channel, ts=ts,
                          response_url=slack.response_url()))
    assert response["statusCode"] == 200
    [view] = slack.of("views.open")
    assert view.args["view"]["callback_id"] == "keep"
    reason = "Canary for the ranker launch on Dec 3; the team removes it after the launch review."
    response = act(submit_keep(resource=resource, user=BO, channel=channel, ts=ts, reason=reason, days=7))
    assert json.loads(response["body"]) == {"response_action": "clear"}
    tags = fleet.tags("bo-prod")
    assert tags["cost-janitor:keep-by"] == BO and tags["cost-janitor:keep-reason"] == reason
    assert tags["cost-janitor:keep-until"] == (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    [update] = slack.of("chat.update")
    assert update.args["ts"] == ts and f"Kept by <@{BO}>" in json.dumps(update.args["blocks"])
    from cost_janitor.adapters.ledger import Ledger
    answers = [e for e in Ledger(team["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"]).history(resource)
               if e.key.endswith("#answer")]
    assert [(a.action, a.actor, a.reason) for a in answers] == [("justified", BO, reason)]


def test_a_click_by_someone_else_changes_nothing(team: dict[str, Any], slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    before = fleet.tags("bo-prod")
    act(click("snooze", resource=fleet.ids["bo-prod"], user=ANA, channel=channel, ts=ts,
               response_url=slack.response_url()))
    assert fleet.tags("bo-prod") == before
    [reply] = slack.of("response_url")
    assert reply.args["response_type"] == "ephemeral" and "Only the owner" in reply.args["text"]
    assert not slack.of("chat.update")


def test_an_admin_may_answer_for_anyone(team: dict[str, Any], slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    act(click("snooze", resource=fleet.ids["bo-prod"], user="U0ADMIN01", channel=channel, ts=ts,
               response_url=slack.response_url()))
    assert fleet.tags("bo-prod")["cost-janitor:keep-by"] == "U0ADMIN01"


def test_stop_now_stops_a_dev_box_through_the_executor_once(team: dict[str, Any], slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, ANA)
    request = click("stop_now", resource=fleet.ids["ana-cpu"], user=ANA, channel=channel, ts=ts,
                    response_url=slack.response_url(), action_ts="1764300200.000001")
    act(request)
    act(request)  # Slack retried / double click: same action_ts and user
    assert fleet.state("ana-cpu") == "stopped"
    replaced = slack.of("response_url")
    assert len(replaced) == 1 and replaced[0].args["replace_original"] is True
    assert f"Stopped at the request of <@{ANA}>" in json.dumps(replaced[0].args["blocks"])


def test_not_mine_reassigns_and_tells_the_new_owner(team: dict[str, Any], slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    resource = fleet.ids["bo-prod"]
    act(click("not_mine", resource=resource, user=BO, channel=channel, ts=ts, response_url=slack.response_url()))
    assert slack.of("views.open")[0].args["view"]["callback_id"] == "reassign"
    act(submit_reassign(resource=resource, user=BO, channel=channel, ts=ts, new_owner=CY))
    assert fleet.tags("bo-prod")["owner"] == "cy@example.com"  # what the owner lookup reads, not a Slack user id
    assert resource in json.dumps(posts_by_channel(slack)[CY][0]["blocks"])
    assert "Reassigned to <@U0CY00001>" in json.dumps(slack.of("chat.update")[0].args["blocks"])


def test_not_mine_to_someone_whose_profile_shows_no_email_writes_nothing(team: dict[str, Any],
                                                                          slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    resource = fleet.ids["bo-prod"]
    act(submit_reassign(resource=resource, user=BO, channel=channel, ts=ts, new_owner="U0NOEMAIL"))
    assert fleet.tags("bo-prod")["owner"] == "bo@example.com"
    assert "shows no email" in json.dumps(slack.of("chat.update")[0].args["blocks"])


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
    tag_handler({"Records": [{**record, "body": json.dumps(event)}]}, FakeContext())
    [message] = aws.client("sqs").receive_message(QueueUrl=tap)["Messages"]
    notifier.lambda_handler({"Records": [{**record, "messageId": message["MessageId"],
                                          "body": message["Body"]}]}, FakeContext())
    [post] = slack.of("chat.postMessage")
    assert post.args["channel"] == ANA and '"fix_tags"' in json.dumps(post.args["blocks"])
    channel, ts = message_to(slack, ANA)
    act(click("fix_tags", resource=iid, user=ANA, channel=channel, ts=ts, response_url=slack.response_url(),
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
    assert json.loads(act(payload)["body"]) == {"response_action": "clear"}
    tags = {t["Key"]: t["Value"] for t in ec2.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]}
    assert tags == {"team": "vision", "created-by": "ana@example.com", "project": "detector", "environment": "dev",
                    "cost-center": "cc-1001"}
    assert "Tagged by <@U0ANA0001>" in json.dumps(slack.of("chat.update")[-1].args["blocks"])


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
    assert notifier.lambda_handler({"Records": records}, FakeContext()) == {"batchItemFailures": []}
    posts = posts_by_channel(slack)
    bo, ana = west.ids["bo-prod-west"], west.ids["ana-dev-west"]
    channel, ts = message_to(slack, BO)
    deliver(signed_request(click("keep", resource=bo, user=BO, channel=channel, ts=ts,
                                 response_url=slack.response_url(), value=button(posts[BO][0]["blocks"], "keep", bo))))
    [view] = slack.of("views.open")
    assert json.loads(view.args["view"]["private_metadata"])["region"] == "us-west-2"
    keep = submit_keep(resource=bo, user=BO, channel=channel, ts=ts, reason="Serving the west-coast canary.")
    keep["view"]["private_metadata"] = view.args["view"]["private_metadata"]
    assert json.loads(deliver(signed_request(keep))["body"]) == {"response_action": "clear"}
    assert west.tags("bo-prod-west")["cost-janitor:keep-by"] == BO
    channel, ts = message_to(slack, ANA)
    deliver(signed_request(click("stop_now", resource=ana, user=ANA, channel=channel, ts=ts,
                                 response_url=slack.response_url(),
                                 value=button(posts[ANA][0]["blocks"], "stop_now", ana))))
    assert west.state("ana-dev-west") == "stopped"
    assert f"Stopped at the request of <@{ANA}>" in json.dumps(slack.of("response_url")[-1].args["blocks"])
