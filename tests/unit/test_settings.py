"""Wiring config fails fast, naming the variable."""

from __future__ import annotations

import pytest

from cost_janitor.core.errors import ConfigError
from cost_janitor.settings import Settings


def test_missing_required_variables_are_named() -> None:
    with pytest.raises(ConfigError, match="FINDINGS_TOPIC_ARN, LEDGER_TABLE"):
        Settings.from_env(require=("findings_topic_arn", "ledger_table"), env={"AWS_REGION": "us-east-1"})


def test_region_is_always_required() -> None:
    with pytest.raises(ConfigError, match="AWS_REGION"):
        Settings.from_env(env={})


@pytest.mark.parametrize("value, expected", [("true", True), ("FALSE", False), (None, None)])
def test_dry_run_override(value: str | None, expected: bool | None) -> None:
    env = {"AWS_REGION": "eu-west-1", **({"COST_JANITOR_DRY_RUN": value} if value else {})}
    assert Settings.from_env(env=env).dry_run_override is expected


def test_dry_run_override_rejects_anything_but_true_or_false() -> None:
    with pytest.raises(ConfigError, match="COST_JANITOR_DRY_RUN"):
        Settings.from_env(env={"AWS_REGION": "eu-west-1", "COST_JANITOR_DRY_RUN": "yes please"})
