"""Lifecycle merging never loses a user's rule; volumes, savings and diffs — all without AWS."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_janitor.core.policy import Policy
from cost_janitor.core.storage import (
    GB,
    BucketLifecycle,
    desired_rules,
    diff,
    is_janitor_rule,
    judge_volume,
    merge,
    rule_prefix,
    tiering_savings,
)
from tests.builders import NOW

POLICY = Policy()
ML = POLICY.lifecycle.profiles["ml"]


def _desired(versioned: bool = True) -> list[dict[str, Any]]:
    return desired_rules("ml", ML, versioned=versioned)[0]


def test_the_default_ml_profile_as_s3_rules() -> None:
    rules = {r["ID"]: r for r in _desired()}
    assert rules["cost-janitor:ml:training-data/"]["Transitions"] == [
        {"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 90, "StorageClass": "GLACIER"}]
    assert rules["cost-janitor:ml:experiments/"]["Expiration"] == {"Days": 180}
    assert rules["cost-janitor:ml:checkpoints/"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["cost-janitor:ml:*"] == {"ID": "cost-janitor:ml:*", "Filter": {"Prefix": ""}, "Status": "Enabled",
                                          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}


def test_unversioned_bucket_gets_no_noncurrent_rule_and_is_told_why() -> None:
    rules, notes = desired_rules("ml", ML, versioned=False)
    assert "cost-janitor:ml:checkpoints/" not in {r["ID"] for r in rules}
    assert notes == ["versioning was never enabled: no noncurrent-version rule for 'checkpoints/'"]


USER_RULES: list[dict[str, Any]] = [
    {"ID": "logs-expire", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
    {"ID": "tagged", "Filter": {"Tag": {"Key": "tier", "Value": "cold"}}, "Status": "Enabled",
     "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}]},
    {"ID": "and", "Filter": {"And": {"Prefix": "raw/", "Tags": [{"Key": "a", "Value": "b"}],
                                     "ObjectSizeGreaterThan": 1024}}, "Status": "Disabled",
     "Expiration": {"Days": 10}},
    {"ID": "legacy", "Prefix": "tmp/", "Status": "Enabled", "Expiration": {"Days": 1}},
    {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 10 * GB}, "Status": "Enabled",
     "Transitions": [{"Days": 30, "StorageClass": "DEEP_ARCHIVE"}]},
]


@pytest.mark.parametrize("rule, prefix", [(r, p) for r, p in zip(USER_RULES, ["logs/", "", "raw/", "tmp/", ""],
                                                                   strict=True)],
                         ids=["prefix", "tag", "and", "legacy-prefix", "size"])
def test_every_filter_shape_has_a_prefix(rule: dict[str, Any], prefix: str) -> None:
    assert rule_prefix(rule) == prefix


def test_merge_adds_ours_after_the_users_and_keeps_theirs() -> None:
    plan = merge(USER_RULES, _desired())
    assert plan.rules[: len(USER_RULES)] == USER_RULES
    assert sorted(plan.added) == sorted(r["ID"] for r in _desired()) and plan.changed


def test_merging_again_changes_nothing() -> None:
    first = merge(USER_RULES, _desired())
    again = merge(first.rules, _desired())
    assert not again.changed and sorted(again.unchanged) == sorted(first.added)


def test_a_user_rule_on_the_same_prefix_is_a_conflict_not_a_second_rule() -> None:
    theirs = {"ID": "team-tiering", "Filter": {"Prefix": "training-data/"}, "Status": "Enabled",
              "Transitions": [{"Days": 60, "StorageClass": "GLACIER_IR"}]}
    plan = merge([theirs], _desired())
    assert plan.rules[0] == theirs
    assert "cost-janitor:ml:training-data/" not in {r["ID"] for r in plan.rules}
    assert plan.conflicts and "team-tiering" in plan.conflicts[0]


def test_a_changed_profile_updates_only_our_rule_and_drops_ours_no_longer_wanted() -> None:
    old = merge(USER_RULES, _desired()).rules
    changed = Policy.model_validate({"lifecycle": {"profiles": {"ml": {"rules": [
        {"prefix": "training-data/", "transitions": [{"days": 45, "storage_class": "STANDARD_IA"}]}]}}}})
    plan = merge(old, desired_rules("ml", changed.lifecycle.profiles["ml"], versioned=True)[0])
    assert plan.updated == ["cost-janitor:ml:training-data/"]
    assert sorted(plan.removed) == ["cost-janitor:ml:*", "cost-janitor:ml:checkpoints/", "cost-janitor:ml:experiments/"]
    assert plan.rules[: len(USER_RULES)] == USER_RULES


def test_more_than_1000_rules_is_refused_and_nothing_changes() -> None:
    users = [{"ID": f"u{n}", "Filter": {"Prefix": f"p{n}/"}, "Status": "Enabled", "Expiration": {"Days": 5}}
             for n in range(998)]
    plan = merge(users, _desired())
    assert not plan.changed and any("1000" in c for c in plan.conflicts)


def test_diff_shows_the_exact_change() -> None:
    plan = merge(USER_RULES[:1], _desired())
    text = diff(USER_RULES[:1], plan.rules)
    assert '+      "ID": "cost-janitor:ml:experiments/",' in text
    assert not [line for line in text.splitlines() if line.startswith("-") and not line.startswith("---")]


# -- the property: for any existing configuration, no user rule is ever dropped or altered ---------------------

_prefix = st.sampled_from(["", "training-data/", "experiments/", "checkpoints/", "logs/", "raw/", "x/y/"])
_tags = st.lists(st.fixed_dictionaries({"Key": st.sampled_from(["a", "team", "tier"]),
                                        "Value": st.text(min_size=1, max_size=5)}), max_size=2)
_filter = st.one_of(
    st.builds(lambda p: {"Filter": {"Prefix": p}}, _prefix),
    st.builds(lambda t: {"Filter": {"Tag": t[0]}} if t else {"Filter": {}}, _tags),
    st.builds(lambda p, t, size: {"Filter": {"And": {"Prefix": p, "Tags": t, "ObjectSizeGreaterThan": size}}},
              _prefix, _tags, st.integers(0, 10 ** 9)),
    st.builds(lambda p: {"Prefix": p}, _prefix),
    st.builds(lambda lo: {"Filter": {"ObjectSizeLessThan": lo}}, st.integers(1, 10 ** 9)),
)
_actions = st.fixed_dictionaries({}, optional={
    "Expiration": st.builds(lambda d: {"Days": d}, st.integers(1, 3650)),
    "Transitions": st.lists(st.builds(lambda d, c: {"Days": d, "StorageClass": c}, st.integers(0, 400),
                                      st.sampled_from(["STANDARD_IA", "GLACIER", "DEEP_ARCHIVE"])), max_size=2),
    "NoncurrentVersionExpiration": st.builds(lambda d: {"NoncurrentDays": d}, st.integers(1, 400)),
    "AbortIncompleteMultipartUpload": st.builds(lambda d: {"DaysAfterInitiation": d}, st.integers(1, 30)),
})
_user_rule = st.builds(lambda n, f, a, status: {"ID": f"user-{n}", **f, "Status": status, **a},
                       st.text(min_size=1, max_size=8), _filter, _actions, st.sampled_from(["Enabled", "Disabled"]))
_our_old_rule = st.builds(lambda p, d: {"ID": f"cost-janitor:ml:{p or '*'}", "Filter": {"Prefix": p},
                                        "Status": "Enabled", "Expiration": {"Days": d}}, _prefix, st.integers(1, 99))


@settings(max_examples=600, deadline=None)
@given(users=st.lists(_user_rule, max_size=8), ours=st.lists(_our_old_rule, max_size=3), shuffle=st.randoms(),
       versioned=st.booleans())
def test_no_user_rule_is_ever_dropped_or_altered(users: list[dict[str, Any]], ours: list[dict[str, Any]],
                                                 shuffle: Any, versioned: bool) -> None:
    existing = users + ours
    shuffle.shuffle(existing)
    plan = merge(existing, desired_rules("ml", ML, versioned=versioned)[0])
    kept_users = [r for r in plan.rules if not is_janitor_rule(r)]
    assert kept_users == [r for r in existing if not is_janitor_rule(r)]  # every one, byte for byte, in order
    assert len({r["ID"] for r in plan.rules if is_janitor_rule(r)}) == len([r for r in plan.rules
                                                                            if is_janitor_rule(r)])
    assert not merge(plan.rules, desired_rules("ml", ML, versioned=versioned)[0]).changed


def test_savings_are_an_upper_bound_that_says_what_it_assumed() -> None:
    savings = tiering_savings(ML, 10 * 1024 * GB)
    assert savings is not None and savings.monthly_usd == round(10 * 1024 * (0.023 - 0.0036), 2)
    assert "upper bound" in savings.explanation and "GLACIER" in savings.explanation
    assert tiering_savings(ML, None) is None


@pytest.mark.parametrize("tags, opt_in, env, mark, delete", [
    ({}, True, "dev", True, False),
    ({"cost-janitor:unattached-since": "2026-11-20T00:00:00+00:00"}, True, "dev", False, False),
    ({"cost-janitor:unattached-since": "2026-11-01T00:00:00+00:00"}, False, "dev", False, False),
    ({"cost-janitor:unattached-since": "2026-11-01T00:00:00+00:00"}, True, "dev", False, True),
    ({"cost-janitor:unattached-since": "2026-11-01T00:00:00+00:00"}, True, "prod", False, False),
    ({"cost-janitor:unattached-since": "2026-11-01T00:00:00+00:00", "cost-janitor:opt-out": "true"}, True,
     "dev", False, False),
], ids=["first-sighting-marks", "too-recent", "old-but-not-opted-in", "old-dev-opted-in", "old-prod-never",
        "exempt"])
def test_unattached_volume(tags: dict[str, str], opt_in: bool, env: str, mark: bool, delete: bool) -> None:
    policy = Policy.model_validate({"storage": {"delete_unattached_volumes": opt_in}})
    verdict = judge_volume(size_gb=500, volume_type="gp3", tags={**tags, "environment": env}, policy=policy,
                           now=NOW)
    assert (verdict.mark, verdict.may_delete) == (mark, delete)
    assert verdict.monthly_usd == 40.0


def test_old_snapshots_no_ami_uses_are_reported_never_acted_on() -> None:
    from datetime import timedelta

    from cost_janitor.core.models import Snapshot
    from cost_janitor.core.storage import plan_snapshot

    old = Snapshot(snapshot_id="snap-1", size_gb=100, start_time=NOW - timedelta(days=400), tags={})
    finding = plan_snapshot(snapshot=old, used_by_ami=False, account="1", region="us-east-1", policy=POLICY, now=NOW,
                            run_id="r")
    assert finding is not None and finding.verdict == "unused" and finding.action is None
    assert finding.monthly_usd == 5.0 and "upper bound" in str(finding.price_source)
    assert plan_snapshot(snapshot=old, used_by_ami=True, account="1", region="us-east-1", policy=POLICY, now=NOW,
                         run_id="r") is None
    young = Snapshot(snapshot_id="snap-1", size_gb=100, start_time=NOW - timedelta(days=10), tags={})
    assert plan_snapshot(snapshot=young, used_by_ami=False, account="1", region="us-east-1", policy=POLICY,
                         now=NOW, run_id="r") is None


def test_a_bucket_tagged_with_an_unknown_profile_is_reported_not_guessed() -> None:
    from cost_janitor.core.storage import plan_bucket

    plan = plan_bucket(bucket="b", region="us-east-1", account="1", tags={"cost-janitor:lifecycle-profile": "mll"},
                       versioned=False, current=BucketLifecycle(), standard_bytes=None, policy=POLICY, now=NOW,
                       run_id="r")
    assert plan.configuration is None and plan.finding is not None
    assert "unknown lifecycle profile 'mll'" in plan.finding.reason


def _plan(current: BucketLifecycle) -> Any:
    from cost_janitor.core.storage import plan_bucket

    return plan_bucket(bucket="b", region="us-east-1", account="1", tags={"cost-janitor:lifecycle-profile": "ml"},
                       versioned=True, current=current, standard_bytes=None, policy=POLICY, now=NOW, run_id="r")


def test_a_bucket_with_legacy_v1_rules_is_left_to_its_team_with_a_finding_that_says_how_to_fix_it() -> None:
    legacy = [{"ID": "tmp", "Prefix": "tmp/", "Status": "Enabled", "Expiration": {"Days": 1}}]
    plan = _plan(BucketLifecycle(legacy))
    assert plan.configuration is None and plan.finding is not None
    assert (plan.finding.verdict, plan.finding.action) == ("conflict", None)
    assert "legacy V1 form" in plan.finding.reason and "Filter.Prefix" in plan.finding.reason


def test_the_buckets_default_minimum_object_size_is_written_back_unchanged() -> None:
    user = [{"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}]
    plan = _plan(BucketLifecycle(user, "varies_by_storage_class"))
    assert plan.configuration is not None and plan.configuration.min_object_size == "varies_by_storage_class"
    assert plan.configuration.rules[0] == user[0]
