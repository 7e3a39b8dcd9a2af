"""What the on-instance pusher writes is exactly what the idle sweep reads (names, namespace, dimensions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.gpu_metrics import metric_data, parse_csv, publish
from cost_janitor.adapters.cloudwatch import CloudWatchReader, UsageReader
from cost_janitor.core.idle import classify_instances
from cost_janitor.core.models import Instance, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.local.emulator import LocalAws, MetricSeeder, launch, seed_instance_metrics
from tests.builders import make_instance

DATA = Path(__file__).resolve().parents[1] / "unit" / "data"


def test_a_busy_8_gpu_box_reported_by_the_pusher_is_busy_to_the_sweep(aws: LocalAws) -> None:
    ec2, cloudwatch = aws.client("ec2"), aws.client("cloudwatch")
    iid = launch(ec2, "p4d.24xlarge", {"environment": "dev"})
    now = datetime(2026, 11, 28, 2, 5, tzinfo=UTC)
    gpus = parse_csv((DATA / "nvidia_smi_8xA100_units.csv").read_text())
    data = []
    for hour in range(1, 8 * 24):
        data += metric_data(gpus, instance_id=iid, host="ip-10-0-0-1", timestamp=now - timedelta(hours=hour))
    assert publish(cloudwatch, data) == -(-len(data) // 1000)
    seeder = MetricSeeder(cloudwatch)
    seed_instance_metrics(seeder, iid, end=now, hours=8 * 24, cpu=2.0)  # a quiet CPU: only the GPUs work
    seeder.flush()
    instance = make_instance(instance_id=iid, instance_type="p4d.24xlarge")
    reader = CloudWatchReader(cloudwatch)
    usage = UsageReader(reader).read([instance], Policy(), now=now)
    [finding] = classify_instances([instance], usage, Policy(), now=now)
    assert finding.verdict == Verdict.BUSY and finding.evidence["gpu_count_seen"] == 8
    assert finding.evidence["gpu_max_pct"] == 97.0


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
    usage = UsageReader(reader).read([busy, idle], Policy(), now=now)
    found = {f.resource_id: f for f in classify_instances([busy, idle], usage, Policy(), now=now)}
    b, i = found[busy.instance_id], found[idle.instance_id]
    assert (b.verdict, b.evidence["gpu_max_pct"], b.evidence["gpu_count_seen"]) == (Verdict.BUSY, 71.25, 2)
    assert "a NeuronCore reached 71.25%" in b.reason
    assert (i.verdict, i.evidence["gpu_max_pct"]) == (Verdict.IDLE, 0.0) and "NeuronCore max 0.0%" in i.reason
