"""Shared fixtures: sample events, the local AWS (a real moto server over HTTP) and the janitor's resources."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from cost_janitor.adapters import clients
from cost_janitor.core.policy import Policy
from cost_janitor.local import iam_guard
from cost_janitor.local.emulator import FAKE_ACCOUNT, LocalAws, deploy_janitor_resources, start_moto
from tests import iam_roles

# Property tests draw the same examples on every `make test` (CI must not go red on a new random draw);
# `HYPOTHESIS_PROFILE=explore make test` draws new ones each run — do that when changing a parser.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from events/ — the contract shared by tests, the CLI and the demo."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """One moto server per test session, on a free loopback port; every call a handler makes is held to its role."""
    iam_guard.install(FAKE_ACCOUNT, iam_roles.synthesize)
    aws = start_moto()
    yield aws
    aws.stop()


@pytest.fixture
def aws(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalAws]:
    """A clean emulator for each test, with boto3 (and the janitor's cached clients) pointed at it. A call a handler
    made that its synthesized role does not allow fails the test, even if the code swallowed the AccessDenied."""
    local_aws.reset()
    local_aws.throttle(False, services=("ec2", "cloudwatch"))  # a throttling test turns it on for itself
    guard = iam_guard.current()
    assert guard is not None
    guard.reset()
    for key, value in local_aws.env.items():
        monkeypatch.setenv(key, value)
    for key in ("FINDINGS_TOPIC_ARN", "LEDGER_TABLE", "IDEMPOTENCY_TABLE", "POLICY_PARAMETER", "SLACK_SECRET_ARN",
                "DLQ_URL", "DASHBOARD_NAME", "COST_JANITOR_DRY_RUN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    clients.reset()
    yield local_aws
    clients.reset()
    refused = [str(r) for r in guard.refusals]
    guard.reset()
    assert not refused, f"calls the synthesized roles do not allow (AccessDenied on AWS): {refused}"


@pytest.fixture
def janitor(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Deploys the janitor's own resources into the emulator (as the stack would) and sets the Lambda env."""

    def deploy(policy: Policy | None = None) -> dict[str, str]:
        env = deploy_janitor_resources(aws, policy or Policy())
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return env

    return deploy
