"""The Neuron pusher reads neuron-monitor's documented report and publishes one series per NeuronCore."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.neuron_metrics import cores, metric_data, reports

REPORT = json.loads((Path(__file__).parent / "data" / "neuron_monitor_inf2_8xlarge.json").read_text())
AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def test_each_core_is_its_busiest_application_and_unused_cores_are_zero() -> None:
    assert cores(REPORT) == {"0": 12.5, "1": 71.25}  # core 1 shared by two applications: the busier one
    idle = {**REPORT, "neuron_runtime_data": []}  # nothing running: every core of the instance at 0, not a gap
    assert cores(idle) == {"0": 0.0, "1": 0.0}


def test_logical_neuroncores_on_trn2() -> None:
    trn2 = {"neuron_hardware_info": {"neuron_device_count": 16, "neuroncore_per_device_count": 8,
                                     "logical_neuroncore_config": 2}, "neuron_runtime_data": []}
    assert len(cores(trn2)) == 64


def test_metric_data_names_what_the_sweep_reads() -> None:
    data = metric_data(cores(REPORT), instance="i-0abc", timestamp=AT)
    assert [(d["MetricName"], d["Unit"], d["Value"]) for d in data] == [
        ("neuroncore_utilization", "Percent", 12.5), ("neuroncore_utilization", "Percent", 71.25)]
    assert data[0]["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0abc"}, {"Name": "NeuronCore", "Value": "0"}]


def test_lines_that_are_not_reports_are_skipped() -> None:
    stream = io.StringIO("neuron-monitor: warning: no runtime\n" + json.dumps(REPORT) + "\n[1, 2]\n")
    assert [cores(r) for r in reports(stream)] == [{"0": 12.5, "1": 71.25}]


class _CloudWatch:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> None:
        self.requests.append(request)


def test_the_pusher_prints_or_sends_in_batches_through_the_shared_sender(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Both pushers' loops go through gpu_metrics.Sender: --print needs no AWS; otherwise one PutMetricData per
    flush, in the namespace the sweep reads."""
    from agent.gpu_metrics import Sender
    from agent.neuron_metrics import main

    monkeypatch.setattr("sys.stdin", io.StringIO("not a report\n" + json.dumps(REPORT) + "\n"))
    assert main(["--print", "--once"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(d["MetricName"], d["Value"]) for d in printed] == [("neuroncore_utilization", 12.5),
                                                               ("neuroncore_utilization", 71.25)]
    cloudwatch = _CloudWatch()
    sender = Sender(print_only=False, flush_s=300, client=cloudwatch)
    data = metric_data(cores(REPORT), instance="i-0abc", timestamp=AT)
    for minute in range(6):
        sender.send(data, now=60.0 * minute)
    assert [(r["Namespace"], len(r["MetricData"])) for r in cloudwatch.requests] == [("CWAgent", 12)]
