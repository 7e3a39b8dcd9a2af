"""FSx for Lustre: idle file systems, the delete with its final backup only for persistent dev ones with the opt-in,
scratch never deleted, the re-check of the last hours, and the absence table (a missing series is never idle),
without any AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.fsx import GB, FsxUsage, LustreFileSystem, classify_lustre, recheck_lustre
from cost_janitor.core.models import ActionKind, Ask, Series, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW

POINTS = 7 * 24
DEFAULT = Policy()
OPT_IN = Policy.model_validate({"fsx": {"delete_idle_dev_file_systems": True}})
MARK = {"cost-janitor:idle-since": (NOW - timedelta(days=2)).isoformat()}


def per_hour(gb: float, points: int = POINTS) -> Series:
    return Series(mask=(1 << points) - 1, total=gb * GB * points, maximum=gb * GB)


def fs(env: str = "dev", deployment: str = "PERSISTENT_2", **overrides: Any) -> LustreFileSystem:
    return LustreFileSystem(**{"file_system_id": "fs-0a1b2c3d", "region": "us-east-1", "account": "123456789012",
                               "arn": "arn:aws:fsx:us-east-1:123456789012:file-system/fs-0a1b2c3d",
                               "deployment_type": deployment, "storage_gib": 2400, "throughput_per_tib": 125,
                               "created": NOW - timedelta(days=40), "tags": {"environment": env, "team": "cv"},
                               **overrides})


IDLE = FsxUsage(read=per_hour(0.001), write=per_hour(0.0))
BUSY = FsxUsage(read=per_hour(50), write=per_hour(5))


def test_an_idle_persistent_dev_file_system_is_marked_then_deleted_with_a_final_backup_with_the_opt_in() -> None:
    f = classify_lustre(fs(), IDLE, OPT_IN, now=NOW)
    assert (f.verdict, f.action) == (Verdict.IDLE, ActionKind.MARK_IDLE) and f.monthly_usd is None
    assert str(f.price_source).startswith("unknown") and f.evidence["storage_gib"] == 2400
    due = classify_lustre(fs(tags={"environment": "dev", **MARK}), IDLE, OPT_IN, now=NOW)
    assert due.action == ActionKind.DELETE_FILE_SYSTEM
    assert any("create-file-system-from-backup" in n and "describe-backups" in n for n in due.notes)
    assert classify_lustre(fs(), IDLE, DEFAULT, now=NOW).action == Ask.REVIEW
    assert classify_lustre(fs("prod"), IDLE, OPT_IN, now=NOW).action == Ask.REVIEW


@pytest.mark.parametrize("deployment", ["SCRATCH_1", "SCRATCH_2"])
def test_a_scratch_file_system_is_never_deleted_and_the_finding_says_why(deployment: str) -> None:
    f = classify_lustre(fs(deployment=deployment, tags={"environment": "dev", **MARK}), IDLE, OPT_IN, now=NOW)
    assert (f.verdict, f.action) == (Verdict.IDLE, Ask.REVIEW)
    assert any("cannot be backed up" in n for n in f.notes)


def test_busy_and_young_file_systems() -> None:
    assert classify_lustre(fs(), BUSY, OPT_IN, now=NOW).verdict == Verdict.BUSY
    young = classify_lustre(fs(created=NOW - timedelta(days=1)), IDLE, OPT_IN, now=NOW)
    assert (young.verdict, young.action) == (Verdict.STARTED_RECENTLY, None)
    marked_busy = classify_lustre(fs(tags={"environment": "dev", **MARK}), BUSY, OPT_IN, now=NOW)
    assert marked_busy.action == ActionKind.UNMARK_IDLE


# An absent signal is never idle: nothing marked or deleted.
ABSENT: list[tuple[str, FsxUsage]] = [
    ("read_not_read", FsxUsage(read=None, write=per_hour(0))),
    ("write_not_read", FsxUsage(read=per_hour(0), write=None)),
    ("no_series", FsxUsage(read=Series(), write=Series())),
    ("too_few_periods", FsxUsage(read=per_hour(0, 20), write=per_hour(0, 20))),
]


@pytest.mark.parametrize("usage", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_a_file_system_without_its_metrics_cannot_be_judged(usage: FsxUsage) -> None:
    for tags, expected in (({"environment": "dev"}, None), ({"environment": "dev", **MARK}, ActionKind.UNMARK_IDLE)):
        f = classify_lustre(fs(tags=tags), usage, OPT_IN, now=NOW)
        assert (f.verdict, f.action) == (Verdict.CANNOT_JUDGE, expected), f.reason


QUIET = FsxUsage(read=per_hour(0, 3), write=per_hour(0, 3))


@pytest.mark.parametrize(("current", "recent", "why"), [
    (None, QUIET, "gone"),
    (fs(tags={"environment": "dev", **MARK}, lifecycle="DELETING"), QUIET, "DELETING"),
    (fs("prod", tags={"environment": "prod", **MARK}), QUIET, "no longer tagged dev"),
    (fs(), QUIET, "mark was removed"),
    (fs(tags={"environment": "dev", **MARK}), None, "could not be read"),
    (fs(tags={"environment": "dev", **MARK}), FsxUsage(read=Series(), write=Series()), "could not be read"),
    (fs(tags={"environment": "dev", **MARK}), FsxUsage(read=per_hour(40, 3), write=per_hour(0, 3)), "moving"),
], ids=["gone", "deleting", "prod", "unmarked", "unread", "no_series", "bytes_moving"])
def test_the_recheck_refuses_and_says_why(current: LustreFileSystem | None, recent: FsxUsage | None,
                                          why: str) -> None:
    planned = classify_lustre(fs(tags={"environment": "dev", **MARK}), IDLE, OPT_IN, now=NOW)
    again = recheck_lustre(planned, current, recent, OPT_IN, now=NOW)
    assert again.action is None and any(why in n for n in again.notes), again.notes


def test_the_recheck_lets_a_still_quiet_file_system_go() -> None:
    planned = classify_lustre(fs(tags={"environment": "dev", **MARK}), IDLE, OPT_IN, now=NOW)
    again = recheck_lustre(planned, fs(tags={"environment": "dev", **MARK}), QUIET, OPT_IN, now=NOW)
    assert again.action == ActionKind.DELETE_FILE_SYSTEM
