"""SQS sends: an answer handed to the answers queue, a bad event parked in the DLQ with its reason."""

from __future__ import annotations

from typing import Any

MAX_BODY_BYTES = 200 * 1024  # under SQS's 256 KB message limit, with room for the attributes


def send(sqs: Any, queue_url: str, body: str, *, reason: str | None = None) -> None:
    """One message; `reason` travels as a string message attribute (what a person reading the DLQ sees first)."""
    attributes = {"reason": {"DataType": "String", "StringValue": reason[:1000]}} if reason else {}
    sqs.send_message(QueueUrl=queue_url, MessageBody=body, **({"MessageAttributes": attributes} if attributes else {}))
