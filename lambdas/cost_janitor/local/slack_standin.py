"""A local stand-in for Slack's Web API (the few methods cost-janitor uses), for tests and the demo.

An HTTP server on loopback: records every call, answers like Slack, and can be told to answer 429 (with
Retry-After), 500 or any other status for the next calls (of one method, or of any), or to answer a method
slowly. Also accepts response_url posts.
Not part of the Lambda asset.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from cost_janitor.local.token_bucket import TokenBucket


@dataclass
class Call:
    method: str
    args: dict[str, Any]


# What Slack refuses in a message (chat.postMessage / chat.update reference pages): more than 50 blocks, a section's
# text over 3,000 characters (Block Kit's section block), a header over 150 → invalid_blocks; text over 40,000
# characters → msg_too_long.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_TEXT = 40_000


# Slack's rate limits, per method per app per workspace (docs.slack.dev "Rate limits": Tier 2 "20+ per minute", Tier 3
# "50+ per minute", Tier 4 "100+ per minute"), each method's tier from its reference page: users.lookupByEmail Tier 3,
# users.list Tier 2, chat.update Tier 3, views.open Tier 4; chat.postMessage is special, "1 per second" per channel,
# "short bursts >1 allowed" (the burst size is not published: 3 here). method → (per minute, burst, counted per
# channel). A tier's floor is enforced (its "+" is not published) with a minute's worth as the burst.
# chat.postMessage's workspace-wide limit is not published and not enforced.
RATE_LIMITS: dict[str, tuple[float, float, bool]] = {
    "users.lookupByEmail": (50.0, 50.0, False),
    "users.list": (20.0, 20.0, False),
    "chat.update": (50.0, 50.0, False),
    "views.open": (100.0, 100.0, False),
    "chat.postMessage": (60.0, 3.0, True),
}
MAX_VIEW_BYTES = 250_000  # views.open: "view_too_large - Error returned if the provided view is greater than 250kb"


class TokenBuckets:
    """One bucket per (method[, channel]); `scale` stand-in seconds per real second (30: a minute in 2 s)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, method: str, channel: str) -> float:
        """0 when the call may go; else the real seconds until it may (the 429's Retry-After, rounded up)."""
        per_minute, burst, per_channel = RATE_LIMITS[method]
        bucket = self._buckets.setdefault((method, channel if per_channel else ""),
                                          TokenBucket(per_minute / 60, burst))
        return bucket.take(time.monotonic() * self.scale) / self.scale


def message_problem(args: dict[str, Any]) -> str | None:
    """Slack's error for a message it would refuse, or None."""
    if len(str(args.get("text") or "")) > MAX_TEXT:
        return "msg_too_long"
    blocks = args.get("blocks") or []
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for b in blocks:
        text = (b.get("text") or {}).get("text", "") if isinstance(b.get("text"), dict) else ""
        if b.get("type") == "section" and len(text) > MAX_SECTION_TEXT:
            return "invalid_blocks"
        if b.get("type") == "header" and len(text) > MAX_HEADER_TEXT:
            return "invalid_blocks"
        if b.get("type") == "context" and any(len(e.get("text", "")) > MAX_SECTION_TEXT for e in b.get("elements", [])):
            return "invalid_blocks"
    return None


