"""Slack Web API through slack-sdk: credentials from Secrets Manager, 429s honoured, lookups cached."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from cost_janitor.core.errors import ConfigError
from cost_janitor.core.notify import Recipient
from cost_janitor.observability import METRIC_SLACK_REPLY_FAILURES, logger, metrics

SLACK_API = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str
    signing_secret: str

    def __repr__(self) -> str:  # never in logs
        return "SlackSecrets(***)"


SECRET_CACHE_SECONDS = 300


@lru_cache(maxsize=4)
def _secrets_provider(secretsmanager: Any) -> Any:
    """One provider per client, so Powertools' cache survives across warm invocations (a provider made per call
    starts with an empty cache: one GetSecretValue per Slack click)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=secretsmanager)


def load_secrets(secretsmanager: Any, secret_id: str) -> SlackSecrets:
    """The Slack app's credentials (cached for SECRET_CACHE_SECONDS); a missing or half-filled secret is a
    ConfigError naming the key."""
    try:
        data = _secrets_provider(secretsmanager).get(secret_id, transform="json", max_age=SECRET_CACHE_SECONDS)
    except Exception as exc:  # Powertools wraps SDK and decode errors alike
        raise ConfigError(f"cannot read Slack secret {secret_id}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Slack secret {secret_id} is not a JSON object with bot_token and signing_secret")
    missing = [k for k in ("bot_token", "signing_secret") if not data.get(k) or data.get(k) == "set-me"]
    if missing:
        raise ConfigError(f"Slack secret {secret_id} has no {', '.join(missing)}: fill it in after deploy")
    return SlackSecrets(bot_token=data["bot_token"], signing_secret=data["signing_secret"])


class UserDirectory(Protocol):
    """Where email → Slack user lookups are kept across runs (adapters.ledger.SlackState)."""

    def slack_user(self, email: str, *, now: datetime) -> tuple[bool, str | None]: ...

    def save_slack_user(self, email: str, user: str | None, *, now: datetime) -> None: ...

    def save_slack_users(self, users: dict[str, str], *, now: datetime) -> None: ...


LOOKUPS_A_MINUTE = 50  # users.lookupByEmail: Tier 3, "50+ per minute" (its reference page)
USERS_PAGE = 200  # users.list's `limit`: members a page (Slack's pagination guide suggests pages of at most 200)


