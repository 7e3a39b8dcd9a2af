"""Findings on an EventBridge bus (organization mode): a member puts each findings batch on its own bus, whose rule
forwards it to the hub's bus (EventBridge's documented cross-account path: a rule with the other account's bus as
its target). Events the hub refuses land in the rule target's dead-letter queue — the member's hub outbox — and are
put on the bus again by the next run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.sns import batches, body
from cost_janitor.core.models import Finding, Started
from cost_janitor.resources import FINDINGS_DETAIL_TYPE as DETAIL_TYPE
from cost_janitor.resources import FINDINGS_SOURCE as SOURCE
from cost_janitor.resources import STARTED_DETAIL_TYPE


def _refused(entry: dict[str, Any]) -> ClientError:
    return ClientError({"Error": {"Code": entry.get("ErrorCode") or "PutEventsFailed",
                                  "Message": entry.get("ErrorMessage") or "EventBridge refused the entry"}},
                       "PutEvents")


class BusPublisher:
    """The findings publisher of a member: the same batches as the SNS publisher, one event each."""

    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def publish(self, findings: Sequence[Finding], *, run_id: str) -> int:
        details = [json.dumps(body(chunk, run_id)) for _, chunk in batches(findings)]
        for detail in details:
            self.put(detail)
        return len(details)

    def put(self, detail: str, *, detail_type: str = DETAIL_TYPE) -> None:
        """One event (a batch is ≤ 250 KB, under PutEvents' 256 KB); a refused entry raises like an SDK error."""
        response = self._events.put_events(Entries=[{"Source": SOURCE, "DetailType": detail_type, "Detail": detail,
                                                     "EventBusName": self._bus}])
        if response.get("FailedEntryCount"):
            raise _refused(response["Entries"][0])


def announce_started(events: Any, bus_name: str, started: Sequence[Started]) -> int:
    """Resources started again, to the member's bus (→ the hub's digest): one event per 500, each well under 256 KB."""
    publisher = BusPublisher(events, bus_name)
    for start in range(0, len(started), 500):
        publisher.put(json.dumps({"started": [s.model_dump(mode="json") for s in started[start:start + 500]]}),
                      detail_type=STARTED_DETAIL_TYPE)
    return -(-len(started) // 500)


def redrive(sqs: Any, queue_url: str, publisher: BusPublisher) -> int:
    """Put the events the hub refused (the rule target's dead-letter queue) on the bus again; returns how many.
    Only what was waiting when it started: one the hub refuses again lands back in the queue for the next run."""
    waiting = int(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
                  ["Attributes"]["ApproximateNumberOfMessages"])
    sent = 0
    while sent < waiting:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, waiting - sent),
                                       VisibilityTimeout=60).get("Messages", [])
        if not messages:
            break
        for m in messages:
            event = json.loads(m["Body"])
            publisher.put(json.dumps(event["detail"]))  # a failure leaves it in the queue (visible again in 60 s)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            sent += 1
    return sent
