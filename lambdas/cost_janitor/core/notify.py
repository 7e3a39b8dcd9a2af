"""Who hears about a finding, and whether tonight: tell the owner once, re-ask after N days, escalate after M."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.policy import Policy

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLACK_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")


@dataclass(frozen=True)
class Recipient:
    """Where a message goes: a person by email (looked up in Slack), a Slack user id, or a channel."""

    kind: Literal["email", "user", "channel"]
    address: str


@dataclass(frozen=True)
class NoticeHistory:
    """What was said about a resource since its owner last answered (from the ledger)."""

    first_notice: datetime | None = None
    last_notice: datetime | None = None
    escalated: bool = False


@dataclass(frozen=True)
class NoticePlan:
    notify_owner: bool
    escalate: bool
    reason: str


def recipient_for(finding: Finding, policy: Policy) -> Recipient:
    """The owner tag if it names a person; otherwise the team's channel; otherwise the default channel."""
    owner = (finding.owner or "").strip()
    if EMAIL.match(owner):
        return Recipient("email", owner.lower())
    if SLACK_ID.match(owner):
        return Recipient("user", owner)
    return Recipient("channel", team_channel(finding, policy))


def team_channel(finding: Finding, policy: Policy) -> str:
    return policy.slack.team_channels.get(finding.team or "", policy.slack.default_channel)


def plan_notice(finding: Finding, history: NoticeHistory, policy: Policy, *, now: datetime) -> NoticePlan:
    """Actions are always told (one message per owner per run); requests are re-asked and escalated on a clock."""
    if finding.verdict == Verdict.COMPLIANT and finding.action_status != "failed":
        return NoticePlan(False, False, "compliant; routine bookkeeping only")
    if isinstance(finding.action, ActionKind):
        if finding.action == ActionKind.UNMARK_IDLE and finding.action_status != "failed":
            return NoticePlan(False, False, "no longer idle; nothing to ask")
        return NoticePlan(True, False, f"{finding.action} {finding.action_status or 'planned'}")
    if finding.verdict == Verdict.IDLE and finding.action is None:
        return NoticePlan(False, False, "marked earlier; waiting for the grace period")
    if not isinstance(finding.action, Ask) and not finding.notes:
        return NoticePlan(False, False, "nothing to ask")
    reask = timedelta(days=policy.grace.reask_after_days)
    escalate_after = timedelta(days=policy.grace.escalate_after_days)
    escalate = (history.first_notice is not None and not history.escalated
                and now - history.first_notice >= escalate_after and finding.action == Ask.JUSTIFY)
    if history.last_notice is None:
        return NoticePlan(True, False, "first request")
    if now - history.last_notice >= reask:
        return NoticePlan(True, escalate, "re-asked: no answer for "
                          f"{(now - history.first_notice).days if history.first_notice else 0} days")
    return NoticePlan(False, escalate, "asked recently")


def may_act(clicker: str, owner_user_id: str | None, policy: Policy) -> bool:
    """Only the resource's owner or a configured admin may answer for it."""
    return clicker in policy.slack.admins or (owner_user_id is not None and clicker == owner_user_id)


def may_stop_now(environment: str, policy: Policy) -> bool:
    """'Stop now' is for environments the policy lets the janitor stop (dev); prod is never stopped."""
    cls = policy.environments.classes.get(environment)
    return cls is not None and cls.on_idle == "stop"


def keep_until(now: datetime, days: int, policy: Policy) -> str:
    """The keep-until tag value: a date (kept through its end), never further than the policy allows."""
    return (now + timedelta(days=min(days, policy.exemptions.max_keep_days))).date().isoformat()


def admit_forwarded(sender: str, findings: list[Finding], members: Collection[str]) -> tuple[list[Finding],
                                                                                         list[Finding]]:
    """(the findings the hub hears, those it drops) for a batch a member's bus forwarded. A member speaks only for
    its own account, and only a known member is heard — anything else could make the hub act in an account that
    never asked; a retry would not make it true, so the dropped ones are not retried."""
    if sender not in members:
        return [], list(findings)
    return [f for f in findings if f.account == sender], [f for f in findings if f.account != sender]
