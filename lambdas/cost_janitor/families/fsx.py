"""FSx for Lustre file systems (core/fsx.py): idle ones are reported; a persistent dev one is deleted only with the
opt-in (fsx.delete_idle_dev_file_systems), after a mark and the grace period, only if no bytes moved in the hours just
before, and always with a final backup (DeleteFileSystem with SkipFinalBackup false: the way back). Scratch file
systems cannot be backed up and are never deleted; prod is asked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.cloudwatch import CloudWatchReader
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.adapters.fsx import FsxInventory, fsx_usage
from cost_janitor.core.fsx import LUSTRE_TYPE, classify_lustre, recheck_lustre, what_happens
from cost_janitor.core.models import ActionKind, Finding, FindingKind, LedgerRecord
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import storage_digest
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

FILE_SYSTEMS, BACKUPS = Arn("fsx", "file-system"), Arn("fsx", "backup")
FROM_FILE_SYSTEM = "cost-janitor:from-file-system"  # the final backup's tag: the file system it was taken of


def _delete(fsx: Any, api: Api, f: Finding, r: Run) -> None:
    """Delete with a final backup, tagged with the file system it came from (the way back)."""
    api(fsx.delete_file_system, FileSystemId=f.resource_id, LustreConfiguration={
        "SkipFinalBackup": False, "FinalBackupTags": [{"Key": FROM_FILE_SYSTEM, "Value": f.resource_id}]})


class Fsx:
    name = "fsx"
    service = "fsx"
    resource_types = (LUSTRE_TYPE,)
    rechecked = (ActionKind.DELETE_FILE_SYSTEM,)
    answered = (FILE_SYSTEMS,)
    actions = {
        ActionKind.MARK_IDLE: Call("fsx", ("fsx:TagResource",), each(lambda fsx, api, f, r: api(
            fsx.tag_resource, ResourceARN=f.resource_arn, Tags=[{
                "Key": r.policy.exemptions.idle_since_tag, "Value": r.now.isoformat(timespec="seconds")}])),
            dry_run_supported=False, batch=False),
        ActionKind.UNMARK_IDLE: Call("fsx", ("fsx:UntagResource",), each(lambda fsx, api, f, r: api(
            fsx.untag_resource, ResourceARN=f.resource_arn, TagKeys=[r.policy.exemptions.idle_since_tag])),
            dry_run_supported=False, batch=False),
        ActionKind.DELETE_FILE_SYSTEM: Call("fsx", ("fsx:DeleteFileSystem", "fsx:CreateBackup", "fsx:TagResource"),
                                            each(_delete), dry_run_supported=False, batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        inventory = FsxInventory(client("fsx", region), region, own_account())
        cloudwatch = CloudWatchReader(client("cloudwatch", region))
        with counted(night, inventory.calls, cloudwatch.calls, prefix="fsx:"):
            try:
                systems = inventory.lustre()
                usage = fsx_usage(cloudwatch, [s.file_system_id for s in systems], night.policy,
                                  now=night.now) if systems else {}
            finally:
                night.metrics_requested += cloudwatch.metrics_requested
        return [classify_lustre(s, usage[s.file_system_id], night.policy, now=night.now, run_id=night.run_id)
                for s in systems]

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each file system about to be deleted: described again, and its bytes of the last hours read again."""
        inventory = FsxInventory(client("fsx", region), region, own_account())
        cloudwatch = CloudWatchReader(client("cloudwatch", region))
        ids = [f.resource_id for f in planned]
        with counted(night, inventory.calls, cloudwatch.calls, prefix="fsx:", suffix=" (re-check)"):
            current = {s.file_system_id: s for s in inventory.lustre(ids)}
            recent = fsx_usage(cloudwatch, ids, night.policy, now=night.now, hours=night.policy.fsx.recheck_hours)
            night.metrics_requested += cloudwatch.metrics_requested
        return [recheck_lustre(f, current.get(f.resource_id), recent.get(f.resource_id), night.policy,
                               now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: the delete is recorded with its finding; the final backup carries the file system's ID as a tag."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev, idle_key = dev_only(policy), only_tag_keys(policy.exemptions.idle_since_tag)
        grants = [
            Grant("ReadFsx", ("fsx:DescribeFileSystems", "cloudwatch:GetMetricData"),
                  why="fsx:DescribeFileSystems and CloudWatch reads have no resource-level permissions"),
            Grant("MarkOnlyDevFsx", ("fsx:TagResource",), (FILE_SYSTEMS,), {**dev, **idle_key},
                  why="FSx file systems of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("UnmarkFsx", ("fsx:UntagResource",), (FILE_SYSTEMS,), idle_key),
            Grant("NeverDeleteFsxBackups", ("fsx:DeleteBackup",), deny=True),
        ]
        if policy.fsx.delete_idle_dev_file_systems:
            grants += [
                Grant("DeleteIdleDevFsxOptIn", ("fsx:DeleteFileSystem", "fsx:CreateBackup"), (FILE_SYSTEMS,), dev),
                Grant("FinalBackupsOptIn", ("fsx:CreateBackup", "fsx:TagResource"), (BACKUPS,),
                      {"ForAllValues:StringEquals": {"aws:TagKeys": [FROM_FILE_SYSTEM]}},
                      why="the final backup a delete takes has no ID yet: only its from-file-system tag"),
            ]
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return storage_digest(entries, kind=FindingKind.FSX, label="FSx for Lustre", now=now)


FAMILY: Family = Fsx()
