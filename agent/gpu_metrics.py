#!/usr/bin/env python3
"""Fallback GPU metrics pusher for instances where the CloudWatch agent cannot run.

Reads `nvidia-smi --query-gpu=... --format=csv` and publishes what the agent's nvidia_gpu plugin does with
agent/cloudwatch-agent.json (namespace CWAgent, nvidia_smi_<measurement>), so the idle sweep reads either the same
way — and, like that config, only the two measurements the sweep reads (GPU and GPU-memory utilisation):
- by default one series per instance (dimension InstanceId): each sample's per-GPU values sent as one datum's Values,
  so CloudWatch's Maximum is the busiest GPU's — what the agent's aggregation_dimensions [["InstanceId"]] with
  drop_original_metrics sends (a datum per GPU on the InstanceId-only dimension set, the per-GPU originals dropped);
- with --per-gpu, one series per GPU (dimensions InstanceId, index, name, host), as agent/cloudwatch-agent-per-gpu.json.
stdlib + boto3.

    python3 gpu_metrics.py                # every 60 s, forever
    python3 gpu_metrics.py --once --print # one sample, printed instead of sent
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "CWAgent"
# nvidia-smi query field → the agent's measurement name (metric: nvidia_smi_<measurement>) and unit. Each one
# published is a custom metric per GPU ($0.30 a month each): only what the idle sweep reads is published.
FIELDS = {
    "utilization.gpu": ("utilization_gpu", "Percent"),
    "utilization.memory": ("utilization_memory", "Percent"),
}
# Fields nvidia-smi can also report; read when present, never published.
OTHER_FIELDS = {"memory.used": "memory_used", "memory.total": "memory_total", "power.draw": "power_draw",
                "temperature.gpu": "temperature_gpu"}
QUERY = ["index", "name", *FIELDS]
# Output without a header is read only in these column orders: this pusher's own query, and its earlier one.
HEADERLESS = {len(QUERY): QUERY, 8: ["index", "name", "utilization.gpu", "utilization.memory", *OTHER_FIELDS]}
IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
MAX_PER_CALL = 1000


def _field(header_cell: str) -> str:
    """'utilization.gpu [%]' → 'utilization.gpu' (nvidia-smi puts the unit in brackets in its header)."""
    return header_cell.split("[", 1)[0].strip().lower()


def parse_csv(text: str) -> list[dict[str, Any]]:
    """One dict per GPU from nvidia-smi CSV. With a header, any columns in any order (the fields it names are
    read; utilization.gpu must be among them; index defaults to the row, name to 'unknown'); without one, only
    the column orders in HEADERLESS. [N/A] values are left out."""
    rows = [[cell.strip() for cell in line.split(",")] for line in text.strip().splitlines() if line.strip()]
    if not rows:
        return []
    known = {"index", "name", *FIELDS, *OTHER_FIELDS}
    if any(_field(cell) in known for cell in rows[0]):
        columns, rows = [_field(cell) for cell in rows[0]], rows[1:]
    elif len(rows[0]) in HEADERLESS:
        columns = HEADERLESS[len(rows[0])]
    else:
        raise ValueError(f"nvidia-smi output without a header must have the columns {','.join(QUERY)}; got "
                         f"{len(rows[0])} columns: run it with --format=csv so the header names them")
    if "utilization.gpu" not in columns:
        raise ValueError(f"nvidia-smi output has no utilization.gpu column (columns: {', '.join(columns)})")
    gpus = []
    for n, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"expected {len(columns)} columns ({','.join(columns)}), got {len(row)}: {row}")
        cells = dict(zip(columns, row, strict=True))
        gpu: dict[str, Any] = {"index": cells.get("index", str(n)), "name": cells.get("name", "unknown")}
        for field, measurement in {**{f: m for f, (m, _) in FIELDS.items()}, **OTHER_FIELDS}.items():
            value = _number(cells[field]) if field in cells else None
            if value is not None:
                gpu[measurement] = value
        gpus.append(gpu)
    return gpus


def _number(raw: str) -> float | None:
    text = raw.strip()
    if not text or text.startswith("[") or text.upper() in ("N/A", "[N/A]"):
        return None
    for unit in (" %", "%", " MiB", "MiB", " W", "W", " C"):
        if text.endswith(unit):
            text = text[: -len(unit)]
            break
    try:
        return float(text)
    except ValueError:
        return None


def metric_data(gpus: Iterable[dict[str, Any]], *, instance_id: str, host: str, timestamp: datetime,
                per_gpu: bool = False) -> list[dict[str, Any]]:
    """One sample's datums: per instance (the default; a measurement no GPU reported is left out, never sent as 0),
    or per GPU."""
    data: list[dict[str, Any]] = []
    gpus = list(gpus)
    if not per_gpu:
        for measurement, unit in FIELDS.values():
            values = [float(g[measurement]) for g in gpus if measurement in g]
            if values:  # PutMetricData: Values with Counts of the same size (its API reference; at most 150 values)
                data.append({"MetricName": f"nvidia_smi_{measurement}", "Unit": unit, "Timestamp": timestamp,
                             "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
                             "Values": values[:150], "Counts": [1.0] * len(values[:150])})
        return data
    for gpu in gpus:
        dims = [{"Name": "InstanceId", "Value": instance_id}, {"Name": "index", "Value": str(gpu["index"])},
                {"Name": "name", "Value": gpu["name"]}, {"Name": "host", "Value": host}]
        for measurement, unit in FIELDS.values():
            if measurement in gpu:
                data.append({"MetricName": f"nvidia_smi_{measurement}", "Dimensions": dims, "Unit": unit,
                             "Value": gpu[measurement], "Timestamp": timestamp})
    return data


def publish(cloudwatch: Any, data: list[dict[str, Any]]) -> int:
    """PutMetricData in batches; returns the number of calls."""
    calls = 0
    for start in range(0, len(data), MAX_PER_CALL):
        cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start:start + MAX_PER_CALL])
        calls += 1
    return calls


def metadata(path: str, imds: str = IMDS) -> str:
    """One IMDSv2 value (token first)."""
    token_request = urllib.request.Request(f"{imds}/latest/api/token", method="PUT",
                                           headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
    with urllib.request.urlopen(token_request, timeout=2) as response:
        token = response.read().decode()
    request = urllib.request.Request(f"{imds}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(request, timeout=2) as response:
        return str(response.read().decode())


def instance_id(imds: str = IMDS) -> str:
    return metadata("instance-id", imds)


def region(imds: str = IMDS) -> str:
    """The region to send to: AWS_REGION / AWS_DEFAULT_REGION when the unit sets one, else the instance's own from
    IMDSv2 (botocore does not read it from instance metadata for a plain client: without this every send fails
    with NoRegionError and the service restarts forever)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or metadata("placement/region", imds)


