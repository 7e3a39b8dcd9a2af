"""The Slack endpoint's choices, within Slack's 3 seconds: an unreadable payload is refused; Keep, Not mine and Fix
tags open their modal (built from what the button carries: no policy, no ledger); any other click and every good
form is handed to the answers queue; a form with bad inputs is answered with its errors, beside its fields. Who may
answer, and what the answer does, is the answers capability's, later."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from cost_janitor.adapters import queues
from cost_janitor.adapters.clients import client
from cost_janitor.adapters.slack import SLACK_API, SlackGateway, SlackSecrets, error_code
from cost_janitor.core.answers import read_submission
from cost_janitor.core.policy import ExemptionPolicy, TaggingPolicy
from cost_janitor.events import SlackAction, SlackBlockActions, SlackInteraction
from cost_janitor.observability import logger
from cost_janitor.settings import Settings
from cost_janitor.slack_blocks import fix_tags_modal, keep_modal, reassign_modal


@dataclass(frozen=True)
class Reply:
    """What the endpoint answers Slack."""

    status: int
    body: str = ""
    content_type: str = "application/json"


def run(body: str, settings: Settings, secrets: SlackSecrets) -> Reply:
    """One signed request (the handler verified it): the choice, made and carried out."""
    form = parse_qs(body)
    try:
        raw = json.loads(form["payload"][0])
        interaction = SlackInteraction.model_validate(raw).root
    except (KeyError, ValueError, ValidationError) as exc:
        logger.warning("unexpected slack payload", extra={"error": type(exc).__name__})
        return Reply(400, "unsupported payload", "text/plain")
    if isinstance(interaction, SlackBlockActions):
        action = interaction.actions[0]
        view = modal(action, interaction)
        if view is not None:
            _open(settings, secrets, interaction.trigger_id, view)
        elif action.value is not None:  # a link button carries no value and needs no answer
            hand_off(settings, raw)
        return Reply(200)
    submitted = read_submission(interaction.view.callback_id, interaction.view.state)
    if isinstance(submitted, dict):  # the form's own errors, shown beside its fields
        return Reply(200, json.dumps({"response_action": "errors", "errors": submitted}))
    hand_off(settings, raw)
    return Reply(200, json.dumps({"response_action": "clear"}))


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


def _open(settings: Settings, secrets: SlackSecrets, trigger_id: str, view: dict[str, Any]) -> None:
    """views.open; the trigger expires 3 s after the click, so a failure is logged, not retried."""
    slack = SlackGateway(secrets.bot_token, base_url=settings.slack_api_url or SLACK_API, max_rate_limit_retries=0)
    try:
        slack.open_view(trigger_id, view)
    except Exception as exc:
        logger.warning("modal not opened", extra={"error": error_code(exc)})


def hand_off(settings: Settings, payload: dict[str, Any]) -> None:
    """The answer goes to the answers queue (retried, then parked in the DLQ); the answers Lambda does the rest."""
    queues.send(client("sqs", settings.region), str(settings.answers_queue_url), json.dumps(payload))
