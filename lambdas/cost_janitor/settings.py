"""Wiring config from env vars: one frozen object per Lambda that fails fast naming the missing variable."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from cost_janitor.errors import ConfigError

_ENV = {
    "region": "AWS_REGION",
    "findings_topic_arn": "FINDINGS_TOPIC_ARN",
    "ledger_table": "LEDGER_TABLE",
    "idempotency_table": "IDEMPOTENCY_TABLE",
    "policy_parameter": "POLICY_PARAMETER",
    "slack_secret_arn": "SLACK_SECRET_ARN",
    "slack_api_url": "SLACK_API_URL",
    "answers_queue_url": "ANSWERS_QUEUE_URL",
}


@dataclass(frozen=True)
class Settings:
    region: str
    findings_topic_arn: str | None = None
    ledger_table: str | None = None
    idempotency_table: str | None = None
    policy_parameter: str | None = None
    slack_secret_arn: str | None = None
    slack_api_url: str | None = None
    answers_queue_url: str | None = None
    dry_run_override: bool | None = None

    @classmethod
    def from_env(cls, require: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Settings:
        """Read every variable; raise ConfigError naming each required one that is missing or empty."""
        source = os.environ if env is None else env
        values: dict[str, str | None] = {f: (source.get(var) or None) for f, var in _ENV.items()}
        values["region"] = values["region"] or source.get("AWS_DEFAULT_REGION")
        missing = [_ENV[f] for f in ("region", *require) if not values.get(f)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")
        override = source.get("COST_JANITOR_DRY_RUN")
        dry = None
        if override:
            if override.lower() not in ("true", "false"):
                raise ConfigError(f"COST_JANITOR_DRY_RUN must be 'true' or 'false', not {override!r}")
            dry = override.lower() == "true"
        kwargs = {f.name: values.get(f.name) for f in fields(cls) if f.name in _ENV}
        return cls(**kwargs, dry_run_override=dry)  # type: ignore[arg-type]

    def dry_run(self, policy: Any) -> bool:
        """The policy's dry_run, unless COST_JANITOR_DRY_RUN overrides it (the CLI sets it from --apply)."""
        return bool(policy.dry_run) if self.dry_run_override is None else self.dry_run_override

    def require(self, *names: str) -> None:
        missing = [_ENV[n] for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(f"missing environment variable(s): {', '.join(missing)}")


def env_var(field: str) -> str:
    """The environment variable behind a Settings field (the construct uses it to wire the Lambda)."""
    return _ENV[field]
