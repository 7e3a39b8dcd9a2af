"""Wiring config from env vars: one frozen, typed settings class per capability's Lambda, which fails fast naming
each missing variable. `Settings` itself (every field optional) is what the CLI and the demo build: they run
with whatever wiring they have. An infra test checks each construct wires exactly what its class requires."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Self

from cost_janitor.core.errors import ConfigError

_ENV = {
    "region": "AWS_REGION",
    "findings_topic_arn": "FINDINGS_TOPIC_ARN",
    "ledger_table": "LEDGER_TABLE",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "policy_parameter": "POLICY_PARAMETER",
    "slack_secret_arn": "SLACK_SECRET_ARN",
    "slack_api_url": "SLACK_API_URL",
    "answers_queue_url": "ANSWERS_QUEUE_URL",
    "dashboard_name": "DASHBOARD_NAME",
    # organization mode (see README "Many accounts"): a member's findings bus and hub outbox; the hub's members
    "findings_bus_name": "FINDINGS_BUS_NAME",
    "hub_outbox_queue_url": "HUB_OUTBOX_QUEUE_URL",
    "member_accounts": "MEMBER_ACCOUNTS",
    "member_role_name": "MEMBER_ROLE_NAME",
}


def env_of(**values: str) -> dict[str, str]:
    """The environment variables that carry these settings fields (what a deployment sets; the emulator's deploy
    uses it, so the names are written once, here)."""
    return {_ENV[field]: value for field, value in values.items()}


LAMBDA_SETS = ("AWS_REGION",)  # the runtime sets these; the stack never wires them
# organization mode: optional, wired only in hub and member stacks (the stack says which service gets which)
ORGANIZATION_VARS = {"FINDINGS_BUS_NAME", "HUB_OUTBOX_QUEUE_URL", "MEMBER_ACCOUNTS", "MEMBER_ROLE_NAME"}


@dataclass(frozen=True, kw_only=True)
class Settings:
    region: str
    findings_topic_arn: str | None = None
    ledger_table: str | None = None
    idempotency_table: str | None = None
    policy_parameter: str | None = None
    slack_secret_arn: str | None = None
    slack_api_url: str | None = None  # tests and the demo point slack-sdk at the local stand-in
    answers_queue_url: str | None = None
    dashboard_name: str | None = None  # the stack's CloudWatch dashboard: the digest links it
    findings_bus_name: str | None = None  # member: findings go on this bus (→ the hub), not on the topic
    hub_outbox_queue_url: str | None = None  # member: what the hub refused (the forwarding rule's DLQ)
    member_accounts: str | None = None  # hub: comma-separated member account ids it answers for
    member_role_name: str | None = None  # hub: the narrow role it assumes in a member to carry out an answer
    dry_run_override: bool | None = None

    @classmethod
    def from_env(cls, require: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Self:
        """Read every variable; raise ConfigError naming each one this class (or `require`) needs that is missing
        or empty."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {f: (source.get(var) or None) for f, var in _ENV.items()}
        values["region"] = values["region"] or source.get("AWS_DEFAULT_REGION")
        needed = [f.name for f in fields(cls) if f.name in _ENV and f.default is MISSING]
        missing = [_ENV[f] for f in dict.fromkeys([*needed, *require]) if not values.get(f)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        override = source.get("COST_JANITOR_DRY_RUN")
        dry = None
        if override:
            if override.lower() not in ("true", "false"):
                raise ConfigError(f"COST_JANITOR_DRY_RUN must be 'true' or 'false', not {override!r}")
            dry = override.lower() == "true"
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in _ENV}, dry_run_override=dry)

    @classmethod
    def wired(cls) -> set[str]:
        """The variables the stack must set for this Lambda: its required fields, less what Lambda itself sets."""
        return {_ENV[f.name] for f in fields(cls) if f.name in _ENV and f.default is MISSING} - set(LAMBDA_SETS)

    def dry_run(self, policy: Any) -> bool:
        """The policy's dry_run, unless COST_JANITOR_DRY_RUN overrides it (the CLI sets it from --apply)."""
        return bool(policy.dry_run) if self.dry_run_override is None else self.dry_run_override

    def members(self) -> set[str]:
        """The member accounts a hub answers for (none: a single-account stack)."""
        return {a.strip() for a in (self.member_accounts or "").split(",") if a.strip()}

    def require(self, *names: str) -> None:
        missing = [_ENV[n] for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")


@dataclass(frozen=True, kw_only=True)
class PublishingSettings(Settings):
    """A capability that acts on resources: it reads the policy, runs once per event, records and publishes."""

    findings_topic_arn: str = field()
    ledger_table: str = field()
    idempotency_table: str = field()
    policy_parameter: str = field()


@dataclass(frozen=True, kw_only=True)
class SweepSettings(PublishingSettings):
    """idle_sweep"""


@dataclass(frozen=True, kw_only=True)
class StorageSettings(PublishingSettings):
    """storage_lifecycle"""


@dataclass(frozen=True, kw_only=True)
class TagComplianceSettings(PublishingSettings):
    """tag_compliance"""


@dataclass(frozen=True, kw_only=True)
class SpotSettings(PublishingSettings):
    """spot_interruption"""


@dataclass(frozen=True, kw_only=True)
class DigestSettings(PublishingSettings):
    """report: the digest, and the end of a stopped box's savings clock."""

    slack_secret_arn: str = field()
    dashboard_name: str = field()


@dataclass(frozen=True, kw_only=True)
class NotifierSettings(Settings):
    """notifier: findings from the queue to Slack."""

    ledger_table: str = field()
    policy_parameter: str = field()
    slack_secret_arn: str = field()


@dataclass(frozen=True, kw_only=True)
class SlackInteractivitySettings(Settings):
    """slack_interactivity: the public endpoint needs only the Slack secret and the answers queue."""

    slack_secret_arn: str = field()
    answers_queue_url: str = field()


@dataclass(frozen=True, kw_only=True)
class AnswersSettings(Settings):
    """answers: the owner's answers from the queue, carried out."""

    ledger_table: str = field()
    idempotency_table: str = field()
    policy_parameter: str = field()
    slack_secret_arn: str = field()


# POWERTOOLS_SERVICE_NAME → the settings its Lambda declares (the infra test wires against this)
BY_SERVICE: dict[str, type[Settings]] = {
    "idle-sweep": SweepSettings, "storage-lifecycle": StorageSettings, "tag-compliance": TagComplianceSettings,
    "spot-interruption": SpotSettings, "report": DigestSettings, "notifier": NotifierSettings,
    "slack-interactivity": SlackInteractivitySettings, "answers": AnswersSettings,
}


def env_var(field_name: str) -> str:
    """The environment variable behind a Settings field (the construct uses it to wire the Lambda)."""
    return _ENV[field_name]
