"""EFS reads for the EFS family: file systems and their lifecycle configurations (EFS API), and their ClientConnections
and TotalIOBytes series (core/efs.py cites them) in one batched GetMetricData read. Every call counted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.cloudwatch import CloudWatchReader, MetricQuery, window
from cost_janitor.core.efs import METRICS, NAMESPACE, EfsUsage, FileSystem
from cost_janitor.core.models import Series
from cost_janitor.core.policy import Policy


class EfsInventory:
    def __init__(self, efs: Any, region: str, account: str) -> None:
        self._efs, self._region, self._account = efs, region, account
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def file_systems(self, ids: Sequence[str] | None = None) -> list[FileSystem]:
        """The available file systems (all, or these), each with its lifecycle configuration (None: not readable)."""
        raw: list[dict[str, Any]] = []
        if ids is None:
            # 100 a page, EFS's own default (DescribeFileSystems MaxItems); moto's is 10
            for page in self._efs.get_paginator("describe_file_systems").paginate(PaginationConfig={"PageSize": 100}):
                self._count("DescribeFileSystems")
                raw += page.get("FileSystems", [])
        else:
            for fs_id in ids:
                self._count("DescribeFileSystems")
                try:
                    raw += self._efs.describe_file_systems(FileSystemId=fs_id).get("FileSystems", [])
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "FileSystemNotFound":
                        raise
        return [self._model(r) for r in raw if r.get("LifeCycleState") == "available"]

    def _model(self, r: dict[str, Any]) -> FileSystem:
        created = r.get("CreationTime")
        if isinstance(created, (int, float)):
            created = datetime.fromtimestamp(created, UTC)
        return FileSystem(file_system_id=r["FileSystemId"], arn=r.get("FileSystemArn", ""), region=self._region,
                          account=r.get("OwnerId") or self._account,
                          size_bytes=(r.get("SizeInBytes") or {}).get("Value"),
                          throughput_mode=r.get("ThroughputMode", "bursting"),
                          performance_mode=r.get("PerformanceMode", "generalPurpose"), created=created,
                          state=r.get("LifeCycleState", ""), lifecycle=self._lifecycle(r["FileSystemId"]),
                          tags={t["Key"]: t["Value"] for t in r.get("Tags", [])})

    def _lifecycle(self, fs_id: str) -> tuple[dict[str, str], ...] | None:
        self._count("DescribeLifecycleConfiguration")
        try:
            answer = self._efs.describe_lifecycle_configuration(FileSystemId=fs_id)
        except ClientError:
            return None  # not readable: nothing is merged into it (the finding says so)
        return tuple(dict(p) for p in answer.get("LifecyclePolicies", []))


def efs_usage(reader: CloudWatchReader, ids: Sequence[str], policy: Policy, *, now: datetime) -> dict[str, EfsUsage]:
    """Each file system's ClientConnections and TotalIOBytes (Sum) over the window, in one batched read."""
    queries = [MetricQuery((i, m), NAMESPACE, m, (("FileSystemId", i),), "Sum") for i in ids for m in METRICS]
    start, end = window(policy, now)
    found, failed = reader.read(queries, start=start, end=end, period=policy.idle.period_seconds)

    def series(i: str, m: str) -> Series | None:
        return None if (i, m) in failed else found.get((i, m), Series())

    return {i: EfsUsage(connections=series(i, METRICS[0]), io_bytes=series(i, METRICS[1])) for i in ids}
