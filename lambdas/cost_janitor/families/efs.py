"""EFS file systems (core/efs.py): idle ones are reported with their storage dollars and never deleted; a file system
without lifecycle management gets the policy's transitions merged into the team's configuration — for dev, with the
opt-in (efs.set_lifecycle), after a mark and the grace period, made again on the configuration as it is just before.
Prod is asked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.cloudwatch import CloudWatchReader
from cost_janitor.adapters.efs import EfsInventory, efs_usage
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.core.efs import (
    FILE_SYSTEM_TYPE,
    STANDARD_GB_MONTH,
    classify_file_system,
    lifecycle_to_put,
    recheck_lifecycle,
    what_happens,
)
from cost_janitor.core.models import ActionKind, Finding, FindingKind, LedgerRecord
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import storage_digest
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

FILE_SYSTEMS = Arn("elasticfilesystem", "file-system")


def _put(efs: Any, api: Api, f: Finding, r: Run) -> None:
    """The merged configuration (never empty), then the mark removed."""
    api(efs.put_lifecycle_configuration, FileSystemId=f.resource_id, LifecyclePolicies=lifecycle_to_put(f))
    api(efs.untag_resource, ResourceId=f.resource_id, TagKeys=[r.policy.exemptions.idle_since_tag])


class Efs:
    name = "efs"
    service = "efs"
    resource_types = (FILE_SYSTEM_TYPE,)
    rechecked = (ActionKind.SET_EFS_LIFECYCLE,)
    answered = (FILE_SYSTEMS,)
    actions = {
        ActionKind.MARK_IDLE: Call("efs", ("elasticfilesystem:TagResource",), each(lambda efs, api, f, r: api(
            efs.tag_resource, ResourceId=f.resource_id, Tags=[{
                "Key": r.policy.exemptions.idle_since_tag, "Value": r.now.isoformat(timespec="seconds")}])),
            dry_run_supported=False, batch=False),
        ActionKind.UNMARK_IDLE: Call("efs", ("elasticfilesystem:UntagResource",), each(lambda efs, api, f, r: api(
            efs.untag_resource, ResourceId=f.resource_id, TagKeys=[r.policy.exemptions.idle_since_tag])),
            dry_run_supported=False, batch=False),
        ActionKind.SET_EFS_LIFECYCLE: Call("efs", ("elasticfilesystem:PutLifecycleConfiguration",
                                               "elasticfilesystem:UntagResource"), each(_put),
                                       dry_run_supported=False, batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        inventory = EfsInventory(client("efs", region), region, own_account())
        cloudwatch = CloudWatchReader(client("cloudwatch", region))
        with counted(night, inventory.calls, cloudwatch.calls, prefix="efs:"):
            try:
                systems = inventory.file_systems()
                usage = efs_usage(cloudwatch, [s.file_system_id for s in systems], night.policy,
                                  now=night.now) if systems else {}
            finally:
                night.metrics_requested += cloudwatch.metrics_requested
        rates = night.rates(region, ["efs:standard"] if systems else [], offline=STANDARD_GB_MONTH)
        return [classify_file_system(s, usage[s.file_system_id], night.policy, now=night.now, run_id=night.run_id,
                                     rates=rates) for s in systems]

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each file system about to get its transitions: described again, its configuration read again."""
        inventory = EfsInventory(client("efs", region), region, own_account())
        with counted(night, inventory.calls, prefix="efs:", suffix=" (re-check)"):
            current = {s.file_system_id: s for s in inventory.file_systems([f.resource_id for f in planned])}
        return [recheck_lifecycle(f, current.get(f.resource_id), night.policy, now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: the configuration before is in the finding's evidence and the ledger (the way back)."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev, idle_key = dev_only(policy), only_tag_keys(policy.exemptions.idle_since_tag)
        grants = [
            Grant("ListEfs", ("elasticfilesystem:DescribeFileSystems", "cloudwatch:GetMetricData",
                              "pricing:GetProducts"),
                  why="DescribeFileSystems without a file system ID, CloudWatch reads and the Price List API have no "
                      "resource-level permissions"),
            Grant("ReadEfsLifecycle", ("elasticfilesystem:DescribeLifecycleConfiguration",), (FILE_SYSTEMS,),
                  why="EFS file systems of the policy's regions: their lifecycle configurations"),
            Grant("MarkOnlyDevFileSystems", ("elasticfilesystem:TagResource",), (FILE_SYSTEMS,), {**dev, **idle_key},
                  why="EFS file systems of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("UnmarkFileSystems", ("elasticfilesystem:UntagResource",), (FILE_SYSTEMS,), idle_key),
            Grant("NeverDeleteEfs", ("elasticfilesystem:DeleteFileSystem", "elasticfilesystem:DeleteMountTarget"),
                  deny=True),
        ]
        if policy.efs.set_lifecycle:
            grants.append(Grant("MergeLifecycleDevFileSystemsOptIn", ("elasticfilesystem:PutLifecycleConfiguration",),
                                (FILE_SYSTEMS,), dev))
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return storage_digest(entries, kind=FindingKind.EFS, label="EFS", now=now)


FAMILY: Family = Efs()
