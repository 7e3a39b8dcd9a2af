"""EC2 inventory: running instances with what the idle decision needs, in as few calls as EC2 allows."""

from __future__ import annotations

from typing import Any

from cost_janitor.adapters.executor import Call, ids
from cost_janitor.core.addresses import Address
from cost_janitor.core.errors import AUTHORIZATION_ERRORS, PermissionMissing
from cost_janitor.core.models import ActionKind, Instance, Snapshot, Volume

ASG_TAG = "aws:autoscaling:groupName"


def tags_of(raw: dict[str, Any]) -> dict[str, str]:
    """EC2's Tags list as a dict."""
    return {t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])}


class Ec2Inventory:
    def __init__(self, client: Any, region: str) -> None:
        self._ec2 = client
        self._region = region
        self.calls = 0

    def running_instances(self) -> list[Instance]:
        """Every running instance in the region (paginated), with spot request types resolved in bulk."""
        return self._describe([{"Name": "instance-state-name", "Values": ["running"]}])

    def current(self, instance_ids: list[str]) -> dict[str, Instance]:
        """These instances as they are now, in any state. An id EC2 no longer knows is simply absent: they are
        asked for with a filter, not InstanceIds, so one vanished instance does not fail the call."""
        found: dict[str, Instance] = {}
        for start in range(0, len(instance_ids), 200):
            found.update((i.instance_id, i) for i in self._describe(
                [{"Name": "instance-id", "Values": instance_ids[start:start + 200]}]))
        return found

    def _describe(self, filters: list[dict[str, Any]]) -> list[Instance]:
        raw: list[tuple[str, dict[str, Any]]] = []
        pages = self._ec2.get_paginator("describe_instances").paginate(
            Filters=filters, PaginationConfig={"PageSize": 1000})
        for page in pages:
            self.calls += 1
            for reservation in page.get("Reservations", []):
                raw.extend((reservation.get("OwnerId", ""), i) for i in reservation.get("Instances", []))
        spot_types = self._spot_request_types([i["SpotInstanceRequestId"] for _, i in raw
                                               if i.get("SpotInstanceRequestId")])
        return [self._instance(owner, i, spot_types) for owner, i in raw]

    def _spot_request_types(self, request_ids: list[str]) -> dict[str, str]:
        """A filter, not ids: a request that has gone must not fail the inventory (unknown = one-time)."""
        types: dict[str, str] = {}
        for start in range(0, len(request_ids), 200):
            pages = self._ec2.get_paginator("describe_spot_instance_requests").paginate(
                Filters=[{"Name": "spot-instance-request-id", "Values": request_ids[start:start + 200]}])
            for page in pages:
                self.calls += 1
                for request in page.get("SpotInstanceRequests", []):
                    types[request["SpotInstanceRequestId"]] = request.get("Type", "one-time")
        return types

    def _instance(self, owner: str, raw: dict[str, Any], spot_types: dict[str, str]) -> Instance:
        tags = tags_of(raw)
        lifecycle = raw.get("InstanceLifecycle") or "on-demand"
        spot_type = spot_types.get(raw.get("SpotInstanceRequestId", ""))
        return Instance(
            instance_id=raw["InstanceId"],
            region=self._region,
            account=owner,
            instance_type=raw["InstanceType"],
            launch_time=raw["LaunchTime"],
            tags=tags,
            lifecycle=lifecycle,
            spot_request_type=spot_type if lifecycle == "spot" else None,
            root_device_type=raw.get("RootDeviceType", "ebs"),
            asg_name=tags.get(ASG_TAG),
            hibernation_configured=bool(raw.get("HibernationOptions", {}).get("Configured")),
            availability_zone=raw.get("Placement", {}).get("AvailabilityZone"),
            state=raw.get("State", {}).get("Name", "running"),
        )

    def stop_protection(self, instance_ids: list[str]) -> dict[str, bool]:
        """DisableApiStop of each instance (one DescribeInstanceAttribute each: EC2 has no batch form, so only the
        few the janitor is about to mark or stop are asked). One that has gone meanwhile is left out (unknown: the
        re-check before a stop finds it gone). A refusal is systemic (the role lacks
        ec2:DescribeInstanceAttribute): it raises PermissionMissing rather than marking protected boxes nightly."""
        from botocore.exceptions import ClientError

        out: dict[str, bool] = {}
        for instance_id in instance_ids:
            self.calls += 1
            try:
                value = self._ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="disableApiStop")
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in AUTHORIZATION_ERRORS:
                    raise PermissionMissing(f"ec2:DescribeInstanceAttribute refused ({code}): the sweep's role "
                                            "must allow it to read stop protection") from exc
                if code.startswith("InvalidInstanceID"):
                    continue
                raise
            out[instance_id] = bool(value.get("DisableApiStop", {}).get("Value"))
        return out

    def addresses(self, owner: str) -> list[Address]:
        """Every Elastic IP address of the region, with its association, pool and tags (one DescribeAddresses: it
        has no pagination and returns them all)."""
        self.calls += 1
        return [Address(public_ip=a["PublicIp"], region=self._region, account=owner,
                        allocation_id=a.get("AllocationId"), association_id=a.get("AssociationId"),
                        instance_id=a.get("InstanceId") or None,
                        network_interface_id=a.get("NetworkInterfaceId") or None,
                        pool=a.get("PublicIpv4Pool"), border_group=a.get("NetworkBorderGroup"), tags=tags_of(a))
                for a in self._ec2.describe_addresses().get("Addresses", [])]

    def instance(self, instance_id: str) -> Instance | None:
        """One instance in any state, or None when EC2 no longer knows it."""
        from botocore.exceptions import ClientError

        try:
            reservations = self._ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
                return None
            raise
        self.calls += 1
        raw = [(r.get("OwnerId", ""), i) for r in reservations for i in r["Instances"]]
        return self._instance(raw[0][0], raw[0][1], {}) if raw else None