class SlackGateway:
    def __init__(self, token: str, *, base_url: str = SLACK_API, max_rate_limit_retries: int = 3,
                 directory: UserDirectory | None = None) -> None:
        self._rate_limit_retries = max_rate_limit_retries
        self._directory = directory
        self._client = WebClient(token=token, base_url=base_url, timeout=5,
                                 retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=max_rate_limit_retries)])
        self._users: dict[str, str | None] = {}
        self._unlisted: set[str] = set()  # emails prime() found absent from the directory: not read there again
        self.calls: dict[str, int] = {}
        self._counting = threading.Lock()  # the notifier writes to several recipients at once

    def _count(self, method: str) -> None:
        with self._counting:
            self.calls[method] = self.calls.get(method, 0) + 1

    def _call(self, method: str, **kwargs: Any) -> Any:
        self._count(method)
        return getattr(self._client, method)(**kwargs)

    def prime(self, emails: Iterable[str], *, short: Callable[[], bool] | None = None) -> int:
        """Before many lookups: when more of `emails` are unknown (to this gateway and its directory) than a minute of
        users.lookupByEmail allows (Tier 3, 50 a minute), walk users.list (Tier 2, 20 pages a minute, 200 members a
        page: a workspace of 4,000 people in a minute, where 800 lookups take 16) and keep every member's email in
        the directory, so the night's later batches find their owners there and do not walk it again. Stops when
        `short()` says time is short; an email the list does not show is left to users.lookupByEmail. How many of
        `emails` were found."""
        now = datetime.now(UTC)
        unknown: dict[str, str] = {}
        for email in set(emails) - set(self._users):
            known, user = self._directory.slack_user(email, now=now) if self._directory else (False, None)
            if known:
                self._users[email] = user
            else:
                unknown[email.lower()] = email
                self._unlisted.add(email)
        if len(unknown) <= LOOKUPS_A_MINUTE:
            return 0
        found, cursor = 0, None
        while short is None or not short():
            page = self._call("users_list", limit=USERS_PAGE, **({"cursor": cursor} if cursor else {}))
            members = {str((m.get("profile") or {}).get("email") or "").lower(): str(m["id"])
                       for m in page.get("members") or [] if not m.get("deleted")}
            members.pop("", None)
            for email in set(members) & set(unknown):
                self._users[unknown[email]] = members[email]
                found += 1
            if self._directory is not None and members:
                self._directory.save_slack_users(members, now=now)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return found

    def user_for_email(self, email: str) -> str | None:
        """The Slack user id for an email (cached, misses too: in this gateway, and across runs in the directory
        when it has one); None when Slack does not know it."""
        if email in self._users:
            return self._users[email]
        now = datetime.now(UTC)
        if self._directory is not None and email not in self._unlisted:
            known, user = self._directory.slack_user(email, now=now)
            if known:
                self._users[email] = user
                return user
        try:
            self._users[email] = self._call("users_lookupByEmail", email=email)["user"]["id"]
        except SlackApiError as exc:
            if exc.response.get("error") != "users_not_found":
                raise
            self._users[email] = None
        if self._directory is not None:
            self._directory.save_slack_user(email, self._users[email], now=now)
        return self._users[email]

    def email_for_user(self, user_id: str) -> str | None:
        """The email on a Slack user's profile (what the owner tag holds, and the owner lookup reads); None when the
        profile shows none."""
        try:
            profile = self._call("users_info", user=user_id)["user"].get("profile") or {}
        except SlackApiError as exc:
            if exc.response.get("error") != "user_not_found":
                raise
            return None
        email = profile.get("email")
        return str(email).lower() if email else None

    def channel_for(self, recipient: Recipient, fallback: str) -> tuple[str, Recipient]:
        """Where to post: the person's id, or the fallback channel when their email is unknown to Slack."""
        if recipient.kind == "email":
            user = self.user_for_email(recipient.address)
            return (user, recipient) if user else (fallback, Recipient("channel", fallback))
        return recipient.address, recipient

    def post(self, channel: str, message: dict[str, Any], *, thread_ts: str | None = None) -> tuple[str, str]:
        """A message, or a reply in the thread of `thread_ts`; (channel, ts) of what was posted."""
        response = self._call("chat_postMessage", channel=channel, text=message["text"], blocks=message["blocks"],
                              unfurl_links=False, **({"thread_ts": thread_ts} if thread_ts else {}))
        return response["channel"], response["ts"]

    def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        self._call("chat_update", channel=channel, ts=ts, text=message["text"], blocks=message["blocks"])

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        self._call("views_open", trigger_id=trigger_id, view=view)

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self._call("chat_postEphemeral", channel=channel, user=user, text=text)

    def respond_ephemeral(self, response_url: str, text: str) -> bool:
        """A reply only the clicker sees; the original message stays as it is."""
        return self._reply(response_url, text=text, response_type="ephemeral", replace_original=False)

    def respond(self, response_url: str, message: dict[str, Any]) -> bool:
        """Replace the original message through its response_url (Slack's in-place update for block actions)."""
        return self._reply(response_url, text=message["text"], blocks=message["blocks"], replace_original=True)

    def _reply(self, response_url: str, **kwargs: Any) -> bool:
        """A reply that does not arrive is logged with its HTTP status and counted, not raised: the answer itself
        is already done and recorded. A 429 is retried after Retry-After (slack-sdk's handler), once or twice."""
        from slack_sdk.webhook import WebhookClient

        self._count("response_url")
        try:
            response = WebhookClient(response_url, timeout=5, retry_handlers=[RateLimitErrorRetryHandler(
                max_retry_count=self._rate_limit_retries)]).send(**kwargs)
        except Exception as exc:
            status, error = None, type(exc).__name__
        else:
            if response.status_code < 400:
                return True
            status, error = response.status_code, str(response.body)[:200]
        logger.warning("slack reply not delivered", extra={"status": status, "error": error})
        metrics.add_metric(name=METRIC_SLACK_REPLY_FAILURES, unit=MetricUnit.Count, value=1)
        return False


def error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__
