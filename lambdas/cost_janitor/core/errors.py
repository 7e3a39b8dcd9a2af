"""Domain errors: every error cost-janitor raises on purpose subclasses JanitorError. Callers branch on the class,
never on the message."""

from __future__ import annotations


class JanitorError(Exception):
    """Base of every error cost-janitor raises on purpose."""


class ConfigError(JanitorError):
    """Wiring or policy is wrong: systemic, fails the run loudly (DLQ + alarm)."""


class BadEventError(JanitorError):
    """An inbound event that does not match its model: logged with the reason, not retried."""


class AwsSetupError(JanitorError):
    """The CLI's AWS setup cannot work (no region, no or expired credentials, access denied): one line says what is
    missing and how to provide it."""


class RestoreRefused(JanitorError):
    """An endpoint that cannot be restored: never deleted by the janitor, already back, or its record incomplete."""
