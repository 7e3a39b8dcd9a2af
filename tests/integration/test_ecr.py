"""The ECR family against a real moto server (repositories, images with the push and pull times ECR records, lifecycle
policies): a dev repository with old untagged images gets the janitor's rule after the grace, merged after the team's
rules, each team rule unchanged; prod is asked; unpulled tagged images are reported and never expired by the janitor;
ECR's lifecycle rules are enforced by the emulator. Each call is held to the sweep's synthesized role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.ecr import JANITOR, REPOSITORY_TYPE
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import ecr
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.emulator.seeding import seed_repository
from cost_janitor.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
OPT_IN = Policy.model_validate({"idle": {"services": ["ecr"]}, "ecr": {"put_lifecycle_policies": True}})
DEV = {"environment": "dev", "team": "cv", "owner": "cy@example.com"}
MARK = "cost-janitor:idle-since"
TEAM = {"rulePriority": 10, "description": "keep the last 20 releases",
        "selection": {"tagStatus": "tagged", "tagPrefixList": ["release"], "countType": "imageCountMoreThan",
                      "countNumber": 20}, "action": {"type": "expire"}}


@pytest.fixture
def world(aws: LocalAws) -> dict[str, str]:
    """"detector" (dev, the team's release rule, 3 untagged builds of 2 GB a month old), "ranker" (prod, untagged
    builds), "archive" (dev, tagged images nobody pulled for 200 days, one with no pull recorded)."""
    return {
        "detector": seed_repository(aws, "detector", tags=DEV, policy_text=json.dumps({"rules": [TEAM]}),
                                    images=[((), 2.0, 30, 28), ((), 2.0, 31, None), ((), 2.0, 32, None),
                                            (("release-7",), 2.0, 5, 1)]),
        "ranker": seed_repository(aws, "ranker", tags={"environment": "prod", "team": "search"},
                                  images=[((), 1.0, 40, None), (("v3",), 1.0, 2, 1)]),
        "archive": seed_repository(aws, "archive", tags=DEV,
                                   images=[(("v1",), 4.0, 400, 200), (("v2",), 3.0, 400, None)]),
    }


def _sweep(run_id: str, *, dry_run: bool = False) -> dict[str, Finding]:
    report = idle_sweep.run(OPT_IN, Settings.from_env(), now=NOW, run_id=run_id, dry_run=dry_run,
                            families=[ecr.FAMILY])
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}


def _rules(aws: LocalAws, name: str) -> list[dict[str, Any]]:
    text = aws.client("ecr").get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    return list(json.loads(text)["rules"])


def _tags(aws: LocalAws, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws.client("ecr").list_tags_for_resource(resourceArn=arn)["tags"]}


def test_old_untagged_images_get_the_janitors_rule_after_the_grace_merged_after_the_teams(
        aws: LocalAws, janitor: Any, world: dict[str, str]) -> None:
    janitor(OPT_IN)
    found = _sweep("night-1")
    detector, ranker = found["detector"], found["ranker"]
    assert detector.resource_type == REPOSITORY_TYPE
    assert (detector.verdict, detector.action, detector.action_status) == (Verdict.CHANGE_PROPOSED,
                                                                           ActionKind.MARK_IDLE, "done")
    assert detector.monthly_usd == round(6.0 * 0.10, 2) and detector.evidence["untagged_old"] == 3
    assert (ranker.verdict, ranker.action) == (Verdict.CHANGE_PROPOSED, Ask.REVIEW)
    assert _rules(aws, "detector") == [TEAM] and MARK in _tags(aws, world["detector"])

    aws.client("ecr").tag_resource(resourceArn=world["detector"], tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    dry = _sweep("night-2-dry", dry_run=True)["detector"]
    assert (dry.action, dry.action_status) == (ActionKind.SET_ECR_LIFECYCLE, "dry-run")
    assert _rules(aws, "detector") == [TEAM]

    again = _sweep("night-2")["detector"]
    assert (again.action, again.action_status) == (ActionKind.SET_ECR_LIFECYCLE, "done"), again.notes
    rules = _rules(aws, "detector")
    assert rules[0] == TEAM  # the team's rule, unchanged
    assert rules[1]["rulePriority"] == 11 and rules[1]["description"].startswith(JANITOR)
    assert rules[1]["selection"]["tagStatus"] == "untagged"
    assert MARK not in _tags(aws, world["detector"])
    with pytest.raises(aws.client("ecr").exceptions.LifecyclePolicyNotFoundException):
        aws.client("ecr").get_lifecycle_policy(repositoryName="ranker")  # prod: only asked
    third = _sweep("night-3")["detector"]
    assert (third.verdict, third.action) == (Verdict.COMPLIANT, None)


def test_unpulled_tagged_images_are_reported_and_a_missing_pull_record_is_not_counted(
        aws: LocalAws, janitor: Any, world: dict[str, str]) -> None:
    janitor(OPT_IN)
    archive = _sweep("night-1")["archive"]
    assert (archive.verdict, archive.action) == (Verdict.UNUSED, Ask.REVIEW)
    assert archive.monthly_usd == round(4.0 * 0.10, 2)  # v2 has no recorded pull: not counted
    assert archive.evidence["no_pull_recorded"] == 1 and "never expires a tagged image" in archive.reason
    with pytest.raises(aws.client("ecr").exceptions.LifecyclePolicyNotFoundException):
        aws.client("ecr").get_lifecycle_policy(repositoryName="archive")


@pytest.mark.parametrize(("rules", "problem"), [
    ([dict(TEAM), {**TEAM, "description": "twice"}], "unique rulePriority"),
    ([{**TEAM, "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                "countNumber": 5}}, TEAM], "highest rulePriority"),
], ids=["duplicate_priority", "any_not_last"])
def test_the_emulator_refuses_what_ecr_refuses(aws: LocalAws, world: dict[str, str], rules: list[dict[str, Any]],
                                               problem: str) -> None:
    client = aws.client("ecr")
    with pytest.raises(client.exceptions.InvalidParameterException, match=problem):
        client.put_lifecycle_policy(repositoryName="detector", lifecyclePolicyText=json.dumps({"rules": rules}))
