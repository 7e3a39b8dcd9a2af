"""The owner's answers from Slack (the answers queue, fed by the interactivity endpoint): authorised, idempotent,
carried out where the resource is — its own region — and told back in the message they answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from cost_janitor.adapters.clients import assumed, client, own_account
from cost_janitor.adapters.ec2 import Ec2Inventory
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.ledger import MessageState, SlackState
from cost_janitor.adapters.slack import SlackGateway
from cost_janitor.core.answers import Answer, KeepInput, ReassignInput, TagsInput, read_submission
from cost_janitor.core.errors import JanitorError, RestoreRefused
from cost_janitor.core.models import ActionKind, Finding
from cost_janitor.core.notify import keep_until, may_act, may_stop_now, recipient_for
from cost_janitor.core.policy import Policy
from cost_janitor.events import SlackBlockActions, SlackViewSubmission
from cost_janitor.families import call_for
from cost_janitor.observability import logger, metrics
from cost_janitor.resources import MEMBER_ROLE_NAME
from cost_janitor.settings import Settings
from cost_janitor.slack_blocks import render


class AnswerNotCarriedOut(JanitorError):
    """An answer's tags could not be written (throttled, denied): retried from the queue, never dropped."""


class UnknownAccount(JanitorError):
    """A finding in an account the hub does not answer for: refused, nothing assumed, nothing changed."""


@dataclass
class Ctx:
    settings: Settings
    policy: Policy
    slack: SlackGateway
    state: SlackState
    now: datetime

    def clients_for(self, finding: Finding) -> Any:
        """client(service, region) where the resource is: this account, or — on a hub — its member account through
        the member's narrow role (assumed only for a listed member; any other account is refused)."""
        members = self.settings.members()
        if finding.account in members:
            return assumed(finding.account, self.settings.member_role_name or MEMBER_ROLE_NAME, finding.region)
        if not members or finding.account == own_account():
            return client
        raise UnknownAccount(f"cost-janitor does not act in account {finding.account}: it is not one of this hub's "
                             "members. Nothing was changed.")

    def act(self, finding: Finding, kind: ActionKind, tags: dict[str, str] | None = None) -> Finding:
        """One answer as an action through the executor — where the resource is (its account and region), with the
        executor's dry-run rule, declared permissions and audit record. `tags`: what the answer writes."""
        planned = finding.model_copy(update={"action": kind, "action_status": "planned", "action_error": None})
        executor = Executor(self.clients_for(finding), dry_run=self.settings.dry_run(self.policy), calls=call_for)
        [done] = executor.execute([planned], self.policy, now=self.now, payload={finding.resource_id: tags or {}})
        if done.action_status == "failed" and kind != ActionKind.STOP:
            # the owner's answer is not lost: the queue retries it, then parks it in the DLQ (alarm)
            raise AnswerNotCarriedOut(f"{kind} on {finding.resource_id} failed: {done.action_error}")
        return done


def _unreachable(ctx: Ctx, finding: Finding) -> str | None:
    """Why an answer cannot be carried out where the resource is (an account the hub does not answer for), before
    anything is done; None when it can."""
    try:
        ctx.clients_for(finding)
    except UnknownAccount as exc:
        logger.warning("slack answer refused: unknown account", extra={"account": finding.account,
                                                                       "resource": finding.resource_id})
        return str(exc)
    return None


def key_of(interaction: SlackBlockActions | SlackViewSubmission) -> str:
    """One answer per click (action ts + user) or per submitted view (view id + user): Slack's retries, double
    clicks and SQS redeliveries are answered once."""
    if isinstance(interaction, SlackBlockActions):
        return f"{interaction.actions[0].action_ts}#{interaction.user.id}"
    return f"{interaction.view.id}#{interaction.user.id}"


def run(ctx: Ctx, interaction: SlackBlockActions | SlackViewSubmission) -> dict[str, Any]:
    return on_click(ctx, interaction) if isinstance(interaction, SlackBlockActions) else on_submit(ctx, interaction)


def _finding(ctx: Ctx, channel: str, ts: str, resource: str) -> tuple[MessageState | None, Finding | None]:
    message = ctx.state.message(channel, ts)
    found = next((f for f in message.findings if f.resource_id == resource), None) if message else None
    return message, found


def _owner_id(ctx: Ctx, finding: Finding) -> str | None:
    recipient = recipient_for(finding, ctx.policy)
    if recipient.kind == "email":
        return ctx.slack.user_for_email(recipient.address)
    return recipient.address if recipient.kind == "user" else None


