"""Hostile and odd input: whatever arrives, the models refuse it with their own error — never a crash."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from cost_janitor.core.errors import BadEventError
from cost_janitor.core.policy import PolicyError, load_policy
from cost_janitor.events import (
    CloudTrailApiCall,
    CreationQueueEvent,
    FindingsQueueEvent,
    ReportEvent,
    ScheduledEvent,
    SlackInteraction,
    SpotEvent,
    parse_event,
)
from tests.conftest import load_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25)
MODELS: list[type[BaseModel]] = [ScheduledEvent, SpotEvent, ReportEvent, CloudTrailApiCall, FindingsQueueEvent,
                                 CreationQueueEvent, SlackInteraction]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(event=json_values)
def test_any_json_is_parsed_or_refused_with_a_bad_event_error(model: type[BaseModel], event: Any) -> None:
    try:
        parse_event(model, event)
    except BadEventError as exc:
        assert model.__name__ in str(exc)


SAMPLE = load_event("eventbridge/scheduled_nightly_sweep.json")


@settings(max_examples=200, deadline=None)
@given(key=st.sampled_from(sorted(SAMPLE)), value=json_values)
def test_a_real_event_with_one_field_broken_is_refused_or_accepted_never_crashes(key: str, value: Any) -> None:
    try:
        parsed = parse_event(ScheduledEvent, {**SAMPLE, key: value})
    except BadEventError as exc:
        assert key in str(exc) or "ScheduledEvent" in str(exc)
    else:
        assert isinstance(parsed, ScheduledEvent) and parsed.detail_type == "Scheduled Event"


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.sampled_from(["idle", "environments", "regions", "dry_run", "grace", "tagging",
                                             "lifecycle", "storage", "report", "slack", "spot", "x"]),
                            json_values, max_size=4))
def test_any_policy_is_loaded_or_refused_naming_fields(data: dict[str, Any]) -> None:
    try:
        load_policy(data)
    except PolicyError as exc:
        assert "policy." in str(exc)


@pytest.mark.parametrize("value", ["ü" * 256, "🚀 GPU box", "a" * 300, "", "  "], ids=["unicode-256", "emoji",
                                                                                     "too-long", "empty", "blank"])
def test_odd_tag_values_never_break_the_tag_check(value: str) -> None:
    from cost_janitor.core.tagging import check_tags

    result = check_tags({"team": value, "Team": value, "TEAM": "x"}, load_policy({}))
    assert isinstance(result.compliant, bool)


@pytest.mark.parametrize("region, expected", [
    ("us-east-1", "arn:aws:ec2:us-east-1:111122223333:instance/i-1"),
    ("cn-north-1", "arn:aws-cn:ec2:cn-north-1:111122223333:instance/i-1"),
    ("us-gov-west-1", "arn:aws-us-gov:ec2:us-gov-west-1:111122223333:instance/i-1"),
], ids=["aws", "china", "govcloud"])
def test_arns_are_built_in_the_regions_partition(region: str, expected: str) -> None:
    from cost_janitor.core.models import arn

    assert arn("ec2", region, "111122223333", "instance/i-1") == expected
    assert arn("s3", region, "", "bucket").startswith(expected.split(":ec2:")[0] + ":s3:::bucket")


def test_a_created_bucket_in_china_gets_a_china_arn() -> None:
    from cost_janitor.core.tagging import created_resources

    [bucket] = created_resources("CreateBucket", "s3.amazonaws.com", "cn-north-1", "111122223333",
                                 {"bucketName": "ml-data"}, None)
    assert bucket.arn == "arn:aws-cn:s3:::ml-data"


CLOUDTRAIL = {name: load_event(f"cloudtrail/{name}.json")["detail"] for name in (
    "run_instances_three_by_iam_user", "run_instances_assumed_role_partial_tags", "run_instances_by_auto_scaling",
    "create_volume_iam_user_no_tags", "create_bucket", "sagemaker_create_endpoint")}


def _spots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    return [path] + [p for key, child in children for p in _spots(child, (*path, key))]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_cloudtrail_record_of_another_shape_is_an_unexpected_shape_error_never_a_crash(data: Any) -> None:
    """One value anywhere in a real record's requestParameters, responseElements or userIdentity replaced by any
    JSON: the resources and the creator are found, or UnexpectedShape names the call — no other exception."""
    import copy

    from cost_janitor.core.tagging import UnexpectedShape, created_resources, creator_of

    detail = copy.deepcopy(CLOUDTRAIL[data.draw(st.sampled_from(sorted(CLOUDTRAIL)))])
    section = data.draw(st.sampled_from(["requestParameters", "responseElements", "userIdentity"]))
    spots = _spots(detail.get(section))
    path = data.draw(st.sampled_from(spots))
    value = data.draw(json_values)
    if path:
        parent = detail[section]
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
    else:
        detail[section] = value
    try:
        created_resources(detail["eventName"], detail["eventSource"], "us-east-1", "123456789012",
                          detail.get("requestParameters"), detail.get("responseElements"))
        creator_of(detail["userIdentity"])
    except UnexpectedShape as exc:
        assert "CloudTrail" in str(exc)
