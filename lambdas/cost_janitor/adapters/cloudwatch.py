"""CloudWatch reads for the idle sweep: batched GetMetricData (≤ 500 queries, ≤ 100,800 datapoints a call)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.idle import needs_detail
from cost_janitor.core.models import Instance, Series, Usage
from cost_janitor.core.policy import Policy
from cost_janitor.observability import logger

EC2_NAMESPACE = "AWS/EC2"
AGENT_NAMESPACE = "CWAgent"
GPU_UTIL_METRIC = "nvidia_smi_utilization_gpu"
GPU_MEMORY_METRIC = "nvidia_smi_utilization_memory"
MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800

Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricQuery:
    key: Hashable
    namespace: str
    name: str
    dimensions: Dimensions
    stat: str


class CloudWatchReader:
    """Reads many series in few calls. Failed batches are reported, never silently turned into 'no data'."""

    def __init__(self, client: Any) -> None:
        self._cw = client
        self.calls: dict[str, int] = {"GetMetricData": 0, "ListMetrics": 0}

    def read(self, queries: Sequence[MetricQuery], *, start: datetime, end: datetime,
             period: int) -> tuple[dict[Hashable, Series], set[Hashable]]:
        """Series by query key (empty Series when CloudWatch has none) and the keys that could not be read."""
        points = max(1, int((end - start).total_seconds()) // period)
        per_call = max(1, min(MAX_QUERIES, MAX_DATAPOINTS // points))
        found: dict[Hashable, Series] = {}
        failed: set[Hashable] = set()
        for first in range(0, len(queries), per_call):
            chunk = queries[first:first + per_call]
            try:
                found.update(self._read_chunk(chunk, start, end, period))
            except ClientError as exc:
                logger.warning("GetMetricData failed; these series are not evaluated",
                               extra={"error_code": exc.response["Error"]["Code"], "series": len(chunk)})
                failed.update(q.key for q in chunk)
        return found, failed

    def _read_chunk(self, chunk: Sequence[MetricQuery], start: datetime, end: datetime,
                    period: int) -> dict[Hashable, Series]:
        by_id = {f"q{n}": q for n, q in enumerate(chunk)}  # valid Ids: ^[a-z][a-zA-Z0-9_]*$
        values: dict[str, dict[datetime, float]] = {qid: {} for qid in by_id}
        request: dict[str, Any] = {
            "MetricDataQueries": [{
                "Id": qid,
                "MetricStat": {
                    "Metric": {"Namespace": q.namespace, "MetricName": q.name,
                               "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions]},
                    "Period": period,
                    "Stat": q.stat,
                },
                "ReturnData": True,
            } for qid, q in by_id.items()],
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            self.calls["GetMetricData"] += 1
            page = self._cw.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                series = values[result["Id"]]
                series.update(zip(result.get("Timestamps", []), result.get("Values", [])))
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        out = {}
        for qid, q in by_id.items():
            ordered = sorted(values[qid])
            out[q.key] = Series(timestamps=tuple(ordered), values=tuple(values[qid][t] for t in ordered))
        return out

    def gpu_dimensions(self) -> dict[str, list[Dimensions]]:
        """Each instance's per-GPU series (InstanceId + index + name/arch/...), found with ListMetrics."""
        by_instance: dict[str, set[Dimensions]] = {}
        for page in self._cw.get_paginator("list_metrics").paginate(Namespace=AGENT_NAMESPACE,
                                                                    MetricName=GPU_UTIL_METRIC):
            self.calls["ListMetrics"] += 1
            for metric in page.get("Metrics", []):
                dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
                instance_id = dict(dims).get("InstanceId")
                if instance_id:
                    by_instance.setdefault(instance_id, set()).add(dims)
        return {k: sorted(v) for k, v in by_instance.items()}


def window(policy: Policy, now: datetime) -> tuple[datetime, datetime]:
    """The look-back window, ending at the last whole period so a partial hour does not count as missing."""
    period = policy.idle.period_seconds
    epoch = int(now.astimezone(timezone.utc).timestamp())
    end = datetime.fromtimestamp(epoch - epoch % period, tz=timezone.utc)
    return end - timedelta(days=policy.idle.lookback_days), end


class UsageReader:
    """CPU for the whole fleet, then network and GPU only for the instances CPU could not rule out."""

    def __init__(self, reader: CloudWatchReader) -> None:
        self._cw = reader

    def read(self, instances: Sequence[Instance], policy: Policy, *, now: datetime) -> dict[str, Usage]:
        start, end = window(policy, now)
        period = policy.idle.period_seconds
        live = [i for i in instances if not _exempt_without_metrics(i, policy, now)]
        cpu, cpu_failed = self._cw.read([_ec2_query(i.instance_id, "CPUUtilization", "Average") for i in live],
                                        start=start, end=end, period=period)
        usage = {i.instance_id: Usage(cpu=None if i.instance_id in cpu_failed else
                                      cpu.get((i.instance_id, "CPUUtilization"), Series())) for i in live}
        candidates = [i for i in live if usage[i.instance_id].cpu is not None
                      and needs_detail(i, usage[i.instance_id], policy, now=now)]
        if not candidates:
            return usage
        gpu_dims = self._cw.gpu_dimensions()
        queries: list[MetricQuery] = []
        for i in candidates:
            queries += [_ec2_query(i.instance_id, "NetworkIn", "Sum"), _ec2_query(i.instance_id, "NetworkOut", "Sum")]
            for n, dims in enumerate(gpu_dims.get(i.instance_id, [])):
                queries += [MetricQuery((i.instance_id, GPU_UTIL_METRIC, n), AGENT_NAMESPACE, GPU_UTIL_METRIC, dims,
                                        "Maximum"),
                            MetricQuery((i.instance_id, GPU_MEMORY_METRIC, n), AGENT_NAMESPACE, GPU_MEMORY_METRIC,
                                        dims, "Maximum")]
        detail, failed = self._cw.read(queries, start=start, end=end, period=period)
        failed_ids = {k[0] for k in failed}  # type: ignore[index]
        for i in candidates:
            if i.instance_id in failed_ids:
                usage[i.instance_id] = Usage(cpu=usage[i.instance_id].cpu)  # network/GPU unread: not evaluated
                continue
            gpus = range(len(gpu_dims.get(i.instance_id, [])))
            iid = i.instance_id
            usage[iid] = Usage(
                cpu=usage[iid].cpu,
                network_in=detail.get((iid, "NetworkIn"), Series()),
                network_out=detail.get((iid, "NetworkOut"), Series()),
                gpu_util=tuple(detail.get((iid, GPU_UTIL_METRIC, n), Series()) for n in gpus),
                gpu_memory=tuple(detail.get((iid, GPU_MEMORY_METRIC, n), Series()) for n in gpus),
            )
        return usage


def _ec2_query(instance_id: str, name: str, stat: str) -> MetricQuery:
    return MetricQuery((instance_id, name), EC2_NAMESPACE, name, (("InstanceId", instance_id),), stat)


def _exempt_without_metrics(instance: Instance, policy: Policy, now: datetime) -> bool:
    """An exempt instance's verdict needs no metrics, so none are read for it."""
    return not needs_detail(instance, Usage(), policy, now=now)
