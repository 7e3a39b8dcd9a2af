"""Slack buttons and modals (Function URL, auth NONE): verified, authorised, idempotent, answered in place."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.ec2 import Ec2Tags
from cost_janitor.adapters.executor import Executor
from cost_janitor.adapters.slack import SLACK_API, SlackGateway, SlackSecrets, load_secrets
from cost_janitor.adapters.slack_state import SlackState
from cost_janitor.core.models import ActionKind, Finding
from cost_janitor.core.notify import keep_until, may_act, may_stop_now, recipient_for
from cost_janitor.core.policy import Policy
from cost_janitor.core.slack_blocks import fix_tags_modal, keep_modal, reassign_modal, render
from cost_janitor.events import SlackBlockActions, SlackInteraction, SlackViewSubmission
from cost_janitor.observability import logger, metrics, tracer
from cost_janitor.runtime import idempotent_call, load_policy_for
from cost_janitor.settings import Settings

REQUIRED = ("ledger_table", "policy_parameter", "slack_secret_arn", "idempotency_table")
MAX_BODY_BYTES = 64 * 1024
app = LambdaFunctionUrlResolver()


@dataclass
class Ctx:
    settings: Settings
    policy: Policy
    secrets: SlackSecrets
    slack: SlackGateway
    state: SlackState
    tags: Ec2Tags
    now: datetime

    @classmethod
    def load(cls) -> Ctx:
        settings = Settings.from_env(require=REQUIRED)
        secrets = load_secrets(client("secretsmanager", settings.region), str(settings.slack_secret_arn))
        return cls(settings=settings, policy=load_policy_for(settings), secrets=secrets,
                   slack=SlackGateway(secrets.bot_token, base_url=settings.slack_api_url or SLACK_API),
                   state=SlackState(client("dynamodb", settings.region), str(settings.ledger_table)),
                   tags=Ec2Tags(client("ec2", settings.region)), now=datetime.now(UTC))


def signature_problem(secret: str, body: str, headers: dict[str, str], clock: Clock | None = None) -> str | None:
    """Why a request is not Slack's (None when it is): HMAC over the raw body, timestamp within 5 minutes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp, signature = lowered.get("x-slack-request-timestamp"), lowered.get("x-slack-signature")
    if not timestamp or not signature:
        return "missing signature headers"
    if not timestamp.strip().isdigit():
        return "non-numeric timestamp"
    verifier = SignatureVerifier(secret, clock=clock or Clock())
    if abs((clock or Clock()).now() - int(timestamp)) > 300:
        return "timestamp outside the 5-minute window"
    return None if verifier.is_valid(body, timestamp, signature) else "signature mismatch"


def verified(app: LambdaFunctionUrlResolver, next_middleware: NextMiddleware) -> Response[str]:
    """Only Slack's signed requests get through; anything else is a 401 (413 if huge) with no side effect."""
    event = app.current_event
    body = event.decoded_body or ""
    problem: str | None
    if len(body.encode()) > MAX_BODY_BYTES:
        problem, status = "body too large", 413
    else:
        ctx = Ctx.load()
        app.append_context(ctx=ctx)  # type: ignore[no-untyped-call]
        problem, status = signature_problem(ctx.secrets.signing_secret, body, dict(event.headers or {})), 401
    if problem:
        logger.warning("slack request rejected", extra={"reason": problem, "path": event.path})
        return Response(status_code=status, content_type="text/plain", body="rejected")
    return next_middleware(app)


app.use(middlewares=[verified])


@app.post("/slack/actions")
def slack_actions() -> Response[str]:
    ctx: Ctx = app.context["ctx"]
    form = parse_qs(app.current_event.decoded_body or "")
    try:
        interaction = SlackInteraction.model_validate(json.loads(form["payload"][0])).root
    except (KeyError, ValueError, ValidationError) as exc:
        logger.warning("unexpected slack payload", extra={"error": type(exc).__name__})
        return Response(status_code=400, content_type="text/plain", body="unsupported payload")
    if isinstance(interaction, SlackBlockActions):
        key = f"{interaction.actions[0].action_ts}#{interaction.user.id}"
        idempotent_call(lambda: on_click(ctx, interaction), key=key, settings=ctx.settings,
                             context=app.lambda_context)
        return Response(status_code=200, content_type="application/json", body="")
    key = f"{interaction.view.id}#{interaction.user.id}"
    result = idempotent_call(lambda: on_submit(ctx, interaction), key=key, settings=ctx.settings,
                             context=app.lambda_context)
    return Response(status_code=200, content_type="application/json", body=json.dumps(result))


