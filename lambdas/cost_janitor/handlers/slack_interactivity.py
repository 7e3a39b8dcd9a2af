"""Slack's interactivity URL (Function URL, auth NONE): verify the signature, then answer within Slack's 3 seconds.
Keep / Not mine / Fix tags open their modal (from what the button carries) and nothing else happens; every other
click and every submitted form is handed to the answers queue, where the answers Lambda authorises and acts.
Before the 200 the only AWS call is the (cached) Slack secret and the hand-off; the only Slack call is views.open."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from cost_janitor.adapters import queues
from cost_janitor.adapters.clients import client
from cost_janitor.adapters.slack import SLACK_API, SlackGateway, SlackSecrets, error_code, load_secrets
from cost_janitor.core.answers import read_submission
from cost_janitor.core.policy import ExemptionPolicy, TaggingPolicy
from cost_janitor.events import SlackAction, SlackBlockActions, SlackInteraction
from cost_janitor.observability import logger, metrics, tracer
from cost_janitor.settings import Settings
from cost_janitor.slack_blocks import fix_tags_modal, keep_modal, reassign_modal

REQUIRED = ("slack_secret_arn", "answers_queue_url")
MAX_BODY_BYTES = 64 * 1024
app = LambdaFunctionUrlResolver()


@dataclass(frozen=True)
class Edge:
    """What the endpoint needs before it answers: its wiring and the Slack app's credentials (cached)."""

    settings: Settings
    secrets: SlackSecrets

    @classmethod
    def load(cls) -> Edge:
        settings = Settings.from_env(require=REQUIRED)
        return cls(settings, load_secrets(client("secretsmanager", settings.region), str(settings.slack_secret_arn)))


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
        edge = Edge.load()
        app.append_context(edge=edge)  # type: ignore[no-untyped-call]
        problem, status = signature_problem(edge.secrets.signing_secret, body, dict(event.headers or {})), 401
    if problem:
        logger.warning("slack request rejected", extra={"reason": problem, "path": event.path})
        return Response(status_code=status, content_type="text/plain", body="rejected")
    return next_middleware(app)


app.use(middlewares=[verified])


@app.post("/slack/actions")
def slack_actions() -> Response[str]:
    edge: Edge = app.context["edge"]
    form = parse_qs(app.current_event.decoded_body or "")
    try:
        raw = json.loads(form["payload"][0])
        interaction = SlackInteraction.model_validate(raw).root
    except (KeyError, ValueError, ValidationError) as exc:
        logger.warning("unexpected slack payload", extra={"error": type(exc).__name__})
        return Response(status_code=400, content_type="text/plain", body="unsupported payload")
    if isinstance(interaction, SlackBlockActions):
        action = interaction.actions[0]
        view = modal(action, interaction)
        if view is not None:
            _open(edge, interaction.trigger_id, view)
        elif action.value is not None:  # a link button carries no value and needs no answer
            hand_off(edge, raw)
        return Response(status_code=200, content_type="application/json", body="")
    submitted = read_submission(interaction.view.callback_id, interaction.view.state)
    if isinstance(submitted, dict):  # the form's own errors, shown beside its fields
        return Response(status_code=200, content_type="application/json",
                        body=json.dumps({"response_action": "errors", "errors": submitted}))
    hand_off(edge, raw)
    return Response(status_code=200, content_type="application/json", body=json.dumps({"response_action": "clear"}))


def modal(action: SlackAction, click: SlackBlockActions) -> dict[str, Any] | None:
    """The modal a button opens, built from what the button carries (no policy, no ledger): Keep, Not mine and
    Fix tags; None for the buttons that act without a form. Who may answer is checked when the form comes back."""
    value = action.value
    if value is None or action.action_id not in ("keep", "not_mine", "fix_tags"):
        return None
    meta = {"resource": value.resource, "region": value.region, "channel": click.container.channel_id,
            "ts": click.container.message_ts}
    if action.action_id == "keep":
        return keep_modal(resource_id=value.resource, metadata=meta,
                          max_days=value.max_days or ExemptionPolicy().max_keep_days)
    if action.action_id == "not_mine":
        return reassign_modal(resource_id=value.resource, metadata=meta)
    return fix_tags_modal(resource_id=value.resource, keys=value.keys or list(TaggingPolicy().required),
                          allowed=value.allowed, metadata=meta)


def _open(edge: Edge, trigger_id: str, view: dict[str, Any]) -> None:
    """views.open; the trigger expires 3 s after the click, so a failure is logged, not retried."""
    slack = SlackGateway(edge.secrets.bot_token, base_url=edge.settings.slack_api_url or SLACK_API,
                         max_rate_limit_retries=0)
    try:
        slack.open_view(trigger_id, view)
    except Exception as exc:
        logger.warning("modal not opened", extra={"error": error_code(exc)})


def hand_off(edge: Edge, payload: dict[str, Any]) -> None:
    """The answer goes to the answers queue (retried, then parked in the DLQ); the answers Lambda does the rest."""
    queues.send(client("sqs", edge.settings.region), str(edge.settings.answers_queue_url), json.dumps(payload))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
