"""AMIs and their snapshots: unused images priced, deregistered only in dev with the opt-in and a Recycle Bin rule for
snapshots, never when something uses them, the re-check, and the absence table (no launch record, users not read, no
readable Recycle Bin), without any AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.amis import MachineImage, RecycleBin, classify_image, recheck_image, snapshots_of
from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW

DEFAULT = Policy()
OPT_IN = Policy.model_validate({"amis": {"deregister_unused_dev_images": True}})
MARK = {"cost-janitor:idle-since": (NOW - timedelta(days=2)).isoformat()}
BIN = RecycleBin(snapshot_rules=("rule-1",))


def image(env: str = "dev", **overrides: Any) -> MachineImage:
    return MachineImage(**{"image_id": "ami-0abc", "name": "exp-17", "region": "us-east-1", "account": "123456789012",
                           "created": NOW - timedelta(days=300), "last_launched": NOW - timedelta(days=200),
                           "snapshots": (("snap-a", 100), ("snap-b", 20)), "tags": {"environment": env, "team": "cv"},
                           **overrides})


def judge(img: MachineImage | None = None, used_by: list[str] | None = None, shared: set[str] | None = None,
          rbin: RecycleBin | None = BIN, policy: Policy = OPT_IN) -> Any:
    return classify_image(img or image(), [] if used_by is None else used_by, shared or set(), rbin, policy, now=NOW)


def test_an_unused_dev_image_is_marked_then_deregistered_with_its_own_snapshots_when_the_bin_keeps_them() -> None:
    f = judge()
    assert (f.verdict, f.action) == (Verdict.UNUSED, ActionKind.MARK_IDLE) and f.monthly_usd == 120 * 0.05
    assert f.resource_arn == "arn:aws:ec2:us-east-1::image/ami-0abc"  # EC2 image ARNs carry no account
    due = judge(image(tags={"environment": "dev", **MARK}))
    assert due.action == ActionKind.DEREGISTER_IMAGE and snapshots_of(due) == ["snap-a", "snap-b"]
    assert any("restore-snapshot-from-recycle-bin" in n for n in due.notes)


def test_a_snapshot_another_image_uses_is_neither_priced_nor_deleted() -> None:
    f = judge(image(tags={"environment": "dev", **MARK}), shared={"snap-b"})
    assert snapshots_of(f) == ["snap-a"] and f.monthly_usd == 100 * 0.05 and f.evidence["shared_snapshots"] == "snap-b"


def test_an_image_something_uses_is_never_touched() -> None:
    f = judge(image(tags={"environment": "dev", **MARK}), used_by=["train-lt v3"])
    assert (f.verdict, f.action) == (Verdict.BUSY, ActionKind.UNMARK_IDLE) and "never touched" in f.reason


@pytest.mark.parametrize(("rbin", "note"), [(RecycleBin(), "no Recycle Bin retention rule"),
                                             (None, "could not be read")], ids=["no_rule", "bin_unreadable"])
def test_without_a_recycle_bin_rule_nothing_is_deleted_and_the_finding_says_so(rbin: RecycleBin | None,
                                                                               note: str) -> None:
    f = judge(image(tags={"environment": "dev", **MARK}), rbin=rbin)
    assert (f.verdict, f.action) == (Verdict.UNUSED, Ask.REVIEW) and any(note in n for n in f.notes)


def test_prod_and_no_opt_in_are_asked_and_recent_ones_left_alone() -> None:
    assert judge(image("prod")).action == Ask.REVIEW
    assert judge(policy=DEFAULT).action == Ask.REVIEW
    assert judge(image(last_launched=NOW - timedelta(days=10))).verdict == Verdict.BUSY
    assert judge(image(created=NOW - timedelta(days=10), last_launched=None)).verdict == Verdict.STARTED_RECENTLY


# An absent signal is never unused: nothing marked or deleted, no dollars.
ABSENT: list[tuple[str, dict[str, Any]]] = [
    ("no_launch_recorded", {"img": image(last_launched=None)}),
    ("users_not_read", {"img": image(), "users": None}),
]


@pytest.mark.parametrize("case", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_an_image_without_its_signal_cannot_be_judged_absent(case: dict[str, Any]) -> None:
    for tags, expected in (({"environment": "dev"}, None), ({"environment": "dev", **MARK}, ActionKind.UNMARK_IDLE)):
        img = case["img"].model_copy(update={"tags": tags})
        users = case.get("users", [])
        f = classify_image(img, users, set(), BIN, OPT_IN, now=NOW)
        assert (f.verdict, f.action, f.monthly_usd) == (Verdict.CANNOT_JUDGE, expected, None), f.reason


MARKED = image(tags={"environment": "dev", **MARK})


@pytest.mark.parametrize(("current", "users", "rbin", "why"), [
    (None, [], BIN, "gone"),
    (image("prod", tags={"environment": "prod", **MARK}), [], BIN, "no longer tagged dev"),
    (image(), [], BIN, "mark was removed"),
    (MARKED.model_copy(update={"last_launched": NOW - timedelta(hours=3)}), [], BIN, "launched since"),
    (MARKED, None, BIN, "could not be read"),
    (MARKED, ["instance i-1"], BIN, "uses it now"),
    (MARKED, [], RecycleBin(), "no Recycle Bin"),
], ids=["gone", "prod", "unmarked", "launched", "users_unread", "used_now", "rule_removed"])
def test_the_recheck_refuses_and_says_why(current: MachineImage | None, users: list[str] | None,
                                          rbin: RecycleBin | None, why: str) -> None:
    planned = judge(MARKED)
    again = recheck_image(planned, current, users, rbin, OPT_IN, now=NOW)
    assert again.action is None and any(why in n for n in again.notes), again.notes
    assert recheck_image(planned, MARKED, [], BIN, OPT_IN, now=NOW).action == ActionKind.DEREGISTER_IMAGE