@dataclass
class SlackStandIn:
    users: dict[str, str] = field(default_factory=dict)  # email → user id
    calls: list[Call] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # HTTP statuses for the next calls (429, 500, ...)
    fail_method: dict[str, list[int]] = field(default_factory=dict)  # method → statuses for its next calls
    retry_after: int = 1
    delays: dict[str, float] = field(default_factory=dict)  # method → seconds to wait before answering it
    arrived: list[str] = field(default_factory=list)  # methods as requests arrive (before any delay)
    rate_limited: bool = True  # enforce RATE_LIMITS (429 + Retry-After), as Slack does
    time_scale: float = 1.0  # stand-in seconds per real second for the rate limits (tests compress minutes)
    throttled: Counter[str] = field(default_factory=Counter)  # 429s answered, by method

    def __post_init__(self) -> None:
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._buckets = TokenBuckets(self.time_scale)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    super().handle()

            def do_GET(self) -> None:  # users.list: slack-sdk sends its arguments in the query string
                self._serve({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    args = json.loads(raw or "{}")
                else:
                    args = {k: v[0] for k, v in parse_qs(raw).items()}
                self._serve(args)

            def _serve(self, args: dict[str, Any]) -> None:
                path = urlparse(self.path).path
                standin.arrived.append(path.rsplit("/", 1)[-1])
                time.sleep(standin.delays.get(path.rsplit("/", 1)[-1], 0.0))
                status, body, headers = standin._answer(path, args)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                payload = json.dumps(body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.url}/api/"

    def stop(self) -> None:
        self._server.shutdown()

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    def _answer(self, path: str, args: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            method = path.rsplit("/", 1)[-1] if path.startswith("/api/") else "response_url"
            for key in ("blocks", "view"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
            if self.rate_limited and method in RATE_LIMITS and (
                    wait := self._buckets.take(method, str(args.get("channel", "")))):
                self.throttled[method] += 1  # refused before it counts: `calls` holds what Slack accepted to handle
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(max(1, math.ceil(wait)))}
            self.calls.append(Call(method, args))
            queued = self.fail_method.get(method) or self.fail_next
            if queued:
                status = queued.pop(0)
                if status == 429:
                    return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(self.retry_after)}
                return status, {"ok": False, "error": "internal_error"}, {}
            if method == "users.lookupByEmail":
                user = self.users.get(str(args.get("email", "")).lower())
                if not user:
                    return 200, {"ok": False, "error": "users_not_found"}, {}
                return 200, {"ok": True, "user": {"id": user, "profile": {"email": args["email"]}}}, {}
            if method == "users.list":  # cursor-paged, deleted members included, as its reference page says
                members = [{"id": u, "deleted": False, "profile": {"email": e}} for e, u in sorted(self.users.items())]
                start, size = int(args.get("cursor") or 0), int(args.get("limit") or len(members) or 1)
                following = str(start + size) if start + size < len(members) else ""
                return 200, {"ok": True, "members": members[start:start + size],
                             "response_metadata": {"next_cursor": following}}, {}
            if method == "users.info":
                emails = {u: e for e, u in self.users.items()}
                user = str(args.get("user", ""))
                if user not in emails:
                    return 200, {"ok": False, "error": "user_not_found"}, {}
                return 200, {"ok": True, "user": {"id": user, "profile": {"email": emails[user]}}}, {}
            if method == "views.open" and len(json.dumps(args.get("view") or {})) > MAX_VIEW_BYTES:
                return 200, {"ok": False, "error": "view_too_large"}, {}
            if method in ("chat.postMessage", "chat.update") and (problem := message_problem(args)):
                return 200, {"ok": False, "error": problem}, {}
            if method == "chat.postMessage":
                channel = str(args.get("channel"))
                channel = "D" + channel[1:] if channel.startswith("U") else channel  # a DM with the app
                return 200, {"ok": True, "channel": channel, "ts": f"1764300000.{next(self._ts):06d}"}, {}
            if method in ("chat.update", "views.open", "chat.postEphemeral", "response_url"):
                return 200, {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}, {}
            return 200, {"ok": False, "error": "unknown_method"}, {}

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @staticmethod
    def sign(body: str, secret: str, timestamp: str | None = None) -> dict[str, str]:
        """The headers Slack sends with a request: v0 HMAC-SHA256 of 'v0:{timestamp}:{body}'."""
        import hashlib
        import hmac
        import time

        ts = timestamp or str(int(time.time()))
        digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}

    @staticmethod
    def function_url_event(payload: dict[str, Any], secret: str, path: str = "/slack/actions") -> dict[str, Any]:
        """What a Lambda Function URL hands the handler when Slack posts an interaction (base64 form body)."""
        import base64
        from urllib.parse import quote

        body = "payload=" + quote(json.dumps(payload))
        return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
                "headers": {"content-type": "application/x-www-form-urlencoded", **SlackStandIn.sign(body, secret)},
                "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                            "sourceIp": "127.0.0.1", "userAgent": "Slackbot 1.0"},
                                   "requestId": "local", "routeKey": "$default", "stage": "$default"},
                "body": base64.b64encode(body.encode()).decode(), "isBase64Encoded": True}

    @staticmethod
    def block_kit_builder_link(blocks: list[dict[str, Any]]) -> str:
        """A link that previews the blocks in Slack's Block Kit Builder."""
        from urllib.parse import quote

        return "https://app.slack.com/block-kit-builder#" + quote(json.dumps({"blocks": blocks}))
