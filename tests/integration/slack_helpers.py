"""Build what Slack sends: signed Function URL requests for button clicks and modal submissions."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from typing import Any

from cost_janitor.slack_standin import SlackStandIn
from tests.conftest import load_event

SIGNING_SECRET = "local-signing-secret"  # what emulator.deploy_janitor_resources puts in the Slack secret


class Ctx:
    """The Lambda context the Slack-facing handlers get."""

    function_name = "cost-janitor-slack"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cost-janitor-slack"
    aws_request_id = "req"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def signed_request(payload: dict[str, Any] | None = None, *, body: str | None = None, secret: str = SIGNING_SECRET,
                   timestamp: str | None = None, b64: bool = True, headers: dict[str, str] | None = None,
                   method: str = "POST", path: str = "/slack/actions") -> dict[str, Any]:
    """A Lambda Function URL event (payload v2.0) carrying a Slack interactivity request, signed."""
    raw = body if body is not None else "payload=" + urllib.parse.quote(json.dumps(payload))
    event = load_event("function_url/slack_actions_base64.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"].update({**SlackStandIn.sign(raw, secret, timestamp), **(headers or {})})
    event["body"] = base64.b64encode(raw.encode()).decode() if b64 else raw
    event["isBase64Encoded"] = b64
    return event


def click(action_id: str, *, resource: str, user: str, channel: str, ts: str, response_url: str,
          action_ts: str | None = None) -> dict[str, Any]:
    payload = load_event("slack/block_actions_keep.json")
    payload["user"]["id"] = user
    payload["container"].update({"channel_id": channel, "message_ts": ts})
    payload["response_url"] = response_url
    payload["actions"][0].update({"action_id": action_id, "action_ts": action_ts or f"{time.time():.6f}",
                                  "value": json.dumps({"resource": resource, "region": "us-east-1"})})
    return payload


def submit_keep(*, resource: str, user: str, channel: str, ts: str, reason: str, days: int = 7,
                view_id: str = "V0KEEP0001") -> dict[str, Any]:
    payload = load_event("slack/view_submission_keep.json")
    payload["user"]["id"] = user
    payload["view"]["id"] = view_id
    payload["view"]["private_metadata"] = json.dumps({"resource": resource, "region": "us-east-1",
                                                      "channel": channel, "ts": ts})
    values = payload["view"]["state"]["values"]
    values["reason"]["reason"]["value"] = reason
    values["days"]["days"]["selected_option"]["value"] = str(days)
    return payload


def submit_reassign(*, resource: str, user: str, channel: str, ts: str, new_owner: str) -> dict[str, Any]:
    payload = submit_keep(resource=resource, user=user, channel=channel, ts=ts, reason="-", view_id="V0REASSIGN1")
    payload["view"]["callback_id"] = "reassign"
    payload["view"]["state"] = {"values": {"owner": {"user": {"type": "users_select", "selected_user": new_owner}}}}
    return payload
