"""The ledger (DynamoDB): one item per action or request a run makes, the raw material of realized savings — and
the only module that knows the table's key layout (the Slack flow's records included: SlackState)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.errors import JanitorError
from cost_janitor.core.models import Finding, LedgerRecord
from cost_janitor.core.notify import NoticeHistory
from cost_janitor.observability import logger

RETENTION_DAYS = 400


def conditionally(call: Callable[..., Any], **request: Any) -> Any | None:
    """A DynamoDB write with a ConditionExpression: its response, or None when the condition did not hold
    (someone else got there first); any other error is raised."""
    try:
        return call(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise


class Ledger:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    @staticmethod
    def _expires(at: datetime) -> dict[str, str]:
        """The TTL attribute: every item goes RETENTION_DAYS after the moment it records."""
        return {"N": str(int((at + timedelta(days=RETENTION_DAYS)).timestamp()))}

    def record(self, findings: Sequence[Finding], *, actor: str = "cost-janitor") -> int:
        """Write one item per finding that carries an action; batched 25 at a time, unprocessed retried."""
        items = [self._item(f, actor) for f in findings if f.action is not None]
        for start in range(0, len(items), 25):
            request = {self._table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]}
            for _ in range(5):
                response = self._ddb.batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}
                if not request:
                    break
            if request:
                raise JanitorError(f"ledger: {len(request[self._table])} items unprocessed after retries")
        return len(items)

    def _put_all(self, items: list[dict[str, Any]]) -> None:
        """Cache items (prices, descriptions, Slack users), 25 a BatchWriteItem, unprocessed ones retried a few times:
        a cache item left out is read again later, so nothing is raised."""
        for first in range(0, len(items), 25):
            request = {self._table: [{"PutRequest": {"Item": i}} for i in items[first:first + 25]]}
            for _ in range(5):
                request = self._ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break

    def history(self, resource_id: str) -> list[LedgerRecord]:
        """Every ledger entry of one resource, oldest first."""
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": resource_id}})
        return sorted((_record(i) for page in pages for i in page.get("Items", [])), key=lambda r: r.key)

    OUTBOX = "outbox"
    BACKLOG = {"pk": {"S": "sweep-state"}, "sk": {"S": "not-reached"}}
    DESCRIPTION_DAYS = 30

    @staticmethod
    def _description_key(region: str, name: str, version: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"sagemaker-description#{region}#{name}"}, "sk": {"S": version}}

    def descriptions(self, wanted: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Endpoint descriptions saved by earlier runs, by (region, name, LastModifiedTime): an endpoint's variants
        and config change only when it is updated, which changes its LastModifiedTime. 100 keys a call."""
        out: dict[tuple[str, str, str], dict[str, Any]] = {}
        keys = list(dict.fromkeys(wanted))
        for first in range(0, len(keys), 100):
            request = {self._table: {"Keys": [self._description_key(*k) for k in keys[first:first + 100]]}}
            for _ in range(5):
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    _, region, name = item["pk"]["S"].split("#", 2)
                    out[(region, name, item["sk"]["S"])] = json.loads(item["description"]["S"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return out

    PRICE_DAYS = 7  # a price read from the Price List API is used for a week, then read again (#26)

    @staticmethod
    def _price_key(kind: str, instance_type: str, region: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": f"price#{kind}#{region}"}, "sk": {"S": instance_type}}

    def prices(self, kind: str, wanted: Sequence[tuple[str, str]], *,
               now: datetime) -> dict[tuple[str, str], tuple[float | None, str]]:
        """Prices read in the last PRICE_DAYS, by (type, region): (hourly USD or None — the API had none —,
        source). 100 keys a call; an expired item (TTL deletion lags) is absent."""
        out: dict[tuple[str, str], tuple[float | None, str]] = {}
        keys = list(dict.fromkeys(wanted))
        for first in range(0, len(keys), 100):
            request = {self._table: {"Keys": [self._price_key(kind, t, r) for t, r in keys[first:first + 100]]}}
            for _ in range(5):
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    if int(item["expires_at"]["N"]) <= now.timestamp():
                        continue
                    region = item["pk"]["S"].split("#", 2)[2]
                    usd = item.get("hourly_usd", {}).get("N")
                    out[(item["sk"]["S"], region)] = (float(usd) if usd is not None else None, item["source"]["S"])
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return out

    def save_prices(self, kind: str, read: dict[tuple[str, str], tuple[float | None, str]], *, now: datetime) -> None:
        expires = {"N": str(int((now + timedelta(days=self.PRICE_DAYS)).timestamp()))}
        items = [{**self._price_key(kind, t, r), "source": {"S": source}, "read_at": {"S": now.isoformat()},
                  "expires_at": expires, **({"hourly_usd": {"N": repr(usd)}} if usd is not None else {})}
                 for (t, r), (usd, source) in read.items()]
        self._put_all(items)

    def save_descriptions(self, described: dict[tuple[str, str, str], dict[str, Any]], *, now: datetime) -> None:
        expires = {"N": str(int((now + timedelta(days=self.DESCRIPTION_DAYS)).timestamp()))}
        items = [{**self._description_key(*k), "description": {"S": json.dumps(v, default=str)},
                  "expires_at": expires} for k, v in described.items()]
        self._put_all(items)

    def sweep_backlog(self) -> list[str]:
        """Regions a sweep ran out of time for (the next one starts with them): one item per region, so sweeps of
        different regions running at once (the per-region fan-out) never overwrite each other's backlog."""
        items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
                                ExpressionAttributeValues={":pk": self.BACKLOG["pk"], ":sk": self.BACKLOG["sk"]},
                                ConsistentRead=True).get("Items", [])
        regions: list[tuple[int, str]] = []
        for item in items:  # "not-reached#<region>"; the one "not-reached" item earlier versions wrote holds a list
            if "#" in item["sk"]["S"]:
                regions.append((int(item.get("order", {}).get("N", "0")), item["sk"]["S"].split("#", 1)[1]))
            else:
                regions += list(enumerate(json.loads(item["regions"]["S"])))
        return list(dict.fromkeys(r for _, r in sorted(regions)))  # in the order the sweep would have gone

    def set_sweep_backlog(self, swept: Sequence[str], not_reached: Sequence[str]) -> None:
        """After a sweep of `swept`: those it did not reach wait for the next run; the others are done."""
        self._ddb.delete_item(TableName=self._table, Key=self.BACKLOG)  # earlier versions' single item
        for region in swept:
            key = {"pk": self.BACKLOG["pk"], "sk": {"S": f"{self.BACKLOG['sk']['S']}#{region}"}}
            if region in not_reached:
                self._ddb.put_item(TableName=self._table,
                                   Item={**key, "order": {"N": str(list(not_reached).index(region))}})
            else:
                self._ddb.delete_item(TableName=self._table, Key=key)

    @staticmethod
    def _region_key(name: str, region: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": "sweep-state"}, "sk": {"S": f"{name}#{region}"}}

    def _region_set(self, name: str, region: str) -> dict[str, datetime]:
        item = self._ddb.get_item(TableName=self._table, Key=self._region_key(name, region),
                                  ConsistentRead=True).get("Item")
        return {iid: datetime.fromisoformat(at) for iid, at in json.loads(item["ids"]["S"]).items()} if item else {}

    REGION_SET_MAX = 5_000  # ~60 bytes an entry: one item stays well under DynamoDB's 400 KB

    def _save_region_set(self, name: str, region: str, ids: dict[str, datetime]) -> None:
        """One item per region; past REGION_SET_MAX entries the oldest are dropped (and said): a box dropped from
        the stop-protection set is read again, one dropped from the watch list ends its savings only by the
        state-change rule."""
        if not ids:
            self._ddb.delete_item(TableName=self._table, Key=self._region_key(name, region))
            return
        if len(ids) > self.REGION_SET_MAX:
            kept = dict(sorted(ids.items(), key=lambda kv: kv[1])[-self.REGION_SET_MAX:])
            logger.warning("ledger region set full; oldest entries dropped",
                           extra={"set": name, "region": region, "dropped": len(ids) - len(kept)})
            ids = kept
        self._ddb.put_item(TableName=self._table, Item={**self._region_key(name, region), "ids": {"S": json.dumps(
            {iid: at.isoformat() for iid, at in sorted(ids.items())})}})

    def stop_protected(self, region: str) -> dict[str, datetime]:
        """Instances a read found stop-protected (DisableApiStop), with when: one item per region, one read a night."""
        return self._region_set("stop-protected", region)

    def save_stop_protected(self, region: str, protected: dict[str, datetime]) -> None:
        self._save_region_set("stop-protected", region, protected)

    def janitor_stopped(self, region: str) -> dict[str, datetime]:
        """Instances the janitor stopped in a region, with when, watched for their owners starting them again."""
        return self._region_set("janitor-stopped", region)

    def save_janitor_stopped(self, region: str, stopped: dict[str, datetime]) -> None:
        self._save_region_set("janitor-stopped", region, stopped)

    def cursor(self, name: str) -> str | None:
        """Where a run that ran out of time stopped (the storage run: the last bucket it looked at)."""
        item = self._ddb.get_item(TableName=self._table, Key=self._cursor_key(name)).get("Item")
        return item["after"]["S"] if item else None

    def set_cursor(self, name: str, after: str | None) -> None:
        """None: the last run finished; the next starts from the beginning."""
        if after is None:
            self._ddb.delete_item(TableName=self._table, Key=self._cursor_key(name))
        else:
            self._ddb.put_item(TableName=self._table, Item={**self._cursor_key(name), "after": {"S": after}})

    @staticmethod
    def _cursor_key(name: str) -> dict[str, Any]:
        return {"pk": {"S": "cursor"}, "sk": {"S": name}}

    def save_outbox(self, run_id: str, findings: Sequence[Finding]) -> None:
        """Findings SNS would not take: kept (in ≤ 300 KB items) for the next run to publish."""
        docs = [f.model_dump_json(by_alias=True) for f in findings]
        chunk: list[str] = []
        for n, doc in enumerate([*docs, None]):
            if doc is not None and sum(len(d) for d in chunk) + len(doc) < 300_000:
                chunk.append(doc)
                continue
            if chunk:
                self._ddb.put_item(TableName=self._table, Item=self._outbox_item(f"{run_id}#{n}", run_id, chunk))
            chunk = [doc] if doc is not None else []

    def _outbox_item(self, key: str, run_id: str, docs: Sequence[str]) -> dict[str, Any]:
        """One waiting batch: the findings' JSON documents as one JSON array."""
        return {"pk": {"S": self.OUTBOX}, "sk": {"S": key}, "run_id": {"S": run_id},
                "findings": {"S": "[" + ",".join(docs) + "]"}}

    @staticmethod
    def _outbox_findings(item: dict[str, Any]) -> list[Finding]:
        return [Finding.model_validate(f) for f in json.loads(item["findings"]["S"])]

    def outbox(self) -> list[tuple[str, str, list[Finding]]]:
        """(key, run id, findings) of every unpublished batch, oldest first."""
        items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": self.OUTBOX}}).get("Items", [])
        return [(i["sk"]["S"], i["run_id"]["S"], self._outbox_findings(i)) for i in items]

    def take_outbox(self, key: str) -> tuple[str, list[Finding]] | None:
        """Take one waiting batch out of the outbox to publish it: a conditional delete, so when two runs drain
        the outbox at once each batch goes to exactly one of them (the other gets None)."""
        taken = conditionally(self._ddb.delete_item, TableName=self._table,
                              Key={"pk": {"S": self.OUTBOX}, "sk": {"S": key}},
                              ConditionExpression="attribute_exists(pk)", ReturnValues="ALL_OLD")
        if taken is None:
            return None
        return taken["Attributes"]["run_id"]["S"], self._outbox_findings(taken["Attributes"])

    def return_outbox(self, key: str, run_id: str, findings: Sequence[Finding]) -> None:
        """Put a taken batch back (SNS refused it again): it waits for the next run under the same key."""
        self._ddb.put_item(TableName=self._table, Item=self._outbox_item(
            key, run_id, [f.model_dump_json(by_alias=True) for f in findings]))

    def since(self, since: str) -> list[LedgerRecord]:
        """Every entry recorded at or after an ISO time (a filtered scan; fine for a weekly report)."""
        pages = self._ddb.get_paginator("scan").paginate(
            TableName=self._table, FilterExpression="#at >= :since", ExpressionAttributeNames={"#at": "at"},
            ExpressionAttributeValues={":since": {"S": since}})
        return [_record(i) for page in pages for i in page.get("Items", [])]

    def record_started(self, instance_id: str, *, at: str, source: str) -> None:
        """An instance the janitor stopped is running again (ends its realized-savings clock)."""
        self._ddb.put_item(TableName=self._table, Item={
            "pk": {"S": instance_id}, "sk": {"S": f"{at}#started"}, "action": {"S": "started"},
            "status": {"S": "done"}, "at": {"S": at}, "actor": {"S": source},
            "expires_at": self._expires(datetime.fromisoformat(at))})

    def entries(self, kind: str) -> list[LedgerRecord]:
        """Every entry of one finding kind (a filtered scan: the ledger is small; a GSI is the next step)."""
        pages = self._ddb.get_paginator("scan").paginate(
            TableName=self._table, FilterExpression="kind = :k", ExpressionAttributeValues={":k": {"S": kind}})
        return [_record(i) for page in pages for i in page.get("Items", [])]

    @staticmethod
    def _item(f: Finding, actor: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": {"S": f.resource_id},
            "sk": {"S": f"{f.observed_at.isoformat()}#{f.action}"},
            "kind": {"S": f.kind},
            "action": {"S": str(f.action)},
            "status": {"S": f.action_status or "requested"},
            "verdict": {"S": str(f.verdict)},
            "reason": {"S": f.reason},
            "evidence": {"S": json.dumps(f.evidence, sort_keys=True)},
            "region": {"S": f.region},
            "account": {"S": f.account},
            "environment": {"S": f.environment},
            "resource_type": {"S": f.resource_type},
            "instance_type": {"S": f.instance_type or ""},
            "run_id": {"S": f.run_id},
            "actor": {"S": actor},
            "at": {"S": f.observed_at.isoformat()},
            "expires_at": Ledger._expires(f.observed_at),
        }
        if f.monthly_usd is not None:
            item["monthly_usd"] = {"N": str(Decimal(str(f.monthly_usd)))}
        for name in ("owner", "team", "action_error"):
            value = getattr(f, name)
            if value:
                item[name] = {"S": value}
        return item


def _record(item: dict[str, Any]) -> LedgerRecord:
    """A DynamoDB item as a typed record (the adapter's job: the core never sees attribute maps)."""
    def text(name: str) -> str:
        return str(item.get(name, {}).get("S", ""))

    usd = item.get("monthly_usd", {}).get("N")
    return LedgerRecord(resource_id=text("pk"), action=text("action"), status=text("status"),
                        at=datetime.fromisoformat(text("at")), monthly_usd=float(usd) if usd is not None else None,
                        team=text("team") or None, kind=text("kind"), reason=text("reason"), region=text("region"),
                        resource_type=text("resource_type"), instance_type=text("instance_type"),
                        evidence=text("evidence"), key=text("sk"),
                        actor=text("actor"), detail=text("detail"), verdict=text("verdict"),
                        account=text("account"))


@dataclass
class MessageState:
    channel: str
    ts: str
    run_id: str
    recipient: str
    findings: list[Finding]
    outcomes: dict[str, str] = field(default_factory=dict)


LEASE_SECONDS = 120  # longer than the notifier's 1-minute timeout, shorter than its queue's 6-minute visibility


class SlackState(Ledger):
    """The Slack flow's records in the same table, under the same owner of its key layout: notices and answers per
    resource (the re-ask clock and the audit trail), each message's findings and outcomes (so any update re-renders
    it whole), and the notifier's lease per run and recipient."""

    def notice_history(self, resource_id: str) -> NoticeHistory:
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

    # email → Slack user id across runs (users.lookupByEmail is Tier 3, 50 a minute: 800 owners looked up every night
    # would take 16 minutes): kept USER_DAYS, an email Slack does not know NOT_FOUND_DAYS (it may join tomorrow)
    USER_DAYS, NOT_FOUND_DAYS = 7, 1

    def slack_user(self, email: str, *, now: datetime) -> tuple[bool, str | None]:
        """(known, user id or None when Slack did not know it); (False, None) when not cached or expired."""
        item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"slack-user#{email.lower()}"},
                                                              "sk": {"S": "user"}}).get("Item")
        if not item or int(item["expires_at"]["N"]) <= now.timestamp():  # TTL deletion lags: expired is absent
            return False, None
        return True, item["user"]["S"] or None

    def save_slack_user(self, email: str, user: str | None, *, now: datetime) -> None:
        days = self.USER_DAYS if user else self.NOT_FOUND_DAYS
        self._ddb.put_item(TableName=self._table, Item={
            "pk": {"S": f"slack-user#{email.lower()}"}, "sk": {"S": "user"}, "user": {"S": user or ""},
            "expires_at": {"N": str(int((now + timedelta(days=days)).timestamp()))}})

    def save_slack_users(self, users: dict[str, str], *, now: datetime) -> None:
        """Many email → user entries at once (a users.list walk), 25 a BatchWriteItem, unprocessed ones retried."""
        expires = {"N": str(int((now + timedelta(days=self.USER_DAYS)).timestamp()))}
        items = [{"pk": {"S": f"slack-user#{email.lower()}"}, "sk": {"S": "user"}, "user": {"S": user},
                  "expires_at": expires} for email, user in users.items()]
        self._put_all(items)

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
        return [(str(channel), str(ts)) for channel, ts in json.loads(item["messages"]["S"])] if item else []

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