def _finding(ctx: Ctx, channel: str, ts: str, resource: str) -> tuple[Any, Finding | None]:
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
    if finding is None:
        ctx.slack.respond_ephemeral(click.response_url, "This message is no longer tracked by cost-janitor.")
        return {"status": "unknown-message"}
    if not may_act(user, _owner_id(ctx, finding), ctx.policy):
        ctx.slack.respond_ephemeral(click.response_url, f"Only the owner of `{resource}` or a cost-janitor admin "
                                                        f"can {action.action_id.replace('_', ' ')} it.")
        logger.info("slack action refused", extra={"user": user, "resource": resource, "action": action.action_id})
        return {"status": "refused"}
    meta = {"resource": resource, "region": finding.region, "channel": click.container.channel_id,
            "ts": click.container.message_ts}
    if action.action_id == "keep":
        ctx.slack.open_view(click.trigger_id, keep_modal(resource_id=resource, metadata=meta,
                                                         max_days=ctx.policy.exemptions.max_keep_days))
        return {"status": "modal"}
    if action.action_id == "not_mine":
        ctx.slack.open_view(click.trigger_id, reassign_modal(resource_id=resource, metadata=meta))
        return {"status": "modal"}
    if action.action_id == "fix_tags":
        keys = [k for k in f"{finding.evidence.get('missing') or ''},{finding.evidence.get('invalid') or ''}"
                .split(",") if k]
        ctx.slack.open_view(click.trigger_id, fix_tags_modal(resource_id=resource, keys=keys, metadata=meta,
                                                             allowed=ctx.policy.tagging.required))
        return {"status": "modal"}
    if action.action_id == "snooze":
        outcome = _keep(ctx, finding, user=user, until=(ctx.now + timedelta(days=1)).isoformat(timespec="minutes"),
                        reason="snoozed for a day", answer="snoozed")
    elif action.action_id == "stop_now":
        outcome = _stop_now(ctx, finding, user=user)
    else:
        return {"status": "unknown-action"}
    message.outcomes[resource] = outcome
    ctx.state.save_message(message)
    ctx.slack.respond(click.response_url, render(message.findings, docs_url=ctx.policy.slack.gpu_agent_docs_url,
                                                 outcomes=message.outcomes))
    return {"status": "done", "outcome": outcome}


def on_submit(ctx: Ctx, submission: SlackViewSubmission) -> dict[str, Any]:
    meta = submission.view.private_metadata
    user = submission.user.id
    message, finding = _finding(ctx, meta.channel, meta.ts, meta.resource)
    if finding is None or not may_act(user, _owner_id(ctx, finding), ctx.policy):
        field = {"keep": "reason", "reassign": "owner"}.get(submission.view.callback_id, "tag:team")
        return {"response_action": "errors", "errors": {field: "You can no longer answer for this resource."}}
    values = submission.view.state.get("values", {})
    if submission.view.callback_id == "fix_tags":
        tags = {str(block)[4:]: _text(values, block, "value", "value") or _text(values, block, "value",
                                                                                "selected_option", "value")
                for block in (values if isinstance(values, dict) else {}) if str(block).startswith("tag:")}
        empty = [k for k, v in tags.items() if not v]
        if empty or not tags:
            return {"response_action": "errors", "errors": {f"tag:{k}": "Required." for k in empty or ["team"]}}
        outcome = _fix_tags(ctx, finding, user=user, tags=tags)
    elif submission.view.callback_id == "keep":
        reason = _text(values, "reason", "reason", "value")
        if len(reason) < 10:
            return {"response_action": "errors", "errors": {"reason": "Please give a reason (10+ characters)."}}
        days = _text(values, "days", "days", "selected_option", "value") or "7"
        if not re.fullmatch(r"[0-9]{1,4}", days):
            return {"response_action": "errors", "errors": {"days": "Choose how long to keep it."}}
        outcome = _keep(ctx, finding, user=user, until=keep_until(ctx.now, int(days), ctx.policy), reason=reason,
                        answer="justified")
    else:
        new_owner = _text(values, "owner", "user", "selected_user")
        if not new_owner:
            return {"response_action": "errors", "errors": {"owner": "Choose who owns it."}}
        outcome = _reassign(ctx, finding, user=user, new_owner=new_owner)
    message.outcomes[finding.resource_id] = outcome
    ctx.state.save_message(message)
    ctx.slack.update(message.channel, message.ts, render(message.findings, outcomes=message.outcomes,
                                                         docs_url=ctx.policy.slack.gpu_agent_docs_url))
    return {"response_action": "clear"}


