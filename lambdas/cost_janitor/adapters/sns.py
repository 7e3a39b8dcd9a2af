"""The one findings publisher: JSON for machines, readable text for email, chunked under the SNS size limit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cost_janitor.core.models import Finding

MAX_MESSAGE_BYTES = 256 * 1024
_BUDGET = MAX_MESSAGE_BYTES - 6 * 1024  # attributes, subject and JSON envelope overhead
ATTRIBUTES = ("kind", "severity", "environment", "action")


def _attr(f: Finding, name: str) -> str:
    value = getattr(f, name)
    return str(value) if value is not None else "none"


def _text(f: Finding) -> str:
    dollars = f"${f.monthly_usd:,.2f}/month" if f.monthly_usd is not None else "cost unknown"
    lines = [f"- {f.resource_id} ({f.type_label}, {f.region}, {f.environment}, owner {f.owner or 'unknown'}): "
             f"{f.verdict} — {f.reason}. {dollars}. Action: {f.action or 'none'}"
             + (f" [{f.action_status}]" if f.action_status else "")]
    lines += [f"    note: {n}" for n in f.notes]
    return "\n".join(lines)


def render_messages(findings: Sequence[Finding], *, run_id: str) -> list[tuple[dict[str, str], str, str]]:
    """(attributes, subject, message) per SNS message: one attribute set per message so filters work."""
    return [_message(attrs, chunk, run_id) for attrs, chunk in batches(findings)]


def batches(findings: Sequence[Finding]) -> list[tuple[dict[str, str], list[Finding]]]:
    """The findings in messages: one attribute set each, each under the SNS size limit (so also under EventBridge's
    256 KB for an event); the SNS publisher and a member's bus send the same batches."""
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for f in findings:
        groups.setdefault(tuple(_attr(f, a) for a in ATTRIBUTES), []).append(f)
    out = []
    for key, group in sorted(groups.items()):
        attrs = dict(zip(ATTRIBUTES, key, strict=True))
        chunk: list[Finding] = []
        size = 0
        for f in group:
            # the machine part is a JSON document inside a JSON string inside the envelope: its findings are escaped
            # twice (every quote becomes \\\" — measured so, a GPU finding outgrew a once-escaped estimate and SNS
            # refused the message); the email text is a string in the envelope: escaped once
            machine = json.dumps(json.dumps(f.model_dump(mode="json", by_alias=True)))
            cost = len(machine) + len(json.dumps(_text(f))) + 16
            if chunk and size + cost > _BUDGET:
                out.append((attrs, chunk))
                chunk, size = [], 0
            chunk.append(f)
            size += cost
        if chunk:
            out.append((attrs, chunk))
    return out


def body(chunk: Sequence[Finding], run_id: str) -> dict[str, Any]:
    """A batch as machines read it: the versioned findings document."""
    return {"schema": chunk[0].schema_, "run_id": run_id, "findings": [
        f.model_dump(mode="json", by_alias=True) for f in chunk]}


def _message(attrs: dict[str, str], chunk: list[Finding], run_id: str) -> tuple[dict[str, str], str, str]:
    total = sum(f.monthly_usd or 0 for f in chunk)
    subject = (f"cost-janitor: {len(chunk)} {attrs['kind']} finding(s), {attrs['environment']}, "
               f"action {attrs['action']}" + (f", ~${total:,.0f}/month" if total else ""))[:99]
    text = "\n".join([subject, "", *(_text(f) for f in chunk)])
    message = json.dumps({"default": json.dumps(body(chunk, run_id)), "email": text})
    return attrs, subject, message


class FindingsPublisher:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, findings: Sequence[Finding], *, run_id: str) -> int:
        """Publish every finding; returns the number of SNS messages sent."""
        messages = render_messages(findings, run_id=run_id)
        for attrs, subject, message in messages:
            self._sns.publish(
                TopicArn=self._topic, Subject=subject, Message=message, MessageStructure="json",
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
            )
        return len(messages)

    def publish_document(self, document: Mapping[str, Any], *, email: str, subject: str, kind: str) -> None:
        """One document that is not a findings batch (the weekly digest), with a `kind` attribute for filters."""
        self._sns.publish(TopicArn=self._topic, Subject=subject, MessageStructure="json",
                          Message=json.dumps({"default": json.dumps(document, default=str), "email": email}),
                          MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}})
