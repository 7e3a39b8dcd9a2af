"""The AMIs family against a real moto server (images with their snapshots, launch templates, and the emulator's
Recycle Bin): an unused dev image is marked with its snapshots, then deregistered and its snapshots deleted after the
grace — only once a Recycle Bin rule for snapshots exists; an image a launch template uses is never touched; prod is
asked. Each call is held to the sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.amis import IMAGE_TYPE
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import amis
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.emulator.seeding import seed_image
from cost_janitor.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
OPT_IN = Policy.model_validate({"idle": {"services": ["amis"]}, "amis": {"deregister_unused_dev_images": True}})
DEV = {"environment": "dev", "team": "cv", "owner": "ana@example.com"}
MARK = "cost-janitor:idle-since"


@pytest.fixture
def world(aws: LocalAws) -> dict[str, str]:
    """"exp-17" (dev, last launched 200 days ago), "serving" (dev, as old, but a launch template uses it), "golden"
    (prod, as old), "recent" (dev, launched last week), "ancient" (dev, no launch recorded)."""
    ids = {name: seed_image(aws, name, tags={**tags, "Name": name}, created_days_ago=400, launched_days_ago=days)
           for name, tags, days in (("exp-17", DEV, 200), ("serving", DEV, 200),
                                    ("golden", {"environment": "prod", "team": "platform"}, 200),
                                    ("recent", DEV, 7), ("ancient", DEV, None))}
    aws.client("ec2").create_launch_template(LaunchTemplateName="serving-lt",
                                             LaunchTemplateData={"ImageId": ids["serving"]})
    return ids


def _sweep(run_id: str, *, dry_run: bool = False) -> dict[str, Finding]:
    report = idle_sweep.run(OPT_IN, Settings.from_env(), now=NOW, run_id=run_id, dry_run=dry_run,
                            families=[amis.FAMILY])
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}


def _images(aws: LocalAws) -> dict[str, dict[str, Any]]:
    return {i["ImageId"]: i for i in aws.client("ec2").describe_images(Owners=["self"])["Images"]}


def _snapshots(aws: LocalAws) -> dict[str, dict[str, str]]:
    found = aws.client("ec2").describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return {s["SnapshotId"]: {t["Key"]: t["Value"] for t in s.get("Tags", [])} for s in found}


def test_an_unused_dev_image_goes_only_once_the_recycle_bin_keeps_snapshots(aws: LocalAws, janitor: Any,
                                                                            world: dict[str, str]) -> None:
    janitor(OPT_IN)
    found = _sweep("night-1")
    exp = found[world["exp-17"]]
    assert exp.resource_type == IMAGE_TYPE
    assert (exp.verdict, exp.action, exp.action_status) == (Verdict.UNUSED, Ask.REVIEW, None)  # no bin rule yet
    assert any("no Recycle Bin retention rule" in n for n in exp.notes)
    assert exp.monthly_usd == round(15 * 0.05, 2)
    serving, golden = found[world["serving"]], found[world["golden"]]
    assert serving.verdict == Verdict.BUSY and "serving-lt" in serving.reason
    assert (golden.verdict, golden.action) == (Verdict.UNUSED, Ask.REVIEW)
    assert found[world["recent"]].verdict == Verdict.BUSY
    assert (found[world["ancient"]].verdict, found[world["ancient"]].action) == (Verdict.CANNOT_JUDGE, None)

    # the team keeps deleted snapshots for 7 days: the next night marks the image and its snapshot
    aws.client("rbin").create_rule(ResourceType="EBS_SNAPSHOT", Description="keep deleted snapshots a week",
                                   RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"})
    marked = _sweep("night-2")[world["exp-17"]]
    assert (marked.action, marked.action_status) == (ActionKind.MARK_IDLE, "done")
    [snapshot] = str(marked.evidence["snapshots"]).split(",")
    assert MARK in _snapshots(aws)[snapshot]

    # the grace passes; dry-run first, then the deregistration
    ec2 = aws.client("ec2")
    ec2.create_tags(Resources=[world["exp-17"], snapshot], Tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    dry = _sweep("night-3-dry", dry_run=True)[world["exp-17"]]
    assert (dry.action, dry.action_status) == (ActionKind.DEREGISTER_IMAGE, "dry-run")
    assert world["exp-17"] in _images(aws) and snapshot in _snapshots(aws)
    done = _sweep("night-3")[world["exp-17"]]
    assert (done.action, done.action_status) == (ActionKind.DEREGISTER_IMAGE, "done"), done.notes
    assert world["exp-17"] not in _images(aws) and snapshot not in _snapshots(aws)
    assert {world["serving"], world["golden"], world["recent"], world["ancient"]} <= set(_images(aws))


def test_an_image_a_launch_template_uses_is_never_touched(aws: LocalAws, janitor: Any, world: dict[str, str]) -> None:
    janitor(OPT_IN)
    aws.client("rbin").create_rule(ResourceType="EBS_SNAPSHOT",
                                   RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"})
    aws.client("ec2").create_tags(Resources=[world["serving"]], Tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=9)).isoformat()}])
    serving = _sweep("night-1")[world["serving"]]
    assert (serving.verdict, serving.action, serving.action_status) == (Verdict.BUSY, ActionKind.UNMARK_IDLE, "done")
    assert world["serving"] in _images(aws)


def test_an_image_used_by_the_sixteenth_launch_template_is_still_seen(aws: LocalAws, janitor: Any,
                                                                      world: dict[str, str]) -> None:
    """moto answered 15 launch templates and no NextToken; EC2 pages. The image the sixteenth uses is in use."""
    janitor(OPT_IN)
    ec2 = aws.client("ec2")
    for n in range(16):
        ec2.create_launch_template(LaunchTemplateName=f"filler-{n:02d}", LaunchTemplateData={"ImageId": "ami-0000"})
    ec2.create_launch_template(LaunchTemplateName="zz-late", LaunchTemplateData={"ImageId": world["exp-17"]})
    found = _sweep("night-1")[world["exp-17"]]
    assert found.verdict == Verdict.BUSY and "zz-late" in found.reason
