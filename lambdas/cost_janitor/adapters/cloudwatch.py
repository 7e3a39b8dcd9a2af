"""CloudWatch reads for the idle sweep: batched GetMetricData (≤ 500 queries, ≤ 100,800 datapoints a call)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.models import Instance, Series, Usage
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import NEURON_PREFIXES
from cost_janitor.observability import logger

EC2_NAMESPACE = "AWS/EC2"
AGENT_NAMESPACE = "CWAgent"
GPU_UTIL_METRIC = "nvidia_smi_utilization_gpu"
GPU_MEMORY_METRIC = "nvidia_smi_utilization_memory"
NEURON_METRIC = "neuroncore_utilization"  # agent/neuron_metrics.py: per NeuronCore (InstanceId, NeuronCore)
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
        self.metrics_requested = 0  # what GetMetricData is billed by ($0.01 per 1,000), for the own-cost model

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
        points = int((end - start).total_seconds()) // period
        values: dict[str, dict[int, float]] = {qid: {} for qid in by_id}
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
            self.metrics_requested += len(request["MetricDataQueries"])
            page = self._cw.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                series = values[result["Id"]]
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    index = int((ts - start).total_seconds()) // period  # summarised as read: see core Series
                    if 0 <= index < points:
                        series[index] = value
            token = page.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
        return {q.key: Series.of(values[qid].items()) for qid, q in by_id.items()}

    def list_metrics(self, namespace: str, name: str) -> list[Dimensions]:
        """Every series of one metric (ListMetrics, 500 a page, every page counted), as its dimension set: sorted
        (name, value) pairs."""
        out: list[Dimensions] = []
        for page in self._cw.get_paginator("list_metrics").paginate(Namespace=namespace, MetricName=name):
            self.calls["ListMetrics"] += 1
            out += [tuple(sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))
                    for m in page.get("Metrics", [])]
        return out

    def gpu_dimensions(self, metric: str = GPU_UTIL_METRIC) -> dict[str, list[Dimensions]]:
        """Each instance's per-GPU series (InstanceId + index + name/arch/...), or per-NeuronCore series with
        metric=NEURON_METRIC, found with ListMetrics."""
        by_instance: dict[str, set[Dimensions]] = {}
        for dims in self.list_metrics(AGENT_NAMESPACE, metric):
            instance_id = dict(dims).get("InstanceId")
            if instance_id:
                by_instance.setdefault(instance_id, set()).add(dims)
        return {k: sorted(v) for k, v in by_instance.items()}


def window(policy: Policy, now: datetime) -> tuple[datetime, datetime]:
    """The look-back window, ending at the last whole period so a partial hour does not count as missing."""
    period = policy.idle.period_seconds
    epoch = int(now.astimezone(UTC).timestamp())
    end = datetime.fromtimestamp(epoch - epoch % period, tz=UTC)
    return end - timedelta(days=policy.idle.lookback_days), end


class UsageReader:
    """An EC2 fleet's metrics, in three batched reads; each reads the instances it is given (the EC2 family decides
    which need which: families/ec2.py). Each returns what it read and the instances whose read failed."""

    def __init__(self, reader: CloudWatchReader) -> None:
        self._cw = reader
        self._gpu_dims: dict[str, list[Dimensions]] | None = None

    def _fetch(self, queries: list[MetricQuery], policy: Policy, now: datetime) -> tuple[dict[Hashable, Series],
                                                                                           set[str]]:
        start, end = window(policy, now)
        found, failed = self._cw.read(queries, start=start, end=end, period=policy.idle.period_seconds)
        return found, {key[0] for key in failed}  # type: ignore[index]

    def _gpus(self) -> dict[str, list[Dimensions]]:
        if self._gpu_dims is None:
            self._gpu_dims = self._cw.gpu_dimensions()
        return self._gpu_dims

    def cpu(self, instances: Sequence[Instance], policy: Policy, *, now: datetime) -> tuple[dict[str, Usage],
                                                                                              set[str]]:
        """CPUUtilization (Average)."""
        cpu, failed = self._fetch([_ec2_query(i.instance_id, "CPUUtilization", "Average") for i in instances],
                                  policy, now)
        return {i.instance_id: Usage(cpu=cpu.get((i.instance_id, "CPUUtilization"), Series()))
                for i in instances if i.instance_id not in failed}, failed

    def detail(self, instances: Sequence[Instance], usage: dict[str, Usage], policy: Policy, *,
               now: datetime) -> set[str]:
        """NetworkIn/Out (Sum) and GPU utilisation (the agent's nvidia_smi series, or neuroncore_utilization on
        Inferentia/Trainium boxes), into `usage`; returns the instances whose read failed."""
        if not instances:
            return set()
        gpu_dims = self._gpus()
        neuron = {i.instance_id for i in instances if i.family.startswith(NEURON_PREFIXES)}
        core_dims = self._cw.gpu_dimensions(NEURON_METRIC) if neuron else {}  # one more page only with Neuron boxes
        queries: list[MetricQuery] = []
        for i in instances:
            queries += [_ec2_query(i.instance_id, "NetworkIn", "Sum"), _ec2_query(i.instance_id, "NetworkOut", "Sum")]
            queries += _gpu_queries(i.instance_id, core_dims if i.instance_id in neuron else gpu_dims,
                                    NEURON_METRIC if i.instance_id in neuron else GPU_UTIL_METRIC)
        detail, failed = self._fetch(queries, policy, now)
        for i in instances:
            iid = i.instance_id
            metric = NEURON_METRIC if iid in neuron else GPU_UTIL_METRIC
            gpus = range(len((core_dims if iid in neuron else gpu_dims).get(iid, [])))
            if iid in failed:
                continue
            usage[iid] = usage.get(iid, Usage()).model_copy(update={
                "network_in": detail.get((iid, "NetworkIn"), Series()),
                "network_out": detail.get((iid, "NetworkOut"), Series()),
                "gpu_util": tuple(detail.get((iid, metric, n), Series()) for n in gpus),
                # NeuronCores have no memory-utilisation series: the busiest core decides alone
                "gpu_memory": None if gpus and iid not in neuron else (),
            })
        return failed

    def gpu_memory(self, instances: Sequence[Instance], usage: dict[str, Usage], policy: Policy, *,
                   now: datetime) -> set[str]:
        """The agent's nvidia_smi_utilization_memory per GPU, into `usage`; returns the instances whose read
        failed."""
        if not instances:
            return set()
        gpu_dims = self._gpus()
        memory, failed = self._fetch([q for i in instances for q in _gpu_queries(i.instance_id, gpu_dims,
                                                                                   GPU_MEMORY_METRIC)], policy, now)
        for i in instances:
            iid, gpus = i.instance_id, range(len(gpu_dims.get(i.instance_id, [])))
            if iid not in failed:
                usage[iid] = usage.get(iid, Usage()).model_copy(update={
                    "gpu_memory": tuple(memory.get((iid, GPU_MEMORY_METRIC, n), Series()) for n in gpus)})
        return failed


def _gpu_queries(instance_id: str, gpu_dims: dict[str, list[Dimensions]], metric: str) -> list[MetricQuery]:
    return [MetricQuery((instance_id, metric, n), AGENT_NAMESPACE, metric, dims, "Maximum")
            for n, dims in enumerate(gpu_dims.get(instance_id, []))]


def _ec2_query(instance_id: str, name: str, stat: str) -> MetricQuery:
    return MetricQuery((instance_id, name), EC2_NAMESPACE, name, (("InstanceId", instance_id),), stat)


def daily_sums(cloudwatch: Any, queries: Sequence[MetricQuery], *, start: datetime,
               end: datetime) -> dict[Hashable, dict[str, float]]:
    """Per query, the Sum for each day, grouped by month ("YYYY-MM" → total): predictions per month."""
    out: dict[Hashable, dict[str, float]] = {q.key: {} for q in queries}
    for first in range(0, len(queries), MAX_QUERIES):
        chunk = queries[first:first + MAX_QUERIES]
        request: dict[str, Any] = {"StartTime": start, "EndTime": end, "MetricDataQueries": [{
            "Id": f"q{n}", "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": q.namespace, "MetricName": q.name,
                           "Dimensions": [{"Name": k, "Value": v} for k, v in q.dimensions]},
                "Period": 86400, "Stat": "Sum"}} for n, q in enumerate(chunk)]}
        while True:
            page = cloudwatch.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                months = out[chunk[int(result["Id"][1:])].key]
                for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                    months[ts.strftime("%Y-%m")] = months.get(ts.strftime("%Y-%m"), 0.0) + value
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
    return out


def dimension_sets(cloudwatch: Any, namespace: str, name: str, match: dict[str, str]) -> list[Dimensions]:
    """Every dimension set of a metric whose dimensions include `match` (e.g. an endpoint's variants)."""
    pages = cloudwatch.get_paginator("list_metrics").paginate(
        Namespace=namespace, MetricName=name, Dimensions=[{"Name": k, "Value": v} for k, v in match.items()])
    return sorted({tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))
                   for page in pages for m in page.get("Metrics", [])})
