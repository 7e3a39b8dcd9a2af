"""ECR repositories: the janitor's untagged-image rule merged into the team's lifecycle policy by priority (never
replacing or renumbering a team rule), unpulled tagged images reported and never expired, the re-check before writing,
and the absence table (no recorded pull is not proof of no use), without any AWS."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.ecr import (
    GB,
    JANITOR,
    Image,
    Repository,
    classify_repository,
    merge_policy,
    policy_to_put,
    recheck_repository,
)
from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW

DEFAULT = Policy()
OPT_IN = Policy.model_validate({"ecr": {"put_lifecycle_policies": True}})
MARK = {"cost-janitor:idle-since": (NOW - timedelta(days=2)).isoformat()}
OLD = NOW - timedelta(days=200)


def image(n: int, *, tags: tuple[str, ...] = (), pulled_days: int | None = 1, gb: float = 2.0,
          pushed: Any = OLD) -> Image:
    return Image(digest=f"sha256:{n:064d}", tags=tags, pushed_at=pushed, size_bytes=int(gb * GB),
                 last_pull=NOW - timedelta(days=pulled_days) if pulled_days is not None else None)


def repo(env: str = "dev", policy_text: str | None = None, images: tuple[Image, ...] | None = None,
         **overrides: Any) -> Repository:
    return Repository(**{"name": "detector", "arn": "arn:aws:ecr:us-east-1:123456789012:repository/detector",
                         "region": "us-east-1", "account": "123456789012", "tags": {"environment": env, "team": "cv"},
                         "policy_text": policy_text,
                         "images": images if images is not None else (image(1), image(2), image(3, tags=("v1",))),
                         **overrides})


def rule(priority: int, status: str = "tagged", **selection: Any) -> dict[str, Any]:
    sel = {"tagStatus": status, "countType": "imageCountMoreThan", "countNumber": 10, **selection}
    if status == "tagged":
        sel.setdefault("tagPrefixList", ["prod"])
    return {"rulePriority": priority, "description": "team", "selection": sel, "action": {"type": "expire"}}


def text(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


@pytest.mark.parametrize(("existing", "priority", "why"), [
    (None, 1, "priority 1"),
    (text(rule(5), rule(9)), 10, "priority 10"),
    (text(rule(1), rule(50, "any")), 2, "priority 2"),
    (text(rule(1), rule(2, "any")), None, "no free priority"),
    (text(rule(3, "untagged", countType="sinceImagePushed", countUnit="days")), None, "handles untagged"),
    ("{not json", None, "could not be parsed"),
], ids=["none", "after_the_team", "before_the_teams_any_rule", "no_room_before_any", "team_untagged_rule",
        "unparseable"])
def test_the_merge_never_replaces_or_renumbers_a_team_rule(existing: str | None, priority: int | None,
                                                           why: str) -> None:
    merged, reason = merge_policy(existing, DEFAULT)
    assert why in reason
    if priority is None:
        assert merged is None
        return
    assert merged is not None
    rules = json.loads(merged)["rules"]
    team = json.loads(existing)["rules"] if existing else []
    assert rules[:len(team)] == team  # every team rule, unchanged and in place
    mine = rules[-1]
    assert mine["rulePriority"] == priority and mine["description"].startswith(JANITOR)
    assert mine["selection"] == {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                                 "countNumber": 14}
    assert len({r["rulePriority"] for r in rules}) == len(rules)
    assert merge_policy(merged, DEFAULT) == (None, "the janitor's rule is there")


def test_old_untagged_images_in_a_dev_repository_get_the_rule_after_the_grace_with_the_opt_in() -> None:
    f = classify_repository(repo(), OPT_IN, now=NOW)
    assert (f.verdict, f.action) == (Verdict.CHANGE_PROPOSED, ActionKind.MARK_IDLE)
    assert f.monthly_usd == round(4.0 * 0.10, 2) and f.evidence["untagged_old"] == 2
    assert any("cannot be brought back" in n for n in f.notes) and any("dry-run diff" in n for n in f.notes)
    due = classify_repository(repo(tags={"environment": "dev", **MARK}), OPT_IN, now=NOW)
    assert due.action == ActionKind.SET_ECR_LIFECYCLE
    assert json.loads(policy_to_put(due))["rules"][0]["selection"]["tagStatus"] == "untagged"
    assert classify_repository(repo("prod"), OPT_IN, now=NOW).action == Ask.REVIEW
    assert classify_repository(repo(), DEFAULT, now=NOW).action == Ask.REVIEW


def test_recent_untagged_images_are_left_alone() -> None:
    f = classify_repository(repo(images=(image(1, pushed=NOW - timedelta(days=3)),)), OPT_IN, now=NOW)
    assert (f.verdict, f.action) == (Verdict.COMPLIANT, None)


def test_unpulled_tagged_images_are_reported_and_never_expired_by_the_janitor() -> None:
    f = classify_repository(repo(images=(image(1, tags=("v1",), pulled_days=120, gb=5),
                                         image(2, tags=("v2",), pulled_days=1))), OPT_IN, now=NOW)
    assert (f.verdict, f.action, f.monthly_usd) == (Verdict.UNUSED, Ask.REVIEW, 0.5)
    assert "never expires a tagged image" in f.reason and "sinceImagePulled" in f.reason


def test_no_room_before_a_team_any_rule_is_a_conflict_never_a_rewrite() -> None:
    f = classify_repository(repo(policy_text=text(rule(1), rule(2, "any"))), OPT_IN, now=NOW)
    assert (f.verdict, f.action) == (Verdict.CONFLICT, Ask.REVIEW) and "renumbers" in f.reason


# An absent signal is never idle: no recorded pull is not unused; an unreadable policy is not merged into.
ABSENT: list[tuple[str, dict[str, Any]]] = [
    ("no_pull_recorded_on_old_tagged_images", {"images": (image(1, tags=("v1",), pulled_days=None, gb=9),)}),
    ("lifecycle_policy_unreadable", {"policy_read": False}),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_a_repository_without_its_signal_cannot_be_judged_absent(kwargs: dict[str, Any]) -> None:
    f = classify_repository(repo(**kwargs), OPT_IN, now=NOW)
    assert (f.verdict, f.action, f.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None), f.reason
    marked = classify_repository(repo(tags={"environment": "dev", **MARK}, **kwargs), OPT_IN, now=NOW)
    assert marked.action == ActionKind.UNMARK_IDLE


def test_the_recheck_merges_into_the_policy_as_it_is_now() -> None:
    planned = classify_repository(repo(tags={"environment": "dev", **MARK}), OPT_IN, now=NOW)
    now_team = repo(tags={"environment": "dev", **MARK}, policy_text=text(rule(4)))
    again = recheck_repository(planned, now_team, OPT_IN, now=NOW)
    assert again.action == ActionKind.SET_ECR_LIFECYCLE
    rules = json.loads(policy_to_put(again))["rules"]
    assert rules[0] == rule(4) and rules[1]["rulePriority"] == 5


@pytest.mark.parametrize(("current", "why"), [
    (None, "gone"),
    (repo("prod", tags={"environment": "prod", **MARK}), "no longer tagged dev"),
    (repo(), "mark was removed"),
    (repo(tags={"environment": "dev", **MARK}, policy_read=False), "could not be read"),
    (repo(tags={"environment": "dev", **MARK},
          policy_text=text(rule(3, "untagged", countType="sinceImagePushed", countUnit="days"))), "handles untagged"),
], ids=["gone", "prod", "unmarked", "unreadable", "team_rule_meanwhile"])
def test_the_recheck_refuses_and_says_why(current: Repository | None, why: str) -> None:
    planned = classify_repository(repo(tags={"environment": "dev", **MARK}), OPT_IN, now=NOW)
    again = recheck_repository(planned, current, OPT_IN, now=NOW)
    assert again.action is None and any(why in n for n in again.notes), again.notes


def test_unknown_price_outside_the_documented_region() -> None:
    f = classify_repository(repo(region="eu-west-1"), OPT_IN, now=NOW)
    assert f.verdict == Verdict.CHANGE_PROPOSED and f.monthly_usd is None
    assert str(f.price_source).startswith("unknown")
