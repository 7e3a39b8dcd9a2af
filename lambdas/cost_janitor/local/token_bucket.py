"""The token bucket the local stand-ins enforce documented rate limits with (Slack's tiers in slack_standin, EC2's
request throttling in emulator/strict) and bench/org_night.py models them with. The clock is the caller's: real
seconds, scaled seconds, or a simulation's."""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate, self.burst, self.tokens = rate_per_s, burst, burst
        self._at: float | None = None

    def take(self, now: float, cost: float = 1.0) -> float:
        """0 and `cost` tokens taken (at most a full bucket's), or the seconds (of the caller's clock) until they are
        there."""
        if self._at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now
        cost = min(cost, self.burst)
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate
