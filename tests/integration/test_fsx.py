"""The FSx family against a real moto server (Lustre file systems, AWS/FSx series seeded as AWS publishes them): an
idle persistent dev file system is marked, then deleted after the grace with its final backup (the way back); a
scratch one is asked about and never deleted, and the emulator refuses its backup as FSx does; prod is asked; a file
system without series is never idle. Each call is held to the sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.fsx import LUSTRE_TYPE
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import fsx
from cost_janitor.families.fsx import FROM_FILE_SYSTEM
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.emulator.seeding import MetricSeeder, seed_fsx_metrics, seed_lustre
from cost_janitor.settings import Settings

NOW = (datetime.now(UTC) - timedelta(minutes=5)).replace(minute=5, second=0, microsecond=0)
HOURS = 2 * 24
OPT_IN = Policy.model_validate({"idle": {"services": ["fsx"], "lookback_days": 2},
                                "fsx": {"delete_idle_dev_file_systems": True}})
DEV = {"environment": "dev", "team": "cv", "owner": "ana@example.com"}
MARK = "cost-janitor:idle-since"


@pytest.fixture
def world(aws: LocalAws) -> dict[str, str]:
    """"run-17" (persistent, dev, idle), "scratch-9" (scratch, dev, idle), "shared" (persistent, prod, idle),
    "train" (persistent, dev, busy), "blind" (persistent, dev, no series)."""
    seeder = MetricSeeder(aws.client("cloudwatch"))
    ids = {"run-17": seed_lustre(aws, tags={**DEV, "Name": "run-17"}),
           "scratch-9": seed_lustre(aws, tags={**DEV, "Name": "scratch-9"}, deployment_type="SCRATCH_2"),
           "shared": seed_lustre(aws, tags={"environment": "prod", "team": "cv", "Name": "shared"}),
           "train": seed_lustre(aws, tags={**DEV, "Name": "train"}),
           "blind": seed_lustre(aws, tags={**DEV, "Name": "blind"})}
    for name in ("run-17", "scratch-9", "shared"):
        seed_fsx_metrics(seeder, ids[name], end=NOW, hours=HOURS, read_gb_per_hour=0, write_gb_per_hour=0)
    seed_fsx_metrics(seeder, ids["train"], end=NOW, hours=HOURS, read_gb_per_hour=80, write_gb_per_hour=4)
    seeder.flush()
    return ids


def _sweep(run_id: str, *, dry_run: bool = False) -> dict[str, Finding]:
    report = idle_sweep.run(OPT_IN, Settings.from_env(), now=NOW, run_id=run_id, dry_run=dry_run,
                            families=[fsx.FAMILY])
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}


def _ids(aws: LocalAws) -> set[str]:
    return {f["FileSystemId"] for f in aws.client("fsx").describe_file_systems()["FileSystems"]}


def test_an_idle_persistent_dev_file_system_is_deleted_after_the_grace_with_its_final_backup(
        aws: LocalAws, janitor: Any, world: dict[str, str]) -> None:
    janitor(OPT_IN)
    found = _sweep("night-1")
    run, scratch, shared = found[world["run-17"]], found[world["scratch-9"]], found[world["shared"]]
    assert run.resource_type == LUSTRE_TYPE
    assert (run.verdict, run.action, run.action_status) == (Verdict.IDLE, ActionKind.MARK_IDLE, "done")
    assert (scratch.verdict, scratch.action) == (Verdict.IDLE, Ask.REVIEW)
    assert (shared.verdict, shared.action) == (Verdict.IDLE, Ask.REVIEW)
    assert found[world["train"]].verdict == Verdict.BUSY
    assert found[world["blind"]].verdict == Verdict.CANNOT_JUDGE and found[world["blind"]].action is None

    for fs_id in (world["run-17"], world["scratch-9"]):  # the grace passes (the scratch one is marked by hand)
        arn = f"arn:aws:fsx:us-east-1:123456789012:file-system/{fs_id}"
        aws.client("fsx").tag_resource(ResourceARN=arn, Tags=[
            {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    dry = _sweep("night-2-dry", dry_run=True)[world["run-17"]]
    assert (dry.action, dry.action_status) == (ActionKind.DELETE_FILE_SYSTEM, "dry-run")
    assert world["run-17"] in _ids(aws)

    again = _sweep("night-2")
    assert (again[world["run-17"]].action, again[world["run-17"]].action_status) == (
        ActionKind.DELETE_FILE_SYSTEM, "done"), again[world["run-17"]].notes
    assert world["run-17"] not in _ids(aws)
    backups = aws.client("fsx").describe_backups()["Backups"]
    assert [(b["FileSystem"]["FileSystemId"], {t["Key"]: t["Value"] for t in b.get("Tags", [])}.get(FROM_FILE_SYSTEM))
            for b in backups] == [(world["run-17"], world["run-17"])]  # the way back
    assert again[world["scratch-9"]].action == Ask.REVIEW and world["scratch-9"] in _ids(aws)  # never deleted
    assert {world["shared"], world["train"], world["blind"]} <= _ids(aws)


def test_the_emulator_refuses_a_scratch_backup_as_fsx_does(aws: LocalAws, world: dict[str, str]) -> None:
    client = aws.client("fsx")
    with pytest.raises(client.exceptions.ClientError, match="scratch"):
        client.create_backup(FileSystemId=world["scratch-9"])
    with pytest.raises(client.exceptions.ClientError, match="scratch"):
        client.delete_file_system(FileSystemId=world["scratch-9"], LustreConfiguration={"SkipFinalBackup": False})
    assert world["scratch-9"] in _ids(aws)
