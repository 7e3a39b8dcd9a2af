"""Findings → Slack: a run's findings for one owner in at most slack.max_messages_per_recipient messages with buttons
(the rest summarised; a later batch of the same run as replies in the first message's thread), several recipients at
once; asks re-asked and escalated on the policy's clock."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from cost_janitor.adapters.ledger import MessageState, SlackState
from cost_janitor.adapters.slack import SlackGateway, error_code
from cost_janitor.core.errors import JanitorError
from cost_janitor.core.models import Finding
from cost_janitor.core.notify import plan_notice, recipient_for, team_channel
from cost_janitor.core.policy import Policy
from cost_janitor.observability import logger
from cost_janitor.slack_blocks import planned_messages, slim


@dataclass
class NotifyReport:
    messages_posted: int = 0
    escalations: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # recipient → error code (recorded, not retried forever)
    # resources whose SQS messages go back to the queue: another notifier was writing to the same recipient, or
    # their notice history could not be read (the rest of the batch goes on)
    busy: list[str] = field(default_factory=list)


RATE_LIMITED = "ratelimited"  # Slack's error once slack-sdk's waits (Retry-After) are spent
RESERVE_MS = 10_000  # what the Lambda keeps to save state and answer SQS: nothing new starts with less left


class Busy(JanitorError):
    """Another notifier holds this run's messages to this recipient; SQS hands the findings back later."""


def run(findings: list[Finding], policy: Policy, slack: SlackGateway, state: SlackState, *,
           holder: str | None = None, remaining_ms: Callable[[], int] | None = None) -> NotifyReport:
    """The notifier's recipe; the Lambda and the demo call it. Its clock is each finding's observation time, so a
    late or replayed delivery is judged as of its run. Groups whose messages another notifier is writing right
    now, findings whose notice history cannot be read, and — with `remaining_ms` (the Lambda's clock) — whatever
    would start with less than RESERVE_MS left, are left alone and listed in `busy` (the Lambda hands their SQS
    messages back: nothing is lost to a timeout, and what was sent is saved, so nothing is sent twice)."""
    report = NotifyReport()
    holder = holder or uuid.uuid4().hex
    owners: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    escalations: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    unique = list({f.resource_id: f for f in findings}.values())  # a redelivered message holds the same resources

    def short() -> bool:
        return remaining_ms is not None and remaining_ms() < RESERVE_MS

    try:  # many owners new to the directory: one users.list walk instead of a lookup each (Tier 3)
        slack.prime({r.address for f in unique if (r := recipient_for(f, policy)).kind == "email"}, short=short)
    except Exception as exc:  # each owner is then looked up, as before
        logger.warning("users.list not read; owners are looked up one by one", extra={"error": error_code(exc)})
    for f in unique:
        if short():
            report.busy.append(f.resource_id)
            continue
        try:
            history = state.notice_history(f.resource_id)
        except ClientError as exc:  # its re-ask clock is unknown: it waits for the redelivery, the others go on
            report.busy.append(f.resource_id)
            logger.warning("notice history not readable; left for redelivery",
                           extra={"resource": f.resource_id, "error_code": exc.response["Error"]["Code"]})
            continue
        plan = plan_notice(f, history, policy, now=f.observed_at)
        if plan.escalate:
            escalations[(f.run_id, team_channel(f, policy))].append(f)
        if not plan.notify_owner:
            report.skipped += 1
            continue
        try:
            channel, _ = slack.channel_for(recipient_for(f, policy), fallback=team_channel(f, policy))
        except Exception as exc:  # Slack down or refusing: recorded; the next run tells them
            if error_code(exc) == RATE_LIMITED:  # still rate limited after the waits: SQS hands it back later
                report.busy.append(f.resource_id)
                continue
            report.failed[f.owner or "unknown"] = error_code(exc)
            continue
        owners[(f.run_id, channel)].append(f)

    work = [(escalated, key, group) for escalated, groups in ((False, owners), (True, escalations))
            for key, group in groups.items()]
    # different recipients at once (policy.slack.delivery_concurrency): Slack's chat.postMessage limit is per
    # channel, and each recipient's messages stay in order under its own lease
    with ThreadPoolExecutor(max_workers=policy.slack.delivery_concurrency) as pool:
        outcomes = list(pool.map(lambda w: _recipient(slack, state, policy, holder, *w, short=short), work))
    for (escalated, (_, channel), group), (outcome, detail) in zip(work, outcomes, strict=True):
        if outcome == "posted":
            report.messages_posted += int(detail)
            report.escalations += len(group) if escalated else 0
        elif outcome == "busy":
            report.busy += [f.resource_id for f in group]
        else:
            report.failed[channel] = str(detail)
    return report