def on_click(ctx: Ctx, click: SlackBlockActions) -> dict[str, Any]:
    action = click.actions[0]
    resource, user = action.value.resource if action.value else "", click.user.id
    message, finding = _finding(ctx, click.container.channel_id, click.container.message_ts, resource)
    if message is None or finding is None:
        ctx.slack.respond_ephemeral(click.response_url, "This message is no longer tracked by cost-janitor.")
        return {"status": "unknown-message"}
    if not may_act(user, _owner_id(ctx, finding), ctx.policy):
        ctx.slack.respond_ephemeral(click.response_url, f"Only the owner of `{resource}` or a cost-janitor admin "
                                                        f"can {action.action_id.replace('_', ' ')} it.")
        logger.info("slack action refused", extra={"user": user, "resource": resource, "action": action.action_id})
        return {"status": "refused"}
    if refusal := _unreachable(ctx, finding):
        ctx.slack.respond_ephemeral(click.response_url, refusal)
        return {"status": "refused-account"}
    if action.action_id == "snooze":
        outcome = _keep(ctx, finding, user=user, until=(ctx.now + timedelta(days=1)).isoformat(timespec="minutes"),
                        reason="snoozed for a day", answer=Answer.SNOOZED)
    elif action.action_id == "stop_now":
        outcome = _stop_now(ctx, finding, user=user)
    elif action.action_id == "restore":
        outcome = _restore(ctx, finding, user=user)
    else:
        return {"status": "unknown-action"}
    message.outcomes[resource] = outcome
    ctx.state.save_message(message)
    ctx.slack.respond(click.response_url, render(message.findings, ctx.policy, outcomes=message.outcomes))
    return {"status": "done", "outcome": outcome}


def on_submit(ctx: Ctx, submission: SlackViewSubmission) -> dict[str, Any]:
    meta = submission.view.private_metadata
    user = submission.user.id
    message, finding = _finding(ctx, meta.channel, meta.ts, meta.resource)
    if message is None or finding is None or not may_act(user, _owner_id(ctx, finding), ctx.policy):
        ctx.slack.post_ephemeral(meta.channel, user, f"You cannot answer for `{meta.resource}`: only its owner or "
                                                     "a cost-janitor admin can, and only while its message is "
                                                     "tracked. Nothing was changed.")
        logger.info("slack answer refused", extra={"user": user, "resource": meta.resource,
                                                   "form": submission.view.callback_id})
        return {"status": "refused"}
    if refusal := _unreachable(ctx, finding):
        ctx.slack.post_ephemeral(meta.channel, user, refusal)
        return {"status": "refused-account"}
    submitted = read_submission(submission.view.callback_id, submission.view.state)
    if isinstance(submitted, TagsInput):
        outcome = _fix_tags(ctx, finding, user=user, tags=submitted.tags)
    elif isinstance(submitted, KeepInput):
        outcome = _keep(ctx, finding, user=user, until=keep_until(ctx.now, submitted.days, ctx.policy),
                        reason=submitted.reason, answer=Answer.JUSTIFIED)
    elif isinstance(submitted, ReassignInput):
        outcome = _reassign(ctx, finding, user=user, new_owner=submitted.owner)
    else:  # the endpoint checked the form before it was queued
        return {"status": "invalid-form", "errors": submitted}
    message.outcomes[finding.resource_id] = outcome
    ctx.state.save_message(message)
    ctx.slack.update(message.channel, message.ts, render(message.findings, ctx.policy, outcomes=message.outcomes))
    return {"status": "done", "outcome": outcome}


def _keep(ctx: Ctx, finding: Finding, *, user: str, until: str, reason: str, answer: Answer) -> str:
    """Exemption tags on the resource (the user's explicit answer: written even in dry-run) and the ledger."""
    ex = ctx.policy.exemptions
    kind = ActionKind.SNOOZE if answer == Answer.SNOOZED else ActionKind.KEEP
    ctx.act(finding, kind, {ex.keep_until_tag: until, ex.reason_tag: reason[:256], ex.by_tag: user})
    verb = "Snoozed" if answer == Answer.SNOOZED else "Kept"
    ctx.state.record_answer(finding.resource_id, answer=answer, actor=user, at=ctx.now, reason=reason,
                            until=datetime.fromisoformat(until if "T" in until else f"{until}T23:59:59+00:00"))
    metrics.add_metric(name="SlackAnswers", unit=MetricUnit.Count, value=1)
    return f":shield: {verb} by <@{user}> until {until}" + (f": {reason}" if answer == Answer.JUSTIFIED else "")


