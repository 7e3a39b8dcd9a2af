"""What the on-instance pusher writes is exactly what the idle sweep reads (names, namespace, dimensions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.gpu_metrics import metric_data, parse_csv, publish
from cost_janitor.adapters.cloudwatch import CloudWatchReader, UsageReader
from cost_janitor.core.idle import classify_instances
from cost_janitor.core.models import Instance, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families.ec2 import read_usage
from cost_janitor.local.emulator import LocalAws, MetricSeeder, launch, seed_instance_metrics
from tests.builders import make_instance

DATA = Path(__file__).resolve().parents[1] / "unit" / "data"


def _pushed_box(aws: LocalAws, instance_type: str, gpus: list[dict[str, Any]] | None, now: datetime, *,
                per_gpu: bool = False) -> Instance:
    """A box whose pusher sent a week of samples (none when `gpus` is None), quiet CPU and network."""
    ec2, cloudwatch = aws.client("ec2"), aws.client("cloudwatch")
    iid = launch(ec2, instance_type, {"environment": "dev"})
    data = []
    for hour in range(1, 8 * 24):
        data += metric_data(gpus or [], instance_id=iid, host="ip-10-0-0-1", timestamp=now - timedelta(hours=hour),
                            per_gpu=per_gpu)
    if data:
        assert publish(cloudwatch, data) == -(-len(data) // 1000)
    seeder = MetricSeeder(cloudwatch)
    seed_instance_metrics(seeder, iid, end=now, hours=8 * 24, cpu=2.0)  # a quiet CPU: only the GPUs could work
    seeder.flush()
    return make_instance(instance_id=iid, instance_type=instance_type)


def _judge(aws: LocalAws, boxes: list[Instance], now: datetime) -> dict[str, Any]:
    usage = read_usage(UsageReader(CloudWatchReader(aws.client("cloudwatch"))), boxes, Policy(), now=now)
    return {f.resource_id: f for f in classify_instances(boxes, usage, Policy(), now=now)}


def test_a_busy_8_gpu_box_reported_by_the_pusher_is_busy_to_the_sweep(aws: LocalAws) -> None:
    """Per GPU (--per-gpu, the opt-in) the sweep sees 8 series; rolled up per instance (the default) one series
    whose Maximum is the busiest GPU's: the same verdict and the same maximum."""
    now = datetime(2026, 11, 28, 2, 5, tzinfo=UTC)
    gpus = parse_csv((DATA / "nvidia_smi_8xA100_units.csv").read_text())
    per_gpu = _pushed_box(aws, "p4d.24xlarge", gpus, now, per_gpu=True)
    rolled = _pushed_box(aws, "p4d.24xlarge", gpus, now)
    found = _judge(aws, [per_gpu, rolled], now)
    a, b = found[per_gpu.instance_id], found[rolled.instance_id]
    assert a.verdict == Verdict.BUSY and a.evidence["gpu_count_seen"] == 8 and a.evidence["gpu_max_pct"] == 97.0
    assert b.verdict == Verdict.BUSY and b.evidence["gpu_count_seen"] == 1 and b.evidence["gpu_max_pct"] == 97.0


@pytest.mark.parametrize(("case", "gpus", "verdict"), [
    ("every GPU idle: idle", [(0.0, 1.0)] * 4, Verdict.IDLE),
    ("three idle, one busy: busy (never a false idle)", [(0.0, 1.0)] * 3 + [(64.0, 40.0)], Verdict.BUSY),
    ("no series at all: cannot judge", None, Verdict.GPU_METRICS_MISSING),
    ("nvidia-smi reported N/A for every GPU (nothing sent): cannot judge", [], Verdict.GPU_METRICS_MISSING),
])
def test_the_per_instance_series_is_idle_only_when_every_gpu_was_and_absent_is_never_idle(
        aws: LocalAws, case: str, gpus: list[tuple[float, float]] | None, verdict: Verdict) -> None:
    now = datetime(2026, 11, 28, 2, 5, tzinfo=UTC)
    sample = None if gpus is None else [
        {"index": str(n), "name": "NVIDIA A10G", **({"utilization_gpu": u, "utilization_memory": m} if gpus else {})}
        for n, (u, m) in enumerate(gpus)] or [{"index": "0", "name": "NVIDIA A10G"}]
    box = _pushed_box(aws, "g5.12xlarge", sample, now)
    assert _judge(aws, [box], now)[box.instance_id].verdict == verdict, case


