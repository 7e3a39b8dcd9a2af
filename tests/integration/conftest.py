"""Fixtures the integration tests share: the Slack stand-in, and a team's account on the emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from cost_janitor.adapters.ledger import MessageState, SlackState
from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.policy import Policy
from cost_janitor.local.emulator import LocalAws, subscribe_queue
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.integration.fleet import PROD, Fleet
from tests.integration.slack_helpers import CHANNEL, TS
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


@pytest.fixture
def world(aws: LocalAws, janitor: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Bo's idle prod box, in a message the janitor remembers sending him."""
    janitor()
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    fleet = Fleet(aws, END)
    fleet.add("bo-prod", "g5.xlarge", PROD, cpu=0.5, gpus=[(1.0, 1.0)])
    fleet.done()
    [finding] = idle_sweep.run(Policy(), Settings.from_env(), now=END, run_id="run-1", dry_run=False).findings
    SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"]).save_message(
        MessageState(channel=CHANNEL, ts=TS, run_id="run-1", recipient=BO, findings=[finding]))
    return {"fleet": fleet, "resource": fleet.ids["bo-prod"]}
