"""Tag compliance without AWS: what was created and by whom, what its tags lack, and coverage."""

from __future__ import annotations

from typing import Any

import pytest

from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.core.tagging import (
    Created,
    check_tags,
    compliance_finding,
    coverage,
    created_resources,
    creator_of,
)
from cost_janitor.events import CloudTrailApiCall, parse_event
from tests.builders import NOW
from tests.conftest import load_event

POLICY = Policy.model_validate({"tagging": {"required": {"team": [], "project": [], "environment": ["dev", "prod"],
                                                         "cost-center": []}}})
GOOD = {"team": "vision", "project": "detector", "environment": "dev", "cost-center": "cc-1001"}


def _detail(name: str) -> Any:
    return parse_event(CloudTrailApiCall, load_event(f"cloudtrail/{name}.json")).detail


@pytest.mark.parametrize("sample, ids, kind", [
    ("run_instances_assumed_role_partial_tags", ["i-0a1b2c3d4e5f60718"], "ec2:instance"),
    ("run_instances_three_by_iam_user", ["i-0b2c3d4e5f6071829", "i-0c3d4e5f607182930", "i-0d4e5f60718293a41"],
     "ec2:instance"),
    ("create_volume_iam_user_no_tags", ["vol-0a1b2c3d4e5f60718"], "ec2:volume"),
    ("create_bucket", ["acme-ml-new-features"], "s3:bucket"),
    ("sagemaker_create_endpoint", ["ranker-canary"], "sagemaker:endpoint"),
    ("run_instances_failed", [], None),
], ids=["run-instances", "three-instances", "volume", "bucket-from-request", "sagemaker-endpoint",
        "failed-call-has-null-response"])
def test_created_resources_from_real_shaped_events(sample: str, ids: list[str], kind: str | None) -> None:
    d = _detail(sample)
    created = created_resources(d.event_name, d.event_source, d.aws_region, "123456789012", d.request_parameters,
                                d.response_elements)
    assert [c.resource_id for c in created] == ids
    assert all(c.resource_type == kind for c in created)


def test_bucket_and_instance_arns() -> None:
    d = _detail("create_bucket")
    [bucket] = created_resources(d.event_name, d.event_source, d.aws_region, "123456789012", d.request_parameters,
                                 d.response_elements)
    assert bucket.arn == "arn:aws:s3:::acme-ml-new-features"
    d = _detail("run_instances_assumed_role_partial_tags")
    [instance] = created_resources(d.event_name, d.event_source, d.aws_region, "123456789012",
                                   d.request_parameters, d.response_elements)
    assert instance.arn == "arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60718"


@pytest.mark.parametrize("sample, name, kind, behalf", [
    ("run_instances_assumed_role_partial_tags", "ana@example.com", "AssumedRole", "AWSReservedSSO_MLEngineer_2f1c"),
    ("run_instances_three_by_iam_user", "bo", "IAMUser", None),
    ("run_instances_by_auto_scaling", "autoscaling.amazonaws.com", "AssumedRole", "AWSServiceRoleForAutoScaling"),
    ("run_instances_root_by_auto_scaling", "autoscaling.amazonaws.com", "Root", "root"),
    ("run_instances_console_by_iam_user", "bo", "IAMUser", None),
], ids=["sso-session-email", "iam-user", "service-on-behalf", "service-on-behalf-of-root",
        "console-is-the-users-own-hands"])
def test_creator_from_user_identity(sample: str, name: str, kind: str, behalf: str | None) -> None:
    creator = creator_of(_detail(sample).user_identity)
    assert (creator.name, creator.kind, creator.on_behalf_of) == (name, kind, behalf)


