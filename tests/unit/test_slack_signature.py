"""Slack request verification: Slack's documented example, and every way a request can be wrong."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cost_janitor.handlers.slack_interactivity import signature_problem

# From Slack's "Verifying requests from Slack" documentation.
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


class At:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def _headers(ts: str = TIMESTAMP, sig: str = SIGNATURE) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}


def test_slacks_documented_example_verifies() -> None:
    assert signature_problem(SECRET, BODY, _headers(), At(int(TIMESTAMP) + 10)) is None


@pytest.mark.parametrize("body, headers, now, problem", [
    (BODY, _headers(), int(TIMESTAMP) + 301, "outside the 5-minute window"),
    (BODY, _headers(), int(TIMESTAMP) - 301, "outside the 5-minute window"),
    (BODY + "&x=1", _headers(), int(TIMESTAMP), "signature mismatch"),
    (BODY, _headers(sig=SIGNATURE.replace("v0=", "v1=")), int(TIMESTAMP), "signature mismatch"),
    (BODY, _headers(ts="soon"), int(TIMESTAMP), "non-numeric timestamp"),
    (BODY, {"X-Slack-Signature": SIGNATURE}, int(TIMESTAMP), "missing signature headers"),
    (BODY, {}, int(TIMESTAMP), "missing signature headers"),
], ids=["stale", "from-the-future", "tampered-body", "wrong-version-prefix", "non-numeric-timestamp",
        "no-timestamp", "no-headers"])
def test_a_request_that_is_not_slacks_is_refused(body: str, headers: dict[str, str], now: int, problem: str) -> None:
    result = signature_problem(SECRET, body, headers, At(now))
    assert result is not None and problem in result


def test_signing_is_hmac_sha256_of_version_timestamp_and_body() -> None:
    base = f"v0:{TIMESTAMP}:{BODY}".encode()
    assert "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest() == SIGNATURE
