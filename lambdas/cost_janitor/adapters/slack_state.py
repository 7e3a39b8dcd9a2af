"""What the Slack flow remembers, in the ledger table: notices and answers per resource (the re-ask clock and
the audit trail), and each message's findings and outcomes (so any update re-renders it whole)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.adapters.ledger import RETENTION_DAYS, conditionally
from cost_janitor.core.models import Finding
from cost_janitor.core.notify import NoticeHistory


@dataclass
class MessageState:
    channel: str
    ts: str
    run_id: str
    recipient: str
    findings: list[Finding]
    outcomes: dict[str, str] = field(default_factory=dict)


LEASE_SECONDS = 120  # longer than the notifier's 1-minute timeout, shorter than its queue's 6-minute visibility


class SlackState:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def _expires(self, at: datetime) -> dict[str, str]:
        return {"N": str(int((at + timedelta(days=RETENTION_DAYS)).timestamp()))}

    def history(self, resource_id: str) -> NoticeHistory:
        """Notices since the owner last answered: when the first and last were, and whether it was escalated."""
        items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": resource_id}})["Items"]
        events = sorted((i["sk"]["S"], i) for i in items if i["sk"]["S"].endswith(("#notice", "#answer")))
        since: list[dict[str, Any]] = []
        for sk, item in events:
            since = [] if sk.endswith("#answer") else [*since, item]
        if not since:
            return NoticeHistory()
        return NoticeHistory(first_notice=datetime.fromisoformat(since[0]["at"]["S"]),
                             last_notice=datetime.fromisoformat(since[-1]["at"]["S"]),
                             escalated=any(i.get("escalated", {}).get("BOOL") for i in since))

    def record_notice(self, finding: Finding, *, recipient: str, escalated: bool, at: datetime) -> None:
        self._ddb.put_item(TableName=self._table, Item={
            "pk": {"S": finding.resource_id}, "sk": {"S": f"{at.isoformat()}#notice"},
            "action": {"S": "notice"}, "recipient": {"S": recipient}, "escalated": {"BOOL": escalated},
            "run_id": {"S": finding.run_id}, "at": {"S": at.isoformat()}, "expires_at": self._expires(at)})

    def record_answer(self, resource_id: str, *, answer: str, actor: str, at: datetime, reason: str = "",
                      until: datetime | None = None, detail: str = "") -> None:
        """The owner's answer, with the full reason text (tags hold at most 256 characters)."""
        item = {"pk": {"S": resource_id}, "sk": {"S": f"{at.isoformat()}#answer"}, "action": {"S": answer},
                "actor": {"S": actor}, "reason": {"S": reason or "-"}, "at": {"S": at.isoformat()},
                "status": {"S": "done"}, "expires_at": self._expires(at)}
        if until:
            item["until"] = {"S": until.isoformat()}
        if detail:
            item["detail"] = {"S": detail}
        self._ddb.put_item(TableName=self._table, Item=item)

    def save_message(self, state: MessageState) -> None:
        self._ddb.put_item(TableName=self._table, Item={
            "pk": {"S": f"slack#{state.channel}#{state.ts}"}, "sk": {"S": "message"},
            "run_id": {"S": state.run_id}, "recipient": {"S": state.recipient},
            "findings": {"S": json.dumps([f.model_dump(mode="json", by_alias=True) for f in state.findings])},
            "outcomes": {"S": json.dumps(state.outcomes)},
            "expires_at": self._expires(max(f.observed_at for f in state.findings))})

    def message(self, channel: str, ts: str) -> MessageState | None:
        item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"slack#{channel}#{ts}"},
                                                              "sk": {"S": "message"}}).get("Item")
        if not item:
            return None
        return MessageState(channel=channel, ts=ts, run_id=item["run_id"]["S"], recipient=item["recipient"]["S"],
                            findings=[Finding.model_validate(f) for f in json.loads(item["findings"]["S"])],
                            outcomes=json.loads(item["outcomes"]["S"]))

    def run_messages(self, run_id: str, recipient: str) -> list[tuple[str, str]]:
        """(channel, ts) of the messages already sent to a recipient for a run, oldest first."""
        item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"slack-run#{run_id}"},
                                                              "sk": {"S": recipient}}).get("Item")
        return [tuple(m) for m in json.loads(item["messages"]["S"])] if item else []  # type: ignore[misc]

    def claim(self, run_id: str, recipient: str, *, holder: str, seconds: int = LEASE_SECONDS) -> bool:
        """The right to post or update one run's messages to one recipient, for a while. A conditional put: two
        notifiers handling batches of the same run at once would otherwise both find no message and both post
        (and the one saved last would orphan the other). A holder that dies lets the lease run out."""
        now = int(time.time())
        return conditionally(
            self._ddb.put_item, TableName=self._table,
            Item={**self._lease_key(run_id, recipient), "holder": {"S": holder},
                  "until": {"N": str(now + seconds)}, "expires_at": {"N": str(now + 86_400)}},
            ConditionExpression="attribute_not_exists(pk) OR #until < :now",
            ExpressionAttributeNames={"#until": "until"}, ExpressionAttributeValues={":now": {"N": str(now)}},
        ) is not None

    def release(self, run_id: str, recipient: str, *, holder: str) -> None:
        """Give the lease back, only if it is still ours (it may have run out and been taken)."""
        conditionally(self._ddb.delete_item, TableName=self._table, Key=self._lease_key(run_id, recipient),
                      ConditionExpression="holder = :me", ExpressionAttributeValues={":me": {"S": holder}})

    @staticmethod
    def _lease_key(run_id: str, recipient: str) -> dict[str, Any]:
        return {"pk": {"S": f"slack-lease#{run_id}"}, "sk": {"S": recipient}}

    def save_run_messages(self, run_id: str, recipient: str, messages: list[tuple[str, str]], at: datetime) -> None:
        self._ddb.put_item(TableName=self._table, Item={
            "pk": {"S": f"slack-run#{run_id}"}, "sk": {"S": recipient}, "messages": {"S": json.dumps(messages)},
            "expires_at": self._expires(at)})
