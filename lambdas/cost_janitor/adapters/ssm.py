"""Policy at run time: the SSM parameter the stack deploys, read through Powertools Parameters (cached)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from cost_janitor.core.errors import ConfigError
from cost_janitor.core.policy import Policy, PolicyError, load_policy

POLICY_CACHE_SECONDS = 300


class PolicyStore:
    def __init__(self, client: Any) -> None:
        self._provider = SSMProvider(boto3_client=client)

    def load(self, name: str) -> Policy:
        """The deployed policy; a parameter that is missing or invalid is a ConfigError naming it."""
        try:
            raw = self._provider.get(name, transform="json", max_age=POLICY_CACHE_SECONDS)
        except Exception as exc:  # Powertools wraps every SDK and transform error in its own types
            raise ConfigError(f"cannot read policy parameter {name}: {exc}") from exc
        try:
            return load_policy(raw)
        except PolicyError as exc:
            raise ConfigError(f"policy parameter {name} is invalid: {exc}") from exc
