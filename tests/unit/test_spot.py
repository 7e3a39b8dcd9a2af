"""Spot decisions without AWS: what a warning asks for, and when a type should be diversified."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest

from cost_janitor.core.models import ActionKind, Finding, Instance, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.core.spot import interruption_finding, interruption_stats
from tests.builders import NOW, make_instance

POLICY = Policy()


def _finding(event: Literal["warning", "rebalance"], instance: Instance | None,
             action: str | None = "terminate") -> Finding:
    return interruption_finding(event=event, instance_id="i-0abc", instance=instance, region="us-east-1",
                                account="123456789012", instance_action=action, policy=POLICY, now=NOW, run_id="e1")


@pytest.mark.parametrize("event, instance, verdict, action", [
    ("warning", make_instance(instance_id="i-0abc", lifecycle="spot"), Verdict.AT_RISK,
     ActionKind.CHECKPOINT),
    ("warning", None, Verdict.GONE, None),
    ("warning", make_instance(instance_id="i-0abc", state="shutting-down"), Verdict.GONE, None),
    ("rebalance", make_instance(instance_id="i-0abc"), Verdict.AT_RISK, None),
], ids=["live-instance-checkpoints", "unknown-instance", "already-shutting-down", "rebalance-tells-only"])
def test_spot_event_outcome(event: Literal["warning", "rebalance"], instance: Instance | None, verdict: Verdict,
                            action: ActionKind | None) -> None:
    f = _finding(event, instance)
    assert (f.verdict, f.action) == (verdict, action)


def test_the_instances_own_checkpoint_command_wins_over_the_policy_default() -> None:
    command = "systemctl kill -s USR1 trainer"
    tagged = make_instance(instance_id="i-0abc", tags={"cost-janitor:checkpoint-command": command})
    assert _finding("warning", tagged).evidence["checkpoint_command"] == command
    default = _finding("warning", make_instance(instance_id="i-0abc"))
    assert default.evidence["checkpoint_command"] == POLICY.spot.checkpoint_command


def test_stats_count_by_type_and_az_and_suggest_diversifying_often_interrupted_types() -> None:
    day = timedelta(days=1)
    events = [("p3.2xlarge", "us-east-1a", NOW - day), ("p3.2xlarge", "us-east-1a", NOW - 2 * day),
              ("p3.2xlarge", "us-east-1b", NOW - 3 * day), ("g5.xlarge", "us-east-1a", NOW - 4 * day),
              ("p3.2xlarge", "us-east-1a", NOW - 40 * day)]
    report = interruption_stats(events, POLICY, now=NOW)
    assert [(s.instance_type, s.availability_zone, s.interruptions) for s in report.by_type_and_az] == [
        ("p3.2xlarge", "us-east-1a", 2), ("g5.xlarge", "us-east-1a", 1), ("p3.2xlarge", "us-east-1b", 1)]
    assert len(report.suggestions) == 1 and report.suggestions[0].startswith("p3.2xlarge was interrupted 3 times")
