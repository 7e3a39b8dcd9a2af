"""Domain errors. Callers branch on the class, never on the message."""

from __future__ import annotations


class JanitorError(Exception):
    """Base of every error cost-janitor raises on purpose."""


class ConfigError(JanitorError):
    """Wiring or policy is wrong: systemic, fails the run loudly (DLQ + alarm)."""


class BadEventError(JanitorError):
    """An inbound event that does not match its model: logged with the reason, not retried."""
