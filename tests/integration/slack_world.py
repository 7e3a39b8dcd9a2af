"""A team's account for the Slack tests (its fixtures are in conftest.py): who is who, the policy, and the nights
that sweep it and hand the notifier what SNS delivered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.policy import Policy
from cost_janitor.handlers import notifier
from cost_janitor.local.context import FakeContext
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.conftest import load_event
from tests.integration.slack_helpers import deliver, signed_request

ANA, BO, CY = "U0ANA0001", "U0BO00001", "U0CY00001"
POLICY = Policy.model_validate({"slack": {"team_channels": {"vision": "#vision", "search": "#search"},
                                          "admins": ["U0ADMIN01"]}})
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def night(team: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Sweep, then hand what SNS delivered to the notifier queue to the notifier Lambda."""
    result: dict[str, Any] = notifier.lambda_handler({"Records": swept(team, now)}, FakeContext())
    return result


def swept(team: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Sweep; the SQS records SNS delivered to the notifier's queue."""
    idle_sweep.run(POLICY, Settings.from_env(), now=now, run_id=f"run-{now:%m%d}", dry_run=False)
    sqs = team["aws"].client("sqs")
    records = []
    while got := sqs.receive_message(QueueUrl=team["tap"], MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            sqs.delete_message(QueueUrl=team["tap"], ReceiptHandle=m["ReceiptHandle"])
            record = json.loads(json.dumps(load_event("sqs/findings_batch.json")["Records"][0]))
            record.update({"messageId": m["MessageId"], "body": m["Body"]})
            records.append(record)
    return records


def posts_by_channel(slack: SlackStandIn) -> dict[str, list[dict[str, Any]]]:
    """chat.postMessage calls by channel."""
    out: dict[str, list[dict[str, Any]]] = {}
    for call in slack.of("chat.postMessage"):
        out.setdefault(str(call.args["channel"]), []).append(call.args)
    return out


def message_to(slack: SlackStandIn, user: str) -> tuple[str, str]:
    """(channel, ts) of the DM the stand-in created for a user's first message."""
    calls = slack.of("chat.postMessage")
    index = next(n for n, c in enumerate(calls) if c.args["channel"] == user)
    return "D" + user[1:], f"1764300000.{index + 1:06d}"


def act(payload: dict[str, Any], **request: Any) -> dict[str, Any]:
    """A signed Slack request through the endpoint and, from its queue, the answers Lambda."""
    return deliver(signed_request(payload, **request))