def _stop_now(ctx: Ctx, finding: Finding, *, user: str) -> str:
    """'Stop now' goes through the sweep's executor: dev only, dry-run honoured, IAM still applies."""
    instance = Ec2Inventory(ctx.clients_for(finding)("ec2", finding.region), finding.region).instance(
        finding.resource_id)
    if instance is None:
        return f":grey_question: <@{user}> asked to stop it, but it no longer exists."
    env = ctx.policy.environments.class_of(instance.tags.get(ctx.policy.environments.tag_key))
    if not may_stop_now(env, ctx.policy):
        return f":no_entry: <@{user}> asked to stop it; {env} instances are never stopped by cost-janitor."
    done = ctx.act(finding, ActionKind.STOP)
    ctx.state.record_answer(finding.resource_id, answer=Answer.STOP_REQUESTED, actor=user, at=ctx.now,
                            detail=f"{done.action_status} {done.action_error or ''}".strip())
    if done.action_status == "failed":
        return f":warning: <@{user}> asked to stop it; the stop failed ({done.action_error})."
    suffix = " (dry-run: nothing was changed)" if done.action_status == "dry-run" else ""
    return f":octagonal_sign: Stopped at the request of <@{user}>{suffix}."


def _restore(ctx: Ctx, finding: Finding, *, user: str) -> str:
    """Recreate a deleted endpoint from the EndpointConfig its deletion recorded (capabilities.restore)."""
    from cost_janitor.capabilities import restore

    if finding.account in ctx.settings.members():  # the deletion's record is in the member's ledger, not here
        return (f":warning: <@{user}> asked to restore it: from Slack, only endpoints in the hub's own account come "
                f"back; run `cost-janitor restore {finding.resource_id}` with account {finding.account}'s "
                "credentials. Nothing was changed.")
    try:
        done = restore.run(finding.resource_id, ctx.policy, ctx.settings, actor=user, now=ctx.now)
    except RestoreRefused as exc:
        return f":warning: <@{user}> asked to restore it: {exc}"
    ctx.state.record_answer(finding.resource_id, answer=Answer.RESTORE_REQUESTED, actor=user, at=ctx.now,
                            detail=str(done.action_status))
    return f":leftwards_arrow_with_hook: Restored at the request of <@{user}> from EndpointConfig " \
           f"`{done.evidence.get('endpoint_config')}` (it takes a few minutes to come into service)."


def _fix_tags(ctx: Ctx, finding: Finding, *, user: str, tags: dict[str, str]) -> str:
    """The creator's tags, through the tagging API (adds; never removes the resource's other tags)."""
    ctx.act(finding, ActionKind.SET_TAGS, tags)
    ctx.state.record_answer(finding.resource_id, answer=Answer.TAGGED, actor=user, at=ctx.now,
                            detail=", ".join(f"{k}={v}" for k, v in sorted(tags.items())))
    return f":label: Tagged by <@{user}>: " + ", ".join(f"`{k}={v}`" for k, v in sorted(tags.items()))


def _reassign(ctx: Ctx, finding: Finding, *, user: str, new_owner: str) -> str:
    """The owner tag gets the new owner's email — what every other path writes and the owner lookup reads — never
    the Slack user id the form returns; a user whose profile shows no email is not written at all."""
    email = ctx.slack.email_for_user(new_owner)
    if email is None:
        return (f":warning: <@{new_owner}>'s Slack profile shows no email, so `{finding.resource_id}` was not "
                f"reassigned (the {ctx.policy.tagging.owner_tag} tag holds an email); set the tag by hand.")
    ctx.act(finding, ActionKind.REASSIGN, {ctx.policy.tagging.owner_tag: email})
    ctx.state.record_answer(finding.resource_id, answer=Answer.REASSIGNED, actor=user, at=ctx.now,
                            detail=f"owner {finding.owner} → {email}")
    moved = finding.model_copy(update={"owner": email})
    channel, ts = ctx.slack.post(new_owner, render([moved], ctx.policy,
                                                   title=f"cost-janitor: <@{user}> says this is yours"))
    ctx.state.save_message(MessageState(channel=channel, ts=ts, run_id=finding.run_id, recipient=new_owner,
                                        findings=[moved]))
    return f":arrow_right: Reassigned to <@{new_owner}> by <@{user}>."
