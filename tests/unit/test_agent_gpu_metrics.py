"""The fallback GPU pusher reads real nvidia-smi CSV shapes and writes what the CloudWatch agent would."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.gpu_metrics import metric_data, parse_csv
from cost_janitor.adapters.cloudwatch import GPU_MEMORY_METRIC, GPU_UTIL_METRIC

DATA = Path(__file__).parent / "data"
AT = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize("sample, gpus, first", [
    ("nvidia_smi_8xA100_units.csv", 8, {"index": "0", "name": "NVIDIA A100-SXM4-40GB", "utilization_gpu": 97.0,
                                        "utilization_memory": 61.0, "memory_used": 38112.0, "memory_total": 40960.0,
                                        "power_draw": 389.12, "temperature_gpu": 71.0}),
    ("nvidia_smi_1xA10G_noheader_nounits.csv", 1, {"index": "0", "name": "NVIDIA A10G", "utilization_gpu": 3.0,
                                                   "utilization_memory": 1.0, "memory_used": 512.0,
                                                   "memory_total": 23028.0, "power_draw": 58.13,
                                                   "temperature_gpu": 29.0}),
    ("nvidia_smi_4xT4_na.csv", 4, {"index": "0", "name": "Tesla T4", "utilization_gpu": 12.0,
                                   "utilization_memory": 4.0, "memory_used": 1200.0, "memory_total": 15360.0,
                                   "temperature_gpu": 45.0}),
], ids=["8-gpus-with-header-and-units", "1-gpu-bare", "4-gpus-with-na"])
def test_nvidia_smi_csv_is_parsed_per_gpu(sample: str, gpus: int, first: dict[str, object]) -> None:
    parsed = parse_csv((DATA / sample).read_text())
    assert len(parsed) == gpus and parsed[0] == first


def test_na_values_are_left_out_not_zeroed() -> None:
    parsed = parse_csv((DATA / "nvidia_smi_4xT4_na.csv").read_text())
    assert "utilization_gpu" not in parsed[1] and "power_draw" not in parsed[1]
    data = metric_data(parsed[0:2], instance_id="i-1", host="h", timestamp=AT, per_gpu=True)
    assert [(d["MetricName"], d["Value"]) for d in data] == [("nvidia_smi_utilization_gpu", 12.0),
                                                            ("nvidia_smi_utilization_memory", 4.0)]
    rolled = metric_data(parsed[0:2], instance_id="i-1", host="h", timestamp=AT)  # per instance: N/A is no value
    assert [(d["MetricName"], d["Values"]) for d in rolled] == [("nvidia_smi_utilization_gpu", [12.0]),
                                                               ("nvidia_smi_utilization_memory", [4.0])]
    assert metric_data([{"index": "0", "name": "T4"}], instance_id="i-1", host="h", timestamp=AT) == []


def test_by_default_one_series_per_instance_carries_every_gpus_value() -> None:
    """What the agent sends with aggregation_dimensions [["InstanceId"]] and drop_original_metrics: the per-GPU values
    on the InstanceId-only dimension set (here as one datum's Values), so CloudWatch's Maximum is the busiest GPU's;
    two custom metrics per box, not per GPU."""
    gpus = parse_csv((DATA / "nvidia_smi_8xA100_units.csv").read_text())
    data = metric_data(gpus, instance_id="i-0abc", host="ip-10-0-0-1", timestamp=AT)
    assert [d["MetricName"] for d in data] == [GPU_UTIL_METRIC, GPU_MEMORY_METRIC]
    assert all(d["Dimensions"] == [{"Name": "InstanceId", "Value": "i-0abc"}] for d in data)
    util = data[0]
    assert util["Values"] == [g["utilization_gpu"] for g in gpus] and util["Counts"] == [1.0] * 8
    assert max(util["Values"]) == 97.0  # the busiest GPU, as the sweep's Maximum reads it


def test_only_what_the_sweep_reads_is_published_with_the_agents_names_and_dimensions() -> None:
    data = metric_data(parse_csv((DATA / "nvidia_smi_8xA100_units.csv").read_text()), instance_id="i-0abc",
                       host="ip-10-0-0-1", timestamp=AT, per_gpu=True)
    assert len(data) == 8 * 2  # with --per-gpu: two custom metrics per GPU, not six
    assert {d["MetricName"] for d in data} == {GPU_UTIL_METRIC, GPU_MEMORY_METRIC}
    util = [d for d in data if d["MetricName"] == "nvidia_smi_utilization_gpu"]
    assert {tuple(sorted((x["Name"], x["Value"]) for x in d["Dimensions"])) for d in util[:1]} == {
        (("InstanceId", "i-0abc"), ("host", "ip-10-0-0-1"), ("index", "0"), ("name", "NVIDIA A100-SXM4-40GB"))}


@pytest.mark.parametrize("text, expected", [
    ("utilization.gpu [%], utilization.memory [%]\n7 %, 3 %\n0 %, 0 %\n",
     [{"index": "0", "name": "unknown", "utilization_gpu": 7.0, "utilization_memory": 3.0},
      {"index": "1", "name": "unknown", "utilization_gpu": 0.0, "utilization_memory": 0.0}]),
    ("name, utilization.gpu, index\nNVIDIA L4, 55, 3\n",
     [{"index": "3", "name": "NVIDIA L4", "utilization_gpu": 55.0}]),
    ("index, name, utilization.gpu [%], utilization.memory [%]\n0, NVIDIA A10G, 3, 1\n",
     [{"index": "0", "name": "NVIDIA A10G", "utilization_gpu": 3.0, "utilization_memory": 1.0}]),
], ids=["the-seeds-own-command", "columns-in-another-order", "this-pushers-query"])
def test_any_header_that_names_the_fields_is_read(text: str, expected: list[dict[str, object]]) -> None:
    assert parse_csv(text) == expected


@pytest.mark.parametrize("text, says", [
    ("0, NVIDIA A10G, 3\n", "without a header must have the columns index,name,utilization.gpu"),
    ("index, name, memory.used [MiB]\n0, T4, 100 MiB\n", "no utilization.gpu column"),
], ids=["headerless-other-shape", "header-without-utilization"])
def test_a_csv_it_cannot_read_is_refused_clearly(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_csv(text)


def test_samples_every_minute_are_sent_every_five_minutes_in_one_request() -> None:
    """PutMetricData is billed per request: the agent's force_flush_interval and the pusher's batcher send five
    samples at once instead of one request a minute, at the same one-minute resolution."""
    import json as _json

    from agent.gpu_metrics import Batcher

    config = _json.loads((Path(__file__).resolve().parents[2] / "agent" / "cloudwatch-agent.json").read_text())
    assert config["metrics"]["force_flush_interval"] == 300
    batcher = Batcher(flush_s=300)
    sample = metric_data(parse_csv((DATA / "nvidia_smi_8xA100_units.csv").read_text()), instance_id="i-1",
                         host="h", timestamp=AT)
    sent = [batcher.add(sample, now=60.0 * minute) for minute in range(10)]
    assert [len(s) for s in sent] == [0, 0, 0, 0, 0, 6 * 2, 0, 0, 0, 0]  # two datums a sample (per instance)
    assert Batcher(flush_s=0).add(sample, now=0.0) == sample  # --once sends at once
