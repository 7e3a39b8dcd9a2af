"""Build what Slack sends: signed Function URL requests for button clicks and modal submissions."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
from typing import Any

from cost_janitor.local.context import FakeContext
from cost_janitor.local.slack_standin import SlackStandIn
from tests.conftest import load_event

SIGNING_SECRET = "local-signing-secret"  # what emulator.deploy_janitor_resources puts in the Slack secret


def deliver(event: dict[str, Any]) -> dict[str, Any]:
    """What Slack's request sets off, as deployed: the interactivity endpoint answers it (returned), then the
    answers Lambda is handed what the endpoint queued (SQS → Lambda). Every queued answer must be carried out:
    a batch item failure here would be a crash on a payload the endpoint accepted."""
    import os

    import boto3

    from cost_janitor.handlers import answers, slack_interactivity

    response: dict[str, Any] = slack_interactivity.lambda_handler(event, FakeContext("slack_interactivity"))
    sqs = boto3.client("sqs", region_name=os.environ["AWS_REGION"], endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    queue = os.environ["ANSWERS_QUEUE_URL"]
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        record = load_event("sqs/findings_batch.json")["Records"][0]
        records = [{**record, "messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        assert answers.lambda_handler({"Records": records}, FakeContext("answers")) == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return response


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


def button(blocks: list[dict[str, Any]], action_id: str, resource: str) -> str:
    """The value of a button the janitor rendered, as Slack hands it back on a click."""
    for block in blocks:
        if block.get("block_id") == f"actions:{resource}":
            for element in block["elements"]:
                if element.get("action_id") == action_id:
                    return str(element["value"])
    raise AssertionError(f"no {action_id} button for {resource}")


def click(action_id: str, *, resource: str, user: str, channel: str, ts: str, response_url: str,
          action_ts: str | None = None, value: str | None = None) -> dict[str, Any]:
    payload = load_event("slack/block_actions_keep.json")
    payload["user"]["id"] = user
    payload["container"].update({"channel_id": channel, "message_ts": ts})
    payload["response_url"] = response_url
    payload["actions"][0].update({"action_id": action_id, "action_ts": action_ts or f"{time.time():.6f}",
                                  "value": value or json.dumps({"resource": resource, "region": "us-east-1"})})
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


CHANNEL, TS = "D0BO00001", "1764300000.000001"  # the message the `world` fixture's janitor sent Bo


def endpoint(payload: dict[str, Any]) -> dict[str, Any]:
    """Only the endpoint, as Slack waits for it (the answers Lambda runs later, from the queue)."""
    from cost_janitor.handlers import slack_interactivity

    result: dict[str, Any] = slack_interactivity.lambda_handler(signed_request(payload), FakeContext())
    return result
