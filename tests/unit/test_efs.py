"""EFS file systems: idle ones priced and never deleted, lifecycle transitions merged into the team's configuration
(never dropping or changing one, as EFS's rules allow), the re-check before writing, and the absence table (a missing
series is never idle), without any AWS."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.efs import (
    GB,
    EfsUsage,
    FileSystem,
    classify_file_system,
    lifecycle_to_put,
    merge_lifecycle,
    recheck_lifecycle,
)
from cost_janitor.core.models import ActionKind, Ask, Series, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW

POINTS = 7 * 24
DEFAULT = Policy()
OPT_IN = Policy.model_validate({"efs": {"set_lifecycle": True}})
MARK = {"cost-janitor:idle-since": (NOW - timedelta(days=2)).isoformat()}


def flat(value: float, points: int = POINTS) -> Series:
    return Series(mask=(1 << points) - 1, total=value * points, maximum=value)


def fs(env: str = "dev", lifecycle: tuple[dict[str, str], ...] | None = (), **overrides: Any) -> FileSystem:
    return FileSystem(**{"file_system_id": "fs-0123456789abcdef0", "region": "us-east-1", "account": "123456789012",
                         "arn": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0",
                         "size_bytes": 500 * GB, "throughput_mode": "elastic", "created": NOW - timedelta(days=90),
                         "lifecycle": lifecycle, "tags": {"environment": env, "team": "nlp"}, **overrides})


BUSY = EfsUsage(connections=flat(3), io_bytes=flat(1e9))
IDLE = EfsUsage(connections=flat(0), io_bytes=flat(0))


def test_an_idle_file_system_is_reported_with_its_storage_dollars_and_never_deleted() -> None:
    f = classify_file_system(fs(lifecycle=({"TransitionToIA": "AFTER_30_DAYS"},)), IDLE, DEFAULT, now=NOW)
    assert f.verdict == Verdict.IDLE and f.monthly_usd == 150.0 and f.action == ActionKind.MARK_IDLE
    assert "never deletes" in f.reason and "Amazon EFS pricing" in str(f.price_source)
    prod = classify_file_system(fs("prod"), IDLE, DEFAULT, now=NOW)
    assert prod.action == Ask.REVIEW and any("no lifecycle management" in n for n in prod.notes)


def test_no_lifecycle_on_a_busy_dev_file_system_is_merged_after_the_grace_with_the_opt_in() -> None:
    f = classify_file_system(fs(), BUSY, OPT_IN, now=NOW)
    assert (f.verdict, f.action) == (Verdict.CHANGE_PROPOSED, ActionKind.MARK_IDLE)
    assert any(n.startswith("dry-run diff: + TransitionToIA AFTER_30_DAYS; + TransitionToArchive AFTER_90_DAYS")
               for n in f.notes)
    due = classify_file_system(fs(tags={"environment": "dev", **MARK}), BUSY, OPT_IN, now=NOW)
    assert due.action == ActionKind.SET_EFS_LIFECYCLE and lifecycle_to_put(due) == [
        {"TransitionToIA": "AFTER_30_DAYS"}, {"TransitionToArchive": "AFTER_90_DAYS"}]
    assert classify_file_system(fs(), BUSY, DEFAULT, now=NOW).action == Ask.REVIEW  # no opt-in: asked
    assert classify_file_system(fs("prod"), BUSY, OPT_IN, now=NOW).action == Ask.REVIEW


TEAM = ({"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"},)


@pytest.mark.parametrize(("existing", "mode", "added", "skipped"), [
    ((), "elastic", ["TransitionToIA AFTER_30_DAYS", "TransitionToArchive AFTER_90_DAYS"], []),
    (TEAM, "elastic", ["TransitionToIA AFTER_30_DAYS", "TransitionToArchive AFTER_90_DAYS"], []),
    (({"TransitionToIA": "AFTER_7_DAYS"},), "elastic", ["TransitionToArchive AFTER_90_DAYS"], []),
    ((), "bursting", ["TransitionToIA AFTER_30_DAYS"], ["Elastic throughput"]),
    (({"TransitionToArchive": "AFTER_14_DAYS"},), "elastic", [], ["would not come before"]),
    (({"TransitionToIA": "AFTER_180_DAYS"},), "elastic", [], ["would not come after"]),
    (({"TransitionToIA": "AFTER_7_DAYS"}, {"TransitionToArchive": "AFTER_60_DAYS"}), "elastic", [], []),
], ids=["none", "team_primary_kept", "team_ia_kept", "no_archive_without_elastic", "team_archive_too_early",
        "team_ia_too_late", "both_set"])
def test_the_merge_keeps_every_team_transition_and_only_adds_what_efs_accepts(
        existing: tuple[dict[str, str], ...], mode: str, added: list[str], skipped: list[str]) -> None:
    merged, got, why = merge_lifecycle(existing, fs(throughput_mode=mode), DEFAULT)
    assert merged[:len(existing)] == [dict(p) for p in existing]  # byte for byte, in place
    assert got == added and all(any(s in w for w in why) for s in skipped), why
    assert all(len(p) == 1 for p in merged)  # one transition per object, as EFS requires


def test_the_configuration_written_is_never_empty() -> None:
    f = classify_file_system(fs(tags={"environment": "dev", **MARK}), BUSY, OPT_IN, now=NOW)
    with pytest.raises(ValueError, match="empty"):
        lifecycle_to_put(f.model_copy(update={"evidence": {**f.evidence, "lifecycle_after": "[]"}}))


def test_the_recheck_merges_into_what_is_there_now() -> None:
    planned = classify_file_system(fs(tags={"environment": "dev", **MARK}), BUSY, OPT_IN, now=NOW)
    now_team = fs(tags={"environment": "dev", **MARK}, lifecycle=({"TransitionToIA": "AFTER_14_DAYS"},))
    again = recheck_lifecycle(planned, now_team, OPT_IN, now=NOW)
    assert again.action == ActionKind.SET_EFS_LIFECYCLE
    assert lifecycle_to_put(again) == [{"TransitionToIA": "AFTER_14_DAYS"}, {"TransitionToArchive": "AFTER_90_DAYS"}]
    assert json.loads(str(again.evidence["lifecycle_before"])) == [{"TransitionToIA": "AFTER_14_DAYS"}]


@pytest.mark.parametrize(("current", "why"), [
    (None, "gone"),
    (fs("prod", tags={"environment": "prod", **MARK}), "no longer tagged dev"),
    (fs(), "mark was removed"),
    (fs(tags={"environment": "dev", **MARK}, lifecycle=None), "could not be read"),
    (fs(tags={"environment": "dev", **MARK}, lifecycle=({"TransitionToIA": "AFTER_7_DAYS"},
                                                        {"TransitionToArchive": "AFTER_30_DAYS"})), "set now"),
], ids=["gone", "prod", "unmarked", "unreadable", "set_meanwhile"])
def test_the_recheck_refuses_and_says_why(current: FileSystem | None, why: str) -> None:
    planned = classify_file_system(fs(tags={"environment": "dev", **MARK}), BUSY, OPT_IN, now=NOW)
    again = recheck_lifecycle(planned, current, OPT_IN, now=NOW)
    assert again.action is None and any(why in n for n in again.notes), again.notes


# An absent signal is never idle: nothing marked, no dollars.
ABSENT: list[tuple[str, EfsUsage]] = [
    ("connections_not_read", EfsUsage(connections=None, io_bytes=flat(0))),
    ("io_not_read", EfsUsage(connections=flat(0), io_bytes=None)),
    ("no_series_at_all", EfsUsage(connections=Series(), io_bytes=Series())),
    ("too_few_periods", EfsUsage(connections=flat(0, 20), io_bytes=flat(0, 20))),
]


@pytest.mark.parametrize("usage", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_a_file_system_without_its_metrics_cannot_be_judged(usage: EfsUsage) -> None:
    for tags, expected in (({"environment": "dev"}, None), ({"environment": "dev", **MARK}, ActionKind.UNMARK_IDLE)):
        f = classify_file_system(fs(tags=tags), usage, OPT_IN, now=NOW)
        assert (f.verdict, f.action, f.monthly_usd) == (Verdict.CANNOT_JUDGE, expected, None), f.reason


def test_a_lifecycle_that_could_not_be_read_is_not_merged_into() -> None:
    f = classify_file_system(fs(lifecycle=None), BUSY, OPT_IN, now=NOW)
    assert f.verdict == Verdict.BUSY and f.action is None and any("could not be read" in n for n in f.notes)


def test_unknown_price_and_young_file_systems() -> None:
    f = classify_file_system(fs(region="eu-west-1"), IDLE, DEFAULT, now=NOW)
    assert f.verdict == Verdict.IDLE and f.monthly_usd is None and str(f.price_source).startswith("unknown")
    young = classify_file_system(fs(created=NOW - timedelta(days=1)), IDLE, DEFAULT, now=NOW)
    assert young.verdict == Verdict.STARTED_RECENTLY and young.action is None


def test_the_policy_refuses_archive_before_ia() -> None:
    with pytest.raises(ValueError, match=r"after efs\.transition_to_ia"):
        Policy.model_validate({"efs": {"transition_to_ia": "AFTER_90_DAYS", "transition_to_archive": "AFTER_30_DAYS"}})