@pytest.mark.parametrize("identity, name", [
    ({"type": "Root", "arn": "arn:aws:iam::123456789012:root"}, "root"),
    ({"type": "FederatedUser", "principalId": "123456789012:carol"}, "carol"),
    ({"type": "AWSService", "invokedBy": "sagemaker.amazonaws.com"}, "sagemaker.amazonaws.com"),
    ({"type": "AssumedRole", "principalId": "AROAEXAMPLE:ana@example.com", "invokedBy": "signin.amazonaws.com"},
     "ana@example.com"),
    ({"type": "IAMUser", "userName": "cy", "invokedBy": "AWS Internal"}, "cy"),
    ({"type": "AssumedRole", "principalId": "AROAEXAMPLE:cy@example.com", "invokedBy": "cloudshell.amazonaws.com"},
     "cy@example.com"),
    ({}, "unknown"),
], ids=["root", "federated", "aws-service", "console-sso-user", "console-internal", "cloudshell", "empty"])
def test_other_identities(identity: dict[str, Any], name: str) -> None:
    assert creator_of(identity).name == name


@pytest.mark.parametrize("tags, missing, invalid, wrong_case", [
    (GOOD, [], {}, {}),
    ({"team": "vision"}, ["project", "environment", "cost-center"], {}, {}),
    ({**GOOD, "environment": "qa"}, [], {"environment": "qa"}, {}),
    ({**{k: v for k, v in GOOD.items() if k != "team"}, "Team": "vision"}, [], {}, {"team": "Team"}),
    ({**GOOD, "project": "  "}, ["project"], {}, {}),
    ({**GOOD, "environment": "DEV"}, [], {}, {}),
], ids=["compliant", "partial", "value-not-allowed", "key-case-differs-is-a-warning", "blank-value",
        "value-case-insensitive"])
def test_check_tags(tags: dict[str, str], missing: list[str], invalid: dict[str, str],
                    wrong_case: dict[str, str]) -> None:
    result = check_tags(tags, POLICY)
    assert (result.missing, result.invalid, result.wrong_case) == (missing, invalid, wrong_case)


RESOURCE = Created("arn:aws:ec2:us-east-1:123456789012:instance/i-1", "i-1", "ec2:instance", "us-east-1")
ANA = creator_of(load_event("cloudtrail/run_instances_assumed_role_partial_tags.json")["detail"]["userIdentity"])


@pytest.mark.parametrize("tags, verdict, action", [
    ({"team": "vision"}, Verdict.NON_COMPLIANT, ActionKind.TAG_CREATED_BY),
    ({"team": "vision", "created-by": "ana@example.com"}, Verdict.NON_COMPLIANT, Ask.FIX_TAGS),
    ({**GOOD}, Verdict.COMPLIANT, ActionKind.TAG_CREATED_BY),
    ({**GOOD, "created-by": "ana@example.com"}, Verdict.COMPLIANT, None),
], ids=["partial-untagged-creator", "partial-with-creator", "compliant-needs-creator", "all-good"])
def test_compliance_finding(tags: dict[str, str], verdict: Verdict, action: ActionKind | Ask | None) -> None:
    f = compliance_finding(RESOURCE, tags, ANA, account="123456789012", policy=POLICY, now=NOW, run_id="e1")
    assert (f.verdict, f.action) == (verdict, action)
    assert f.owner == "ana@example.com"  # the creator's session is an email: they hear about it


def test_coverage_per_key_team_and_type_with_costliest_untagged_first() -> None:
    resources = [("arn:aws:ec2:us-east-1:1:instance/i-1", GOOD),
                 ("arn:aws:ec2:us-east-1:1:instance/i-2", {"team": "vision"}),
                 ("arn:aws:s3:::bucket-a", {"team": "search", "project": "x"}),
                 ("arn:aws:ec2:us-east-1:1:volume/vol-1", {})]
    result = coverage(resources, POLICY, {"arn:aws:ec2:us-east-1:1:instance/i-2": 730.0})
    assert result.by_key == {"team": 75.0, "project": 50.0, "environment": 25.0, "cost-center": 25.0}
    assert result.by_team == {"vision": 50.0, "search": 0.0, "(no team)": 0.0}
    assert result.by_type == {"ec2:instance": 50.0, "s3:bucket": 0.0, "ec2:volume": 0.0}
    assert result.top_untagged[0][0].endswith("i-2") and result.top_untagged[0][2] == 730.0
