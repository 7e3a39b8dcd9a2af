"""Slack's interactivity URL (Function URL, auth NONE): verify the signature, then answer within Slack's 3 seconds
with what capabilities.slack_interactivity chooses (a modal, the hand-off to the answers queue, the form's errors,
or a refusal). Before the 200 the only AWS call is the (cached) Slack secret and the hand-off; the only Slack call
is views.open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import LambdaFunctionUrlResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.utilities.typing import LambdaContext
from slack_sdk.signature import Clock, SignatureVerifier

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.slack import SlackSecrets, load_secrets
from cost_janitor.capabilities import slack_interactivity
from cost_janitor.observability import logger, metrics, tracer
from cost_janitor.settings import Settings

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
    reply = slack_interactivity.run(app.current_event.decoded_body or "", edge.settings, edge.secrets)
    return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