def _recipient(slack: SlackGateway, state: SlackState, policy: Policy, holder: str, escalated: bool,
               key: tuple[str, str], group: list[Finding], *, short: Callable[[], bool]) -> tuple[str, int | str]:
    """One recipient's messages of one run: ("posted", how many), ("busy", 0) — SQS hands them back; so does a
    recipient not started for lack of time — or ("failed", Slack's error code)."""
    run_id, channel = key
    if short():
        return "busy", 0
    title = (f"cost-janitor: {len(group)} request(s) unanswered for {policy.grace.escalate_after_days}+ days"
             if escalated else None)
    try:
        posted = _deliver(slack, state, run_id, channel, group, policy, title=title, holder=holder)
    except Busy:
        logger.info("another notifier is writing to this recipient; left for redelivery",
                    extra={"channel": channel, "run_id": run_id, "findings": len(group)})
        return "busy", 0
    except Exception as exc:
        if error_code(exc) == RATE_LIMITED:  # what was posted is saved: the redelivery posts only the rest
            logger.info("slack still rate limited; left for redelivery",
                        extra={"channel": channel, "findings": len(group)})
            return "busy", 0
        logger.warning("slack delivery failed", extra={"channel": channel, "error": error_code(exc)})
        return "failed", error_code(exc)
    for f in group:
        state.record_notice(f, recipient=channel, escalated=escalated, at=f.observed_at)
    return "posted", posted


def _deliver(slack: SlackGateway, state: SlackState, run_id: str, channel: str, group: list[Finding],
             policy: Policy, *, title: str | None, holder: str) -> int:
    """Post, or — when this run already wrote to this recipient — reply in that message's thread; under a
    lease, so two notifiers never write one run's messages to one recipient at once."""
    key = f"{channel}#escalation" if title else channel
    if not state.claim(run_id, key, holder=holder):
        raise Busy(key)
    try:
        return _write(slack, state, run_id, channel, key, group, policy, title=title)
    finally:
        state.release(run_id, key, holder=holder)


def _write(slack: SlackGateway, state: SlackState, run_id: str, channel: str, key: str, group: list[Finding],
           policy: Policy, *, title: str | None) -> int:
    """The run's first messages to this recipient; for a later batch of the same run, its new findings as replies in
    the first message's thread (chat.postMessage, limited per channel) — not an update of the messages already sent:
    chat.update is limited per workspace (Tier 3), and an organization's night updating every owner's message for
    every batch took an hour (bench/org_night.py). Findings a sent message already holds are not sent again."""
    sent = state.run_messages(run_id, key)
    already: set[str] = set()
    for ch, ts in sent:
        old = state.message(ch, ts)
        if old:
            already |= {f.resource_id for f in old.findings}
    fresh = list({f.resource_id: f for f in group if f.resource_id not in already}.values())
    if not fresh:
        return 0
    thread = sent[0][1] if sent else None
    result = list(sent)
    messages = planned_messages(fresh, policy, title=title)
    for kind, chunk, message in messages:
        ch, ts = slack.post(channel, message, thread_ts=thread)
        result.append((ch, ts))
        # saved at once: a redelivery after a failure further on sends only what no saved message holds
        state.save_message(MessageState(channel=ch, ts=ts, run_id=run_id, recipient=channel,
                                        findings=chunk if kind == "buttons" else [slim(f) for f in chunk]))
        state.save_run_messages(run_id, key, result, max(f.observed_at for f in group))
    return len(messages)
