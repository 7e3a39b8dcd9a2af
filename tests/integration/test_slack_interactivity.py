"""The interactivity endpoint against the moto server and the Slack stand-in: within Slack's 3 seconds it makes no
call but the (cached) secret, views.open or the hand-off to the answers queue; replies Slack refuses are logged
with their status, counted, and a 429 is retried after Retry-After."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import botocore.client
import pytest
from slack_sdk import WebClient

from cost_janitor.adapters.ledger import MessageState, SlackState
from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.policy import Policy
from cost_janitor.handlers import answers, slack_interactivity
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.integration.fleet import PROD, Fleet
from tests.integration.slack_helpers import Ctx, click, deliver, signed_request, submit_keep

BO = "U0BO00001"
CHANNEL, TS = "D0BO00001", "1764300000.000001"
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    standin = SlackStandIn(users={"bo@example.com": BO})
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    yield standin
    standin.stop()


@pytest.fixture
def world(aws: LocalAws, janitor: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Bo's idle prod box, in a message the janitor remembers sending him."""
    janitor()
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    fleet = Fleet(aws, END)
    fleet.add("bo-prod", "g5.xlarge", PROD, cpu=0.5, gpus=[(1.0, 1.0)])
    fleet.done()
    [finding] = idle_sweep.run(Policy(), Settings.from_env(), now=END, run_id="run-1", dry_run=False).findings
    SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"]).save_message(
        MessageState(channel=CHANNEL, ts=TS, run_id="run-1", recipient=BO, findings=[finding]))
    return {"fleet": fleet, "resource": fleet.ids["bo-prod"]}


@pytest.fixture
def timeline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every AWS call (botocore) and Slack Web API call (slack-sdk) in the order they are made."""
    calls: list[tuple[str, str]] = []
    aws_call, slack_call = botocore.client.BaseClient._make_api_call, WebClient.api_call

    def record_aws(self: Any, operation: str, params: Any) -> Any:
        calls.append(("aws", operation))
        return aws_call(self, operation, params)

    def record_slack(self: Any, api_method: str, **kwargs: Any) -> Any:
        calls.append(("slack", api_method))
        return slack_call(self, api_method, **kwargs)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record_aws)
    monkeypatch.setattr(WebClient, "api_call", record_slack)
    return calls


def _endpoint(payload: dict[str, Any]) -> dict[str, Any]:
    """Only the endpoint, as Slack waits for it (the answers Lambda runs later, from the queue)."""
    result: dict[str, Any] = slack_interactivity.lambda_handler(signed_request(payload), Ctx())
    return result


def test_before_the_200_only_the_cached_secret_and_views_open_or_the_hand_off(
        world: dict[str, Any], slack: SlackStandIn, timeline: list[tuple[str, str]]) -> None:
    resource = world["resource"]
    where = {"resource": resource, "user": BO, "channel": CHANNEL, "ts": TS, "response_url": slack.response_url()}
    timeline.clear()
    assert _endpoint(click("keep", **where))["statusCode"] == 200  # a cold start: the secret is read once
    assert timeline == [("aws", "GetSecretValue"), ("slack", "views.open")]
    timeline.clear()
    assert _endpoint(click("not_mine", **where))["statusCode"] == 200  # warm: the secret comes from the cache
    assert timeline == [("slack", "views.open")]
    timeline.clear()
    assert _endpoint(click("snooze", **where))["statusCode"] == 200
    assert timeline == [("aws", "SendMessage")]  # the hand-off; authorising and tagging come later
    timeline.clear()
    response = _endpoint(submit_keep(reason="Canary for the ranker launch.", **{
        k: v for k, v in where.items() if k != "response_url"}))
    assert json.loads(response["body"]) == {"response_action": "clear"}
    assert timeline == [("aws", "SendMessage")]
    assert "cost-janitor:keep-until" not in world["fleet"].tags("bo-prod")  # nothing was done before the 200


def test_a_form_with_bad_inputs_is_answered_with_its_errors_and_never_queued(
        world: dict[str, Any], timeline: list[tuple[str, str]]) -> None:
    timeline.clear()
    response = _endpoint(submit_keep(resource=world["resource"], user=BO, channel=CHANNEL, ts=TS, reason="short"))
    assert json.loads(response["body"]) == {"response_action": "errors",
                                            "errors": {"reason": "Please give a reason (10+ characters)."}}
    assert ("aws", "SendMessage") not in timeline


def test_queued_answers_are_carried_out_by_the_answers_lambda_once(world: dict[str, Any],
                                                                  slack: SlackStandIn) -> None:
    payload = click("snooze", resource=world["resource"], user=BO, channel=CHANNEL, ts=TS,
                    response_url=slack.response_url(), action_ts="1764300300.000001")
    _endpoint(payload)
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
        assert answers.lambda_handler({"Records": [record]}, Ctx()) == {"batchItemFailures": [
            {"itemIdentifier": "m-1"}]}
    assert answers.lambda_handler({"Records": [record]}, Ctx()) == {"batchItemFailures": []}  # the retry works
    assert world["fleet"].tags("bo-prod")["cost-janitor:keep-by"] == BO
