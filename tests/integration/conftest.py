"""Fixtures the integration tests share: the Slack stand-in, and a team's account on the emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from cost_janitor.local.emulator import LocalAws, subscribe_queue
from cost_janitor.local.slack_standin import SlackStandIn
from tests.integration.fleet import Fleet
from tests.integration.slack_world import ANA, BO, CY, END, POLICY


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackStandIn]:
    """Slack, on loopback: Ana, Bo and Cy are known by email."""
    standin = SlackStandIn(users={"ana@example.com": ANA, "bo@example.com": BO, "cy@example.com": CY})
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    yield standin
    standin.stop()


@pytest.fixture
def team(aws: LocalAws, janitor: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The janitor deployed (not in dry-run) over five boxes of three owners, and a tap on the findings topic."""
    janitor(POLICY)
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    fleet = Fleet(aws, END, hours=16 * 24)  # enough history for a week of nights
    dev = {"environment": "dev", "team": "vision"}
    fleet.add("ana-gpu", "g5.xlarge", {**dev, "owner": "ana@example.com"}, cpu=1.0, gpus=[(0.5, 0.5)])
    fleet.add("ana-cpu", "m5.large", {**dev, "owner": "ana@example.com"}, cpu=0.5)
    fleet.add("bo-prod", "g5.xlarge", {"environment": "prod", "team": "search", "owner": "bo@example.com"},
              cpu=0.5, gpus=[(1.0, 1.0)])
    fleet.add("orphan", "m5.large", {"environment": "prod", "team": "vision"}, cpu=0.5)
    fleet.add("stranger", "m5.large", {"environment": "prod", "owner": "zed@elsewhere.example"}, cpu=0.5)
    fleet.done()
    tap = subscribe_queue(aws, os.environ["FINDINGS_TOPIC_ARN"], name="notifier-input")
    return {"fleet": fleet, "tap": tap, "aws": aws}
