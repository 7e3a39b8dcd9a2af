"""The idle sweep reads exactly what the shipped CloudWatch agent config produces."""

from __future__ import annotations

import json
from pathlib import Path

from cost_janitor.adapters.cloudwatch import AGENT_NAMESPACE, GPU_MEMORY_METRIC, GPU_UTIL_METRIC

CONFIG = Path(__file__).resolve().parents[2] / "agent" / "cloudwatch-agent.json"


def test_agent_config_emits_the_gpu_series_the_sweep_reads() -> None:
    metrics = json.loads(CONFIG.read_text())["metrics"]
    assert metrics["namespace"] == AGENT_NAMESPACE
    assert metrics["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    # the agent names nvidia_gpu series nvidia_smi_<measurement>
    emitted = {f"nvidia_smi_{m}" for m in metrics["metrics_collected"]["nvidia_gpu"]["measurement"]}
    # ... and nothing else: each measurement is a custom metric per GPU, billed every month
    assert emitted == {GPU_UTIL_METRIC, GPU_MEMORY_METRIC}


def test_the_fallback_pusher_publishes_exactly_what_the_agent_config_does() -> None:
    from agent.gpu_metrics import FIELDS

    measurements = json.loads(CONFIG.read_text())["metrics"]["metrics_collected"]["nvidia_gpu"]["measurement"]
    assert sorted(m for m, _ in FIELDS.values()) == sorted(measurements)


def test_the_default_config_rolls_gpus_up_per_instance_and_drops_the_per_gpu_originals() -> None:
    """aggregation_dimensions [["InstanceId"]] makes the agent send each GPU's datum on the InstanceId-only dimension
    set too (its cloudwatch output's ProcessRollup); drop_original_metrics in the nvidia_gpu section skips the per-GPU
    originals (IsDropping; the agent's own sample config drop_origin_linux.json names utilization_gpu under
    nvidia_gpu). Both measurements are dropped: two custom metrics per box instead of two per GPU."""
    metrics = json.loads(CONFIG.read_text())["metrics"]
    assert metrics["aggregation_dimensions"] == [["InstanceId"]]
    gpu = metrics["metrics_collected"]["nvidia_gpu"]
    assert sorted(gpu["drop_original_metrics"]) == sorted(gpu["measurement"])


def test_the_per_gpu_config_is_the_same_less_the_roll_up() -> None:
    per_gpu = json.loads((CONFIG.parent / "cloudwatch-agent-per-gpu.json").read_text())
    default = json.loads(CONFIG.read_text())
    default["metrics"].pop("aggregation_dimensions")
    default["metrics"]["metrics_collected"]["nvidia_gpu"].pop("drop_original_metrics")
    assert per_gpu == default
