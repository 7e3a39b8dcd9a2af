"""AMI reads for the AMIs family: the account's own images (EC2), what uses them (launch template versions, launch
configurations, instances), and the region's Recycle Bin rules (rbin). Every call counted; what cannot be read is
None, never 'nothing uses it' or 'no rule'."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.ec2 import tags_of
from cost_janitor.core.amis import MachineImage, RecycleBin


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class AmiInventory:
    def __init__(self, ec2: Any, autoscaling: Any, rbin: Any, region: str, account: str) -> None:
        self._ec2, self._asg, self._rbin, self._region, self._account = ec2, autoscaling, rbin, region, account
        self.calls: dict[str, int] = {}

    def _pages(self, client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        name = "".join(p.capitalize() for p in operation.split("_"))
        for page in client.get_paginator(operation).paginate(**kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            out += page.get(key, [])
        return out

    def images(self, ids: Sequence[str] | None = None) -> list[MachineImage]:
        scope: dict[str, Any] = {"ImageIds": list(ids)} if ids is not None else {}
        raw = self._pages(self._ec2, "describe_images", "Images", Owners=["self"], **scope)
        return [MachineImage(image_id=i["ImageId"], name=i.get("Name"), region=self._region,
                             account=i.get("OwnerId") or self._account, created=_when(i.get("CreationDate")),
                             last_launched=_when(i.get("LastLaunchedTime")), state=i.get("State", ""),
                             snapshots=tuple((b["Ebs"]["SnapshotId"], int(b["Ebs"].get("VolumeSize") or 0))
                                             for b in i.get("BlockDeviceMappings", [])
                                             if (b.get("Ebs") or {}).get("SnapshotId")),
                             tags=tags_of(i)) for i in raw]

    def users(self) -> dict[str, list[str]] | None:
        """Image → what uses it: any launch template version, launch configuration, or instance not terminated.
        None when any of these could not be read."""
        used: dict[str, list[str]] = {}
        try:
            for t in self._pages(self._ec2, "describe_launch_templates", "LaunchTemplates"):
                for v in self._pages(self._ec2, "describe_launch_template_versions", "LaunchTemplateVersions",
                                     LaunchTemplateId=t["LaunchTemplateId"]):
                    image = (v.get("LaunchTemplateData") or {}).get("ImageId")
                    if image:
                        used.setdefault(image, []).append(f"{t['LaunchTemplateName']} v{v.get('VersionNumber')}")
            for c in self._pages(self._asg, "describe_launch_configurations", "LaunchConfigurations"):
                used.setdefault(c["ImageId"], []).append(f"launch configuration {c['LaunchConfigurationName']}")
            states = ["pending", "running", "shutting-down", "stopping", "stopped"]
            for r in self._pages(self._ec2, "describe_instances", "Reservations",
                                 Filters=[{"Name": "instance-state-name", "Values": states}]):
                for i in r.get("Instances", []):
                    used.setdefault(i.get("ImageId", ""), []).append(f"instance {i['InstanceId']}")
        except ClientError:
            return None
        return used

    def recycle_bin(self) -> RecycleBin | None:
        try:
            rules = {kind: tuple(r["Identifier"] for r in self._pages(self._rbin, "list_rules", "Rules",
                                                                        ResourceType=kind))
                     for kind in ("EBS_SNAPSHOT", "EC2_IMAGE")}
        except ClientError:
            return None
        return RecycleBin(snapshot_rules=rules["EBS_SNAPSHOT"], image_rules=rules["EC2_IMAGE"])
