"""Domain errors: every error cost-janitor raises on purpose subclasses JanitorError. Callers branch on the class,
never on the message."""

from __future__ import annotations


class JanitorError(Exception):
    """Base of every error cost-janitor raises on purpose."""


class ConfigError(JanitorError):
    """Wiring or policy is wrong: systemic, fails the run loudly (DLQ + alarm)."""


class PermissionMissing(ConfigError):
    """AWS refused a call for want of permission: the role and the code disagree. Systemic (every night would fail
    the same way), so it is raised, never swallowed as a per-resource failure."""


# The error codes AWS answers a refused call with (EC2's UnauthorizedOperation, most JSON APIs'
# AccessDeniedException, SNS's AuthorizationError, S3/STS/SQS's AccessDenied, UnauthorizedAccess).
AUTHORIZATION_ERRORS = frozenset({"UnauthorizedOperation", "AccessDenied", "AccessDeniedException",
                                  "AuthorizationError", "UnauthorizedAccess"})


class BadEventError(JanitorError):
    """An inbound event that does not match its model: logged with the reason, not retried."""


class AwsSetupError(JanitorError):
    """The CLI's AWS setup cannot work (no region, no or expired credentials, access denied): one line says what is
    missing and how to provide it."""


class RestoreRefused(JanitorError):
    """An endpoint that cannot be restored: never deleted by the janitor, already back, or its record incomplete."""