def _neuron_box(aws: LocalAws, report: dict[str, Any], now: datetime) -> tuple[Instance, CloudWatchReader]:
    from agent import neuron_metrics

    ec2, cloudwatch = aws.client("ec2"), aws.client("cloudwatch")
    iid = launch(ec2, "inf2.8xlarge", {"environment": "dev"})
    data = []
    for hour in range(1, 8 * 24):
        data += neuron_metrics.metric_data(neuron_metrics.cores(report), instance=iid,
                                           timestamp=now - timedelta(hours=hour))
    publish(cloudwatch, data)  # the Neuron pusher sends through gpu_metrics (its Sender)
    seeder = MetricSeeder(cloudwatch)
    seed_instance_metrics(seeder, iid, end=now, hours=8 * 24, cpu=1.5)  # quiet CPU and network either way
    seeder.flush()
    return make_instance(instance_id=iid, instance_type="inf2.8xlarge"), CloudWatchReader(cloudwatch)


def test_neuroncore_series_give_inferentia_boxes_real_verdicts(aws: LocalAws) -> None:
    """The busiest NeuronCore decides: a box serving on one core is busy; the same box with nothing running is
    idle — no longer 'accelerator not measured'."""
    import json

    now = datetime(2026, 11, 28, 2, 5, tzinfo=UTC)
    report = json.loads((DATA / "neuron_monitor_inf2_8xlarge.json").read_text())
    busy, reader = _neuron_box(aws, report, now)
    idle, _ = _neuron_box(aws, {**report, "neuron_runtime_data": []}, now)
    usage = read_usage(UsageReader(reader), [busy, idle], Policy(), now=now)
    found = {f.resource_id: f for f in classify_instances([busy, idle], usage, Policy(), now=now)}
    b, i = found[busy.instance_id], found[idle.instance_id]
    assert (b.verdict, b.evidence["gpu_max_pct"], b.evidence["gpu_count_seen"]) == (Verdict.BUSY, 71.25, 2)
    assert "a NeuronCore reached 71.25%" in b.reason
    assert (i.verdict, i.evidence["gpu_max_pct"]) == (Verdict.IDLE, 0.0) and "NeuronCore max 0.0%" in i.reason


class _FakeImds:
    """IMDSv2 on loopback: a token first, then instance-id and placement/region (refused without the token)."""

    def __init__(self, *, instance_id: str, region: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        values = {"/latest/meta-data/instance-id": instance_id, "/latest/meta-data/placement/region": region}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, text: str) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def do_PUT(self) -> None:
                self._answer(200, "token-1") if self.path == "/latest/api/token" else self._answer(404, "")

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") != "token-1":
                    return self._answer(401, "")
                self._answer(200, values[self.path]) if self.path in values else self._answer(404, "")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"


def test_the_pushers_send_to_the_instances_own_region_from_a_clean_environment(aws: LocalAws,
                                                                               tmp_path: Path) -> None:
    """As on an instance: no AWS_REGION, no config file; the region comes from IMDSv2 (a plain boto3 client would
    fail every send with NoRegionError)."""
    import subprocess
    import sys

    from cost_janitor.local.emulator import FAKE_ENV

    root = Path(__file__).resolve().parents[2]
    iid = launch(aws.client("ec2", "us-west-2"), "g5.xlarge", {"environment": "dev"})
    imds = _FakeImds(instance_id=iid, region="us-west-2")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\ncat {DATA / 'nvidia_smi_8xA100_units.csv'}\n")
    smi.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint,
           "AWS_ENDPOINT_URL": aws.endpoint, **{k: v for k, v in FAKE_ENV.items() if k.startswith("AWS_")
                                                 and k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}}
    try:
        gpu = subprocess.run([sys.executable, str(root / "agent" / "gpu_metrics.py"), "--once"], env=env,
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        report = (DATA / "neuron_monitor_inf2_8xlarge.json").read_text().replace("\n", " ")
        neuron = subprocess.run([sys.executable, str(root / "agent" / "neuron_metrics.py"), "--once"], env=env,
                                input=report + "\n", capture_output=True, text=True, timeout=60, cwd=tmp_path)
    finally:
        imds.server.shutdown()
    assert gpu.returncode == 0 and neuron.returncode == 0, gpu.stderr + neuron.stderr

    def names(region: str) -> set[str]:
        metrics = aws.client("cloudwatch", region).list_metrics(Namespace="CWAgent")["Metrics"]
        return {m["MetricName"] for m in metrics if {"Name": "InstanceId", "Value": iid} in m["Dimensions"]}

    assert names("us-west-2") == {"nvidia_smi_utilization_gpu", "nvidia_smi_utilization_memory",
                                  "neuroncore_utilization"}
    assert names("us-east-1") == set()
