"""The EFS family against a real moto server (file systems and lifecycle configurations in EFS, AWS/EFS series seeded
as AWS publishes them): an idle file system is found with its storage dollars and never deleted; a dev file system
without lifecycle management gets the transitions after the grace, merged with the team's transition byte for byte;
prod is asked; a file system without series is never idle; EFS's lifecycle rules are enforced by the emulator. Each
call is held to the sweep's synthesized role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.efs import FILE_SYSTEM_TYPE
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import efs
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.emulator.seeding import MetricSeeder, seed_efs_metrics, seed_file_system
from cost_janitor.settings import Settings

NOW = (datetime.now(UTC) - timedelta(minutes=5)).replace(minute=5, second=0, microsecond=0)
HOURS = 2 * 24
ON = {"idle": {"services": ["efs"], "lookback_days": 2}}
OPT_IN = Policy.model_validate({**ON, "efs": {"set_lifecycle": True}})
DEV = {"environment": "dev", "team": "nlp", "owner": "dee@example.com"}
PROD = {"environment": "prod", "team": "search"}
MARK = "cost-janitor:idle-since"
TEAM_RULE = [{"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]


@pytest.fixture
def world(aws: LocalAws) -> dict[str, str]:
    """"home" (dev, busy, only the team's TransitionToPrimaryStorageClass), "datasets" (prod, busy, none), "old-run"
    (dev, idle, 800 GB), "blind" (dev, no series)."""
    seeder = MetricSeeder(aws.client("cloudwatch"))
    ids = {
        "home": seed_file_system(aws, tags={**DEV, "Name": "home"}, size_gb=200, lifecycle=TEAM_RULE),
        "datasets": seed_file_system(aws, tags={**PROD, "Name": "datasets"}, size_gb=2000),
        "old-run": seed_file_system(aws, tags={**DEV, "Name": "old-run"}, size_gb=800,
                                    lifecycle=[{"TransitionToIA": "AFTER_30_DAYS"}]),
        "blind": seed_file_system(aws, tags={**DEV, "Name": "blind"}, size_gb=50),
    }
    for name, (connections, io) in {"home": (4, 5e8), "datasets": (12, 9e9), "old-run": (0, 0)}.items():
        seed_efs_metrics(seeder, ids[name], end=NOW, hours=HOURS, connections=connections, io_bytes=io)
    seeder.flush()
    return ids


def _sweep(policy: Policy, run_id: str, *, dry_run: bool = False) -> dict[str, Finding]:
    report = idle_sweep.run(policy, Settings.from_env(), now=NOW, run_id=run_id, dry_run=dry_run,
                            families=[efs.FAMILY])
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}


def _lifecycle(aws: LocalAws, fs_id: str) -> list[dict[str, str]]:
    return list(aws.client("efs").describe_lifecycle_configuration(FileSystemId=fs_id)["LifecyclePolicies"])


def _tags(aws: LocalAws, fs_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws.client("efs").list_tags_for_resource(ResourceId=fs_id)["Tags"]}


def test_a_dev_file_system_gets_its_transitions_after_the_grace_merged_with_the_teams(
        aws: LocalAws, janitor: Any, world: dict[str, str]) -> None:
    janitor(OPT_IN)
    found = _sweep(OPT_IN, "night-1")
    home, datasets = found[world["home"]], found[world["datasets"]]
    assert home.resource_type == FILE_SYSTEM_TYPE
    assert (home.verdict, home.action, home.action_status) == (Verdict.CHANGE_PROPOSED, ActionKind.MARK_IDLE, "done")
    assert (datasets.verdict, datasets.action) == (Verdict.CHANGE_PROPOSED, Ask.REVIEW)
    assert _lifecycle(aws, world["home"]) == TEAM_RULE and MARK in _tags(aws, world["home"])

    # dry-run after the grace writes nothing
    aws.client("efs").tag_resource(ResourceId=world["home"], Tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    dry = _sweep(OPT_IN, "night-2-dry", dry_run=True)[world["home"]]
    assert (dry.action, dry.action_status) == (ActionKind.SET_EFS_LIFECYCLE, "dry-run")
    assert _lifecycle(aws, world["home"]) == TEAM_RULE

    again = _sweep(OPT_IN, "night-2")[world["home"]]
    assert (again.action, again.action_status) == (ActionKind.SET_EFS_LIFECYCLE, "done"), again.notes
    after = _lifecycle(aws, world["home"])
    assert after[:1] == TEAM_RULE  # the team's transition, byte for byte, in its place
    assert after[1:] == [{"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToArchive": "AFTER_90_DAYS"}]
    assert MARK not in _tags(aws, world["home"])
    assert json.loads(str(again.evidence["lifecycle_before"])) == TEAM_RULE  # the way back
    assert _lifecycle(aws, world["datasets"]) == []  # prod: only asked
    third = _sweep(OPT_IN, "night-3")[world["home"]]
    assert (third.verdict, third.action) == (Verdict.BUSY, None)


def test_an_idle_file_system_is_priced_and_never_deleted_and_one_without_series_is_not_judged(
        aws: LocalAws, janitor: Any, world: dict[str, str]) -> None:
    janitor(OPT_IN)
    found = _sweep(OPT_IN, "night-1")
    idle, blind = found[world["old-run"]], found[world["blind"]]
    assert (idle.verdict, idle.action, idle.monthly_usd) == (Verdict.IDLE, ActionKind.MARK_IDLE, 240.0)  # 800 × $0.30
    assert (blind.verdict, blind.action, blind.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None)
    assert {f["FileSystemId"] for f in aws.client("efs").describe_file_systems()["FileSystems"]} >= set(world.values())


@pytest.mark.parametrize(("policies", "problem"), [
    ([{"TransitionToIA": "AFTER_30_DAYS", "TransitionToArchive": "AFTER_90_DAYS"}], "single transition"),
    ([{"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToArchive": "AFTER_14_DAYS"}], "later than"),
    ([{"TransitionToIA": "AFTER_7_DAYS"}, {"TransitionToIA": "AFTER_30_DAYS"}], "more than once"),
], ids=["two_in_one_object", "archive_before_ia", "twice"])
def test_the_emulator_refuses_what_efs_refuses(aws: LocalAws, world: dict[str, str], policies: list[dict[str, str]],
                                               problem: str) -> None:
    client = aws.client("efs")
    with pytest.raises(client.exceptions.ClientError, match=problem):
        client.put_lifecycle_configuration(FileSystemId=world["home"], LifecyclePolicies=policies)


def test_archive_needs_elastic_throughput_as_on_efs(aws: LocalAws) -> None:
    bursting = seed_file_system(aws, tags=DEV, size_gb=1, throughput="bursting")
    client = aws.client("efs")
    with pytest.raises(client.exceptions.ClientError, match="Elastic throughput"):
        client.put_lifecycle_configuration(FileSystemId=bursting, LifecyclePolicies=[
            {"TransitionToIA": "AFTER_7_DAYS"}, {"TransitionToArchive": "AFTER_30_DAYS"}])
