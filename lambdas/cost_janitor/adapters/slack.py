"""Slack Web API through slack-sdk: credentials from Secrets Manager, 429s honoured, lookups cached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from cost_janitor.core.notify import Recipient
from cost_janitor.errors import ConfigError
from cost_janitor.observability import logger

SLACK_API = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str
    signing_secret: str

    def __repr__(self) -> str:  # never in logs
        return "SlackSecrets(***)"


def load_secrets(secretsmanager: Any, secret_id: str) -> SlackSecrets:
    """The Slack app's credentials; a missing or half-filled secret is a ConfigError naming the key."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    try:
        data = SecretsProvider(boto3_client=secretsmanager).get(secret_id, transform="json", max_age=300)
    except Exception as exc:  # Powertools wraps SDK and decode errors alike
        raise ConfigError(f"cannot read Slack secret {secret_id}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Slack secret {secret_id} is not a JSON object with bot_token and signing_secret")
    missing = [k for k in ("bot_token", "signing_secret") if not data.get(k) or data.get(k) == "set-me"]
    if missing:
        raise ConfigError(f"Slack secret {secret_id} has no {', '.join(missing)}: fill it in after deploy")
    return SlackSecrets(bot_token=data["bot_token"], signing_secret=data["signing_secret"])


class SlackGateway:
    def __init__(self, token: str, *, base_url: str = SLACK_API, max_rate_limit_retries: int = 3) -> None:
        self._client = WebClient(token=token, base_url=base_url, timeout=5,
                                 retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries)])
        self._users: dict[str, str | None] = {}
        self.calls: dict[str, int] = {}

    def _call(self, method: str, **kwargs: Any) -> Any:
        self.calls[method] = self.calls.get(method, 0) + 1
        return getattr(self._client, method)(**kwargs)

    def user_for_email(self, email: str) -> str | None:
        """The Slack user id for an email (cached, misses too); None when Slack does not know it."""
        if email not in self._users:
            try:
                self._users[email] = self._call("users_lookupByEmail", email=email)["user"]["id"]
            except SlackApiError as exc:
                if exc.response.get("error") != "users_not_found":
                    raise
                self._users[email] = None
        return self._users[email]

    def channel_for(self, recipient: Recipient, fallback: str) -> tuple[str, Recipient]:
        """Where to post: the person's id, or the fallback channel when their email is unknown to Slack."""
        if recipient.kind == "email":
            user = self.user_for_email(recipient.address)
            return (user, recipient) if user else (fallback, Recipient("channel", fallback))
        return recipient.address, recipient

    def post(self, channel: str, message: dict[str, Any]) -> tuple[str, str]:
        response = self._call("chat_postMessage", channel=channel, text=message["text"], blocks=message["blocks"],
                              unfurl_links=False)
        return response["channel"], response["ts"]

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self._call("chat_update", channel=channel, ts=ts, text=message["text"], blocks=message["blocks"])

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self._call("views_open", trigger_id=trigger_id, view=view)

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat_postEphemeral", channel=channel, user=user, text=text)

    def respond_ephemeral(self, response_url: str, text: str) -> None:
        """A reply only the clicker sees; the original message stays as it is."""
        self._reply(response_url, text=text, response_type="ephemeral", replace_original=False)

    def respond(self, response_url: str, message: dict[str, Any]) -> None:
        """Replace the original message through its response_url (Slack's in-place update for block actions)."""
        self._reply(response_url, text=message["text"], blocks=message["blocks"], replace_original=True)

    def _reply(self, response_url: str, **kwargs: Any) -> None:
        """A reply that does not arrive is logged, not raised: the answer itself is already done and recorded,
        and failing the request would make Slack show the clicker an error for something that worked."""
        from slack_sdk.webhook import WebhookClient

        self.calls["response_url"] = self.calls.get("response_url", 0) + 1
        try:
            WebhookClient(response_url, timeout=5).send(**kwargs)
        except Exception as exc:
            logger.warning("slack reply not delivered", extra={"error": type(exc).__name__})


def error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__
