"""The interactivity endpoint against the moto server and the Slack stand-in: within Slack's 3 seconds it makes no
call but the (cached) secret, views.open or the hand-off to the answers queue; forgeries, stale requests and odd
bodies change nothing; nothing secret is logged. (What the answers Lambda then does: test_answers.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest
from slack_sdk import WebClient

from cost_janitor.handlers import slack_interactivity
from cost_janitor.local.context import FakeContext
from cost_janitor.local.slack_standin import SlackStandIn
from tests.integration.fleet import Fleet
from tests.integration.slack_helpers import CHANNEL, TS, click, endpoint, signed_request, submit_keep
from tests.integration.slack_world import BO, END, act, message_to, night


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


def test_before_the_200_only_the_cached_secret_and_views_open_or_the_hand_off(
        world: dict[str, Any], slack: SlackStandIn, timeline: list[tuple[str, str]]) -> None:
    resource = world["resource"]
    where = {"resource": resource, "user": BO, "channel": CHANNEL, "ts": TS, "response_url": slack.response_url()}
    timeline.clear()
    assert endpoint(click("keep", **where))["statusCode"] == 200  # a cold start: the secret is read once
    assert timeline == [("aws", "GetSecretValue"), ("slack", "views.open")]
    timeline.clear()
    assert endpoint(click("not_mine", **where))["statusCode"] == 200  # warm: the secret comes from the cache
    assert timeline == [("slack", "views.open")]
    timeline.clear()
    assert endpoint(click("snooze", **where))["statusCode"] == 200
    assert timeline == [("aws", "SendMessage")]  # the hand-off; authorising and tagging come later
    timeline.clear()
    response = endpoint(submit_keep(reason="Canary for the ranker launch.", **{
        k: v for k, v in where.items() if k != "response_url"}))
    assert json.loads(response["body"]) == {"response_action": "clear"}
    assert timeline == [("aws", "SendMessage")]
    assert "cost-janitor:keep-until" not in world["fleet"].tags("bo-prod")  # nothing was done before the 200


def test_a_form_with_bad_inputs_is_answered_with_its_errors_and_never_queued(
        world: dict[str, Any], timeline: list[tuple[str, str]]) -> None:
    timeline.clear()
    response = endpoint(submit_keep(resource=world["resource"], user=BO, channel=CHANNEL, ts=TS, reason="short"))
    assert json.loads(response["body"]) == {"response_action": "errors",
                                            "errors": {"reason": "Please give a reason (10+ characters)."}}
    assert ("aws", "SendMessage") not in timeline


@pytest.mark.parametrize("request_args, status", [
    ({"secret": "not-the-secret"}, 401),
    ({"timestamp": str(int(datetime.now(UTC).timestamp()) - 600)}, 401),
    ({"timestamp": "tomorrow"}, 401),
    ({"body": "payload=" + "x" * 70_000}, 413),
], ids=["wrong-secret", "replayed-after-5-minutes", "non-numeric-timestamp", "oversized-body"])
def test_unsigned_or_stale_requests_are_refused_without_side_effects(team: dict[str, Any], slack: SlackStandIn,
                                                                     request_args: dict[str, Any],
                                                                     status: int) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    before = fleet.tags("bo-prod")
    payload = click("snooze", resource=fleet.ids["bo-prod"], user=BO, channel=channel, ts=ts,
                    response_url=slack.response_url())
    response = act(payload, **request_args)
    assert response["statusCode"] == status
    assert fleet.tags("bo-prod") == before and not slack.of("response_url")


def test_plain_text_body_and_unknown_route(team: dict[str, Any], slack: SlackStandIn) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    payload = click("snooze", resource=fleet.ids["bo-prod"], user=BO, channel=channel, ts=ts,
                    response_url=slack.response_url())
    assert act(payload, b64=False)["statusCode"] == 200
    assert "cost-janitor:keep-until" in fleet.tags("bo-prod")
    assert act(payload, path="/other")["statusCode"] == 404


def test_requests_are_logged_without_secrets_or_signatures(team: dict[str, Any], slack: SlackStandIn,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    night(team, END + timedelta(minutes=5))
    fleet: Fleet = team["fleet"]
    channel, ts = message_to(slack, BO)
    payload = click("snooze", resource=fleet.ids["bo-prod"], user=BO, channel=channel, ts=ts,
                    response_url=slack.response_url())
    caplog.clear()
    statuses = [act(payload, **args)["statusCode"] for args in (
        {"secret": "not-the-secret"}, {"timestamp": "tomorrow"}, {"method": "GET"}, {"path": "/elsewhere"}, {})]
    unsigned = signed_request(payload)
    for header in [h for h in unsigned["headers"] if h.lower().startswith("x-slack-")]:
        del unsigned["headers"][header]
    statuses.insert(0, slack_interactivity.lambda_handler(unsigned, FakeContext())["statusCode"])
    assert statuses == [401, 401, 401, 404, 404, 200]  # unsigned, forged, bad timestamp, GET, wrong path, good
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)  # message and every extra
    assert "slack request rejected" in logged  # the refusals are logged...
    for secret in ("local-signing-secret", "xoxb-local-test-token", "v0=", "not-the-secret"):
        assert secret not in logged  # ...without the secrets, the signatures or the forged secret