def _text(values: Any, *path: str) -> str:
    """One input's value from a modal's state, stripped; "" where the path is missing or not what Slack sends."""
    node = values
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node.strip() if isinstance(node, str) else ""


def _keep(ctx: Ctx, finding: Finding, *, user: str, until: str, reason: str, answer: str) -> str:
    """Exemption tags on the resource (the user's explicit answer: written even in dry-run) and the ledger."""
    ex = ctx.policy.exemptions
    ctx.tags.write(finding.resource_id, {ex.keep_until_tag: until, ex.reason_tag: reason, ex.by_tag: user})
    ctx.state.record_answer(finding.resource_id, answer=answer, actor=user, at=ctx.now, reason=reason,
                            until=datetime.fromisoformat(until if "T" in until else f"{until}T23:59:59+00:00"))
    metrics.add_metric(name="SlackAnswers", unit="Count", value=1)
    verb = "Snoozed" if answer == "snoozed" else "Kept"
    return f":shield: {verb} by <@{user}> until {until}" + (f": {reason}" if answer == "justified" else "")


def _stop_now(ctx: Ctx, finding: Finding, *, user: str) -> str:
    """'Stop now' goes through the sweep's executor: dev only, dry-run honoured, IAM still applies."""
    tags = ctx.tags.tags(finding.resource_id)
    if tags is None:
        return f":grey_question: <@{user}> asked to stop it, but it no longer exists."
    env = ctx.policy.environments.class_of(tags.get(ctx.policy.environments.tag_key))
    if not may_stop_now(env, ctx.policy):
        return f":no_entry: <@{user}> asked to stop it; {env} instances are never stopped by cost-janitor."
    dry_run = ctx.settings.dry_run(ctx.policy)
    planned = finding.model_copy(update={"action": ActionKind.STOP, "action_status": "planned"})
    [done] = Executor(client, dry_run=dry_run).execute([planned], ctx.policy, now=ctx.now)
    ctx.state.record_answer(finding.resource_id, answer="stop-requested", actor=user, at=ctx.now,
                            detail=f"{done.action_status} {done.action_error or ''}".strip())
    if done.action_status == "failed":
        return f":warning: <@{user}> asked to stop it; the stop failed ({done.action_error})."
    suffix = " (dry-run: nothing was changed)" if done.action_status == "dry-run" else ""
    return f":octagonal_sign: Stopped at the request of <@{user}>{suffix}."


def _fix_tags(ctx: Ctx, finding: Finding, *, user: str, tags: dict[str, str]) -> str:
    """The creator's tags, through the tagging API (adds; never removes the resource's other tags)."""
    from cost_janitor.adapters.tagging import ResourceTags

    ResourceTags(client("resourcegroupstaggingapi", finding.region)).add(finding.resource_arn, tags)
    ctx.state.record_answer(finding.resource_id, answer="tagged", actor=user, at=ctx.now,
                            detail=", ".join(f"{k}={v}" for k, v in sorted(tags.items())))
    return f":label: Tagged by <@{user}>: " + ", ".join(f"`{k}={v}`" for k, v in sorted(tags.items()))


def _reassign(ctx: Ctx, finding: Finding, *, user: str, new_owner: str) -> str:
    ctx.tags.write(finding.resource_id, {ctx.policy.tagging.owner_tag: new_owner})
    ctx.state.record_answer(finding.resource_id, answer="reassigned", actor=user, at=ctx.now,
                            detail=f"owner {finding.owner} → {new_owner}")
    moved = finding.model_copy(update={"owner": new_owner})
    from cost_janitor.adapters.slack_state import MessageState

    channel, ts = ctx.slack.post(new_owner, render([moved], docs_url=ctx.policy.slack.gpu_agent_docs_url,
                                                   title=f"cost-janitor: <@{user}> says this is yours"))
    ctx.state.save_message(MessageState(channel=channel, ts=ts, run_id=finding.run_id, recipient=new_owner,
                                        findings=[moved]))
    return f":arrow_right: Reassigned to <@{new_owner}> by <@{user}>."


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