class Batcher:
    """Samples every interval, sends every `flush_s` (or at 1,000 datapoints): one PutMetricData per flush instead
    of one per sample — the resolution is the same, the requests (billed per 1,000) are fewer."""

    def __init__(self, flush_s: float) -> None:
        self.flush_s = flush_s
        self._pending: list[dict[str, Any]] = []
        self._since: float | None = None

    def add(self, data: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Buffer a sample; returns what is due to be sent now (possibly nothing)."""
        self._since = now if self._since is None else self._since
        self._pending += data
        if now - self._since < self.flush_s and len(self._pending) < MAX_PER_CALL:
            return []
        due, self._pending, self._since = self._pending, [], None
        return due


class Sender:
    """Where a pusher's samples go: printed (--print), or batched and sent with PutMetricData — the client is made at
    the first send, so --print needs neither boto3 nor credentials. The GPU and the Neuron pushers share it."""

    def __init__(self, *, print_only: bool, flush_s: float, client: Any = None, region: str | None = None) -> None:
        self.print_only = print_only
        self._batcher = Batcher(flush_s)
        self._cloudwatch = client
        self._region = region

    def send(self, data: list[dict[str, Any]], now: float) -> None:
        if self.print_only:
            print(json.dumps(data, default=str, indent=2))
            return
        due = self._batcher.add(data, now)
        if due:
            if self._cloudwatch is None:
                import boto3

                self._cloudwatch = boto3.client("cloudwatch", region_name=self._region or region())
            publish(self._cloudwatch, due)


def sample() -> str:
    return subprocess.run(["nvidia-smi", f"--query-gpu={','.join(QUERY)}", "--format=csv,nounits"],
                          check=True, capture_output=True, text=True, timeout=20).stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval", type=int, default=60, help="seconds between samples")
    parser.add_argument("--flush", type=int, default=300, help="seconds between sends (the agent's force_flush)")
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--print", action="store_true", help="print the metric data instead of sending it")
    parser.add_argument("--per-gpu", action="store_true", help="one series per GPU (a custom metric each) instead of "
                        "one per instance: the per-GPU view right-sizing needs, at the GPUs-per-box times the cost")
    args = parser.parse_args(argv)
    iid, host = (instance_id() if not args.print else "i-local"), socket.gethostname()
    sender = Sender(print_only=args.print, flush_s=0 if args.once else args.flush,
                    region=None if args.print else region())
    while True:
        sender.send(metric_data(parse_csv(sample()), instance_id=iid, host=host, timestamp=datetime.now(UTC),
                                per_gpu=args.per_gpu), time.monotonic())
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