class Ebs:
    """Unattached volumes, snapshots and the snapshots AMIs use."""

    def __init__(self, client: Any) -> None:
        self._ec2 = client

    def unattached_volumes(self) -> list[Volume]:
        pages = self._ec2.get_paginator("describe_volumes").paginate(
            Filters=[{"Name": "status", "Values": ["available"]}])
        return [Volume(volume_id=v["VolumeId"], size_gb=v["Size"], volume_type=v.get("VolumeType", "gp2"),
                       availability_zone=v.get("AvailabilityZone"), tags=tags_of(v))
                for page in pages for v in page.get("Volumes", [])]

    def snapshot_states(self, snapshot_ids: list[str]) -> dict[str, str]:
        if not snapshot_ids:
            return {}
        pages = self._ec2.get_paginator("describe_snapshots").paginate(
            Filters=[{"Name": "snapshot-id", "Values": snapshot_ids}])
        return {s["SnapshotId"]: s["State"] for page in pages for s in page.get("Snapshots", [])}

    def own_snapshots(self) -> list[Snapshot]:
        pages = self._ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"])
        return [Snapshot(snapshot_id=s["SnapshotId"], size_gb=s.get("VolumeSize", 0), start_time=s["StartTime"],
                         tags=tags_of(s)) for page in pages for s in page.get("Snapshots", [])]

    def ami_snapshot_ids(self) -> set[str]:
        images = self._ec2.describe_images(Owners=["self"]).get("Images", [])
        return {m["Ebs"]["SnapshotId"] for i in images for m in i.get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")}


# EC2 resources (instances, Elastic IP allocations) are marked and unmarked with EC2's own tag API, with DryRun.
MARKS: dict[ActionKind, Call] = {
    ActionKind.MARK_IDLE: Call("ec2", ("ec2:CreateTags",), lambda ec2, api, fs, r: api(
        ec2.create_tags, Resources=ids(fs),
        Tags=[{"Key": r.policy.exemptions.idle_since_tag, "Value": r.now.isoformat(timespec="seconds")}])),
    ActionKind.UNMARK_IDLE: Call("ec2", ("ec2:DeleteTags",), lambda ec2, api, fs, r: api(
        ec2.delete_tags, Resources=ids(fs), Tags=[{"Key": r.policy.exemptions.idle_since_tag}])),
}
