"""FSx reads for the FSx family: Lustre file systems (DescribeFileSystems, tags included) and their DataReadBytes and
DataWriteBytes (core/fsx.py cites them) in one batched GetMetricData read. Every call counted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.adapters.cloudwatch import CloudWatchReader, MetricQuery, window
from cost_janitor.core.fsx import METRICS, NAMESPACE, FsxUsage, LustreFileSystem
from cost_janitor.core.models import Series
from cost_janitor.core.policy import Policy


class FsxInventory:
    def __init__(self, fsx: Any, region: str, account: str) -> None:
        self._fsx, self._region, self._account = fsx, region, account
        self.calls: dict[str, int] = {}

    def lustre(self, ids: Sequence[str] | None = None) -> list[LustreFileSystem]:
        """The Lustre file systems (all, or these); other FSx types are not this family's."""
        out = []
        kwargs = {"FileSystemIds": list(ids)} if ids is not None else {}
        for page in self._fsx.get_paginator("describe_file_systems").paginate(**kwargs):
            self.calls["DescribeFileSystems"] = self.calls.get("DescribeFileSystems", 0) + 1
            for f in page.get("FileSystems", []):
                if f.get("FileSystemType") != "LUSTRE":
                    continue
                lustre = f.get("LustreConfiguration") or {}
                out.append(LustreFileSystem(
                    file_system_id=f["FileSystemId"], arn=f.get("ResourceARN", ""), region=self._region,
                    account=f.get("OwnerId") or self._account,
                    deployment_type=lustre.get("DeploymentType", "UNKNOWN"),
                    storage_gib=int(f.get("StorageCapacity") or 0),
                    throughput_per_tib=lustre.get("PerUnitStorageThroughput"),
                    lifecycle=f.get("Lifecycle", "AVAILABLE"), created=f.get("CreationTime"),
                    tags={t["Key"]: t["Value"] for t in f.get("Tags", [])}))
        return out


def fsx_usage(reader: CloudWatchReader, ids: Sequence[str], policy: Policy, *, now: datetime,
              hours: int | None = None) -> dict[str, FsxUsage]:
    """Each file system's read and write bytes (Sum) over the window — or over the last `hours` — in one batched
    read; None where a read failed."""
    queries = [MetricQuery((i, m), NAMESPACE, m, (("FileSystemId", i),), "Sum") for i in ids for m in METRICS]
    start, end = window(policy, now)
    if hours is not None:
        start = end - timedelta(hours=hours)
    found, failed = reader.read(queries, start=start, end=end, period=policy.idle.period_seconds)

    def series(i: str, m: str) -> Series | None:
        return None if (i, m) in failed else found.get((i, m), Series())

    return {i: FsxUsage(read=series(i, METRICS[0]), write=series(i, METRICS[1])) for i in ids}
