"""AMIs and their snapshots (core/amis.py): images nobody launches and nothing uses are reported with their snapshots'
dollars; a dev one is deregistered and its own snapshots deleted only with the opt-in
(amis.deregister_unused_dev_images), after the mark (on the image and its snapshots) and the grace period, only if
still unused just before and only where a Recycle Bin retention rule for EBS snapshots exists in its region (the way
back). Prod is asked; an image something uses is never touched; a Recycle Bin rule is never changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cost_janitor.adapters.amis import AmiInventory
from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.core.amis import IMAGE_TYPE, classify_image, recheck_image, snapshots_of, what_happens
from cost_janitor.core.models import ActionKind, Finding, FindingKind, LedgerRecord
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import storage_digest
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

# EC2 images and snapshots have no account in their ARN (Service Authorization Reference, Amazon EC2 resource types)
IMAGES, SNAPSHOTS = Arn("ec2", "image", accountless=True), Arn("ec2", "snapshot", accountless=True)


def _mark(ec2: Any, api: Api, f: Finding, r: Run) -> None:
    """The image and its own snapshots carry the mark (the snapshots' delete is allowed only on marked ones)."""
    api(ec2.create_tags, Resources=[f.resource_id, *snapshots_of(f)],
        Tags=[{"Key": r.policy.exemptions.idle_since_tag, "Value": r.now.isoformat(timespec="seconds")}])


def _unmark(ec2: Any, api: Api, f: Finding, r: Run) -> None:
    api(ec2.delete_tags, Resources=[f.resource_id, *snapshots_of(f)],
        Tags=[{"Key": r.policy.exemptions.idle_since_tag}])


def _deregister(ec2: Any, api: Api, f: Finding, r: Run) -> None:
    """The image first (a snapshot an image uses cannot be deleted), then its own snapshots, into the Recycle Bin."""
    api(ec2.deregister_image, ImageId=f.resource_id)
    for snapshot in snapshots_of(f):
        api(ec2.delete_snapshot, SnapshotId=snapshot)


def _inventory(region: str) -> AmiInventory:
    return AmiInventory(client("ec2", region), client("autoscaling", region), client("rbin", region), region,
                        own_account())


class Amis:
    name = "amis"
    service = "amis"
    resource_types = (IMAGE_TYPE,)
    rechecked = (ActionKind.DEREGISTER_IMAGE,)
    answered = (IMAGES,)
    actions = {
        ActionKind.MARK_IDLE: Call("ec2", ("ec2:CreateTags",), each(_mark), batch=False),
        ActionKind.UNMARK_IDLE: Call("ec2", ("ec2:DeleteTags",), each(_unmark), batch=False),
        ActionKind.DEREGISTER_IMAGE: Call("ec2", ("ec2:DeregisterImage", "ec2:DeleteSnapshot"), each(_deregister),
                                          batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        inventory = _inventory(region)
        with counted(night, inventory.calls, prefix="amis:"):
            images = inventory.images()
            if not images:
                return []
            users, rbin = inventory.users(), inventory.recycle_bin()
        counts: dict[str, int] = {}
        for img in images:
            for snapshot, _ in img.snapshots:
                counts[snapshot] = counts.get(snapshot, 0) + 1
        shared = {s for s, n in counts.items() if n > 1}
        return [classify_image(img, None if users is None else users.get(img.image_id, []), shared, rbin,
                               night.policy, now=night.now, run_id=night.run_id) for img in images]

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each image about to be deregistered: described again, what uses it and the Recycle Bin rules read again."""
        inventory = _inventory(region)
        with counted(night, inventory.calls, prefix="amis:", suffix=" (re-check)"):
            current = {i.image_id: i for i in inventory.images([f.resource_id for f in planned])}
            users, rbin = inventory.users(), inventory.recycle_bin()
        return [recheck_image(f, current.get(f.resource_id),
                              None if users is None else users.get(f.resource_id, []), rbin, night.policy,
                              now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: the snapshots deleted are in the finding's evidence and the ledger (the way back)."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev, idle_key = dev_only(policy), only_tag_keys(policy.exemptions.idle_since_tag)
        grants = [
            Grant("ReadAmis", ("ec2:DescribeImages", "ec2:DescribeLaunchTemplates",
                               "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstances",
                               "autoscaling:DescribeLaunchConfigurations", "rbin:ListRules"),
                  why="ec2:Describe*, autoscaling:Describe* and rbin:ListRules have no resource-level permissions"),
            Grant("MarkOnlyDevImages", ("ec2:CreateTags",), (IMAGES,), {**dev, **idle_key},
                  why="AMIs of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("MarkImageSnapshots", ("ec2:CreateTags",), (SNAPSHOTS,), idle_key,
                  why="EBS snapshots of the policy's regions: the idle-since tag key only (a dev image's own)"),
            Grant("UnmarkImagesAndSnapshots", ("ec2:DeleteTags",), (IMAGES, SNAPSHOTS), idle_key),
            Grant("NeverChangeRecycleBin", ("rbin:DeleteRule", "rbin:UpdateRule", "rbin:LockRule",
                                            "rbin:UnlockRule"), deny=True),
        ]
        if policy.amis.deregister_unused_dev_images:
            grants += [
                Grant("DeregisterDevImagesOptIn", ("ec2:DeregisterImage",), (IMAGES,), dev),
                Grant("DeleteMarkedSnapshotsOptIn", ("ec2:DeleteSnapshot",), (SNAPSHOTS,),
                      {"Null": {f"aws:ResourceTag/{policy.exemptions.idle_since_tag}": "false"}}),
            ]
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return storage_digest(entries, kind=FindingKind.AMI, label="AMIs", now=now)


FAMILY: Family = Amis()
