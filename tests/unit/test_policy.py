"""The policy model: careful defaults, and a bad value is refused with the field named."""

from __future__ import annotations

import pytest

from cost_janitor.core.policy import Policy, PolicyError, load_policy, merge_overrides


def test_defaults_are_the_numbers_a_careful_team_would_choose() -> None:
    p = Policy()
    assert p.dry_run is True
    assert (p.idle.cpu_avg_pct, p.idle.lookback_days, p.idle.gpu_max_pct) == (5.0, 7, 10.0)
    assert p.environments.class_of(None) == "prod"
    assert p.environments.classes["prod"].on_idle == "ask"
    assert p.environments.classes["dev"].on_idle == "stop"
    assert set(p.tagging.required) == {"team", "project", "environment", "cost-center"}
    ml = p.lifecycle.profiles["ml"].rules
    assert [(r.prefix, [t.days for t in r.transitions], r.expire_days, r.noncurrent_expire_days) for r in ml][:3] == [
        ("training-data/", [30, 90], None, None), ("experiments/", [], 180, None), ("checkpoints/", [], None, 30)]


@pytest.mark.parametrize("tag, expected", [
    ("dev", "dev"), ("Dev", "dev"), (" SANDBOX ", "dev"), ("production", "prod"), ("qa", "prod"), ("", "prod"),
    (None, "prod"),
], ids=["dev", "case-insensitive", "padded", "prod-synonym", "unknown-is-default", "empty-is-default", "missing"])
def test_environment_class_of_a_tag_value(tag: str | None, expected: str) -> None:
    assert Policy().environments.class_of(tag) == expected


@pytest.mark.parametrize("data, field", [
    ({"idle": {"cpu_avg_pct": -1}}, "policy.idle.cpu_avg_pct"),
    ({"idle": {"gpu_max_pct": 150}}, "policy.idle.gpu_max_pct"),
    ({"idle": {"min_coverage": 0}}, "policy.idle.min_coverage"),
    ({"idle": {"schedule": "every night"}}, "policy.idle.schedule"),
    ({"idle": {"period_seconds": 60}}, "policy.idle.period_seconds"),
    ({"environments": {"default": "qa"}}, "policy.environments"),
    ({"environments": {"default": "dev"}}, "policy.environments"),
    ({"environments": {"classes": {"dev": {"values": ["dev"], "on_idle": "delete"}}, "default": "dev"}},
     "policy.environments.classes.dev.on_idle"),
    ({"environments": {"classes": {"a": {"values": ["x"], "on_idle": "ask"},
                                   "b": {"values": ["X"], "on_idle": "stop"}}, "default": "a"}},
     "policy.environments"),
    ({"environments": {"tag_key": "aws:environment"}}, "policy.environments.tag_key"),
    ({"regions": ["mars-north-1"]}, "policy.regions"),
    ({"grace": {"reask_after_days": 5, "escalate_after_days": 2}}, "policy.grace"),
    ({"thresholds": {}}, "policy.thresholds"),
    ({"lifecycle": {"buckets": {"data": "nope"}}}, "policy.lifecycle"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": 10, "storage_class": "STANDARD_IA"}]}]}}}}, "policy.lifecycle.profiles.p.rules.0"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": 90, "storage_class": "GLACIER"}, {"days": 60, "storage_class": "DEEP_ARCHIVE"}]}]}}}},
     "policy.lifecycle.profiles.p.rules.0"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "expire_days": 1}] * 1001}}}},
     "policy.lifecycle.profiles.p.rules"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": 30, "storage_class": "STANDARD_IA"}, {"days": 45, "storage_class": "GLACIER"}]}]}}}},
     "policy.lifecycle.profiles.p.rules.0"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": 40, "storage_class": "ONEZONE_IA"}, {"days": 69, "storage_class": "DEEP_ARCHIVE"}]}]}}}},
     "policy.lifecycle.profiles.p.rules.0"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": 30, "storage_class": "GLACIER"}, {"days": 90, "storage_class": "STANDARD_IA"}]}]}}}},
     "policy.lifecycle.profiles.p.rules.0"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": 30, "storage_class": "GLACIER_IR"}, {"days": 60, "storage_class": "GLACIER_IR"}]}]}}}},
     "policy.lifecycle.profiles.p.rules.0"),
    ({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "d/" * 122, "expire_days": 1}]}}}}, "policy.lifecycle"),
], ids=["negative-threshold", "gpu-over-100", "zero-coverage", "bad-schedule", "unsupported-period",
        "unknown-default-environment", "default-environment-that-stops", "unknown-action", "value-in-two-classes",
        "reserved-tag-key", "unknown-region", "escalate-before-reask", "unknown-key-is-a-typo",
        "bucket-with-unknown-profile", "ia-before-30-days", "transitions-out-of-order", "over-1000-rules",
        "glacier-under-30-days-after-ia", "deep-archive-under-30-days-after-one-zone-ia", "colder-class-first",
        "same-class-twice", "generated-rule-id-over-255-characters"])
def test_bad_policy_is_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(data)
    assert field in str(err.value)


@pytest.mark.parametrize("transitions", [
    [(30, "STANDARD_IA"), (60, "GLACIER")],
    [(30, "STANDARD_IA"), (45, "INTELLIGENT_TIERING"), (75, "DEEP_ARCHIVE")],
    [(0, "GLACIER_IR"), (1, "DEEP_ARCHIVE")],
    [(0, "INTELLIGENT_TIERING")],
], ids=["ia-then-glacier-30-days-later", "waterfall-of-three", "glacier-ir-on-day-0", "intelligent-tiering-day-0"])
def test_transitions_s3_accepts_are_accepted(transitions: list[tuple[int, str]]) -> None:
    load_policy({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": "a/", "transitions": [
        {"days": d, "storage_class": c} for d, c in transitions]}]}}}})


def test_the_longest_rule_id_s3_accepts_is_accepted() -> None:
    prefix = "d" * (255 - len("cost-janitor:p:"))
    policy = load_policy({"lifecycle": {"profiles": {"p": {"rules": [{"prefix": prefix, "expire_days": 1}]}}}})
    assert len(policy.lifecycle.profiles["p"].rules[0].rule_id("p")) == 255


def test_overrides_merge_deeply_without_dropping_siblings() -> None:
    merged = merge_overrides({"idle": {"cpu_avg_pct": 5, "gpu_max_pct": 10}, "dry_run": True},
                             {"idle": {"cpu_avg_pct": 3}})
    assert merged == {"idle": {"cpu_avg_pct": 3, "gpu_max_pct": 10}, "dry_run": True}


def test_stop_values_are_only_the_classes_that_may_be_stopped() -> None:
    assert "prod" not in Policy().environments.stop_values()
    assert "dev" in Policy().environments.stop_values()


def test_policy_round_trips_through_json() -> None:
    p = Policy()
    assert load_policy(p.model_dump(mode="json")) == p
