"""The janitor's own bill: its schedule arithmetic, its line items, and its constants tied to what is shipped (the
agent's config, the stack's functions and alarms), so the model cannot drift from the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cost_janitor.core.own_cost import (
    AGENT_FLUSH_S,
    AGENT_MEASUREMENTS,
    FUNCTIONS,
    PRICES,
    Fleet,
    estimate,
    runs_per_month,
    total,
)
from cost_janitor.core.policy import Policy
from cost_janitor.settings import BY_SERVICE

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("expression, runs", [
    ("cron(0 2 * * ? *)", 30.42), ("cron(0 3 ? * SUN *)", 4.35), ("cron(0 8 ? * MON,THU *)", 8.7),
    ("rate(1 day)", 30.42), ("rate(12 hours)", 60.83), ("cron(0/15 * * * ? *)", 2920.0), ("cron(0 8 1 * ? *)", 1),
], ids=["nightly", "weekly", "twice-a-week", "rate-daily", "rate-12h", "every-15-minutes", "monthly"])
def test_how_often_a_schedule_runs_in_a_month(expression: str, runs: float) -> None:
    assert runs_per_month(expression) == runs


def _items(**fleet: float) -> dict[str, float]:
    values = {"instances": 1000, "gpu_instances": 333, "gpus_per_box": 4, **fleet}
    return {i.name: i.monthly_usd for i in estimate(Fleet(**values), Policy())}  # type: ignore[arg-type]


def test_the_gpu_agents_metrics_and_its_requests_are_per_box() -> None:
    items = _items()
    assert items["GPU agent: custom metrics"] == round(333 * 2 * 0.30, 2)  # the GPUs rolled up per box (#27)
    assert items["GPU agent: PutMetricData"] == round(333 * 730 * 3600 / 300 / 1000 * 0.01, 2)
    assert _items(gpu_instances=0)["GPU agent: custom metrics"] == 0


def test_what_does_not_scale_with_the_fleet_stays_put_and_the_sweep_scales_linearly() -> None:
    small, large = _items(instances=1000, gpu_instances=0), _items(instances=10_000, gpu_instances=0)
    assert small["CloudWatch alarms"] == large["CloudWatch alarms"] == round((4 * FUNCTIONS + 1) * 0.10, 2)
    assert large["CloudWatch GetMetricData"] == pytest.approx(10 * small["CloudWatch GetMetricData"], rel=0.02)


def test_the_total_is_the_sum_of_its_lines_and_lines_are_most_expensive_first() -> None:
    items = estimate(Fleet(1000, 333, 4), Policy())
    assert total(items) == round(sum(i.monthly_usd for i in items), 2)
    assert [i.monthly_usd for i in items] == sorted((i.monthly_usd for i in items), reverse=True)
    assert all(v > 0 for v in PRICES.values())


def test_the_model_counts_what_is_shipped() -> None:
    config = json.loads((ROOT / "agent" / "cloudwatch-agent.json").read_text())["metrics"]
    assert len(config["metrics_collected"]["nvidia_gpu"]["measurement"]) == AGENT_MEASUREMENTS
    assert config["force_flush_interval"] == AGENT_FLUSH_S
    assert len(BY_SERVICE) == FUNCTIONS  # one Lambda per settings class (tests/infra checks the stack has them)


def test_a_slower_schedule_costs_less() -> None:
    weekly = Policy.model_validate({"idle": {"schedule": "cron(0 2 ? * SUN *)"}})
    nightly = {i.name: i.monthly_usd for i in estimate(Fleet(10_000, 0, 0), Policy())}
    once = {i.name: i.monthly_usd for i in estimate(Fleet(10_000, 0, 0), weekly)}
    assert once["CloudWatch GetMetricData"] < nightly["CloudWatch GetMetricData"] / 6


def test_endpoints_and_neuron_boxes_add_their_own_lines_only_when_there_are_some() -> None:
    from cost_janitor.core.own_cost import ENDPOINT_METRICS_REQUESTED_PER_1K

    plain = {i.name for i in estimate(Fleet(instances=1000, gpu_instances=333, gpus_per_box=4), Policy())}
    assert not {"SageMaker: GetMetricData", "Neuron pusher: custom metrics"} & plain
    items = {i.name: i.monthly_usd for i in estimate(Fleet(instances=1000, gpu_instances=333, gpus_per_box=4,
                                                           endpoints=2000, neuron_instances=50,
                                                           neuron_cores_per_box=8), Policy())}
    nights = runs_per_month(Policy().idle.schedule)
    assert items["SageMaker: GetMetricData"] == round(ENDPOINT_METRICS_REQUESTED_PER_1K * 2 * nights / 1000 * 0.01, 2)
    assert items["Neuron pusher: custom metrics"] == 400 * 0.30


def test_the_eks_read_is_priced_per_node_and_pod_and_container_insights_is_stated_unpriced() -> None:
    """The measured figure of bench/eks.py (4,840 metrics for 100 GPU nodes and 1,000 pods) at $0.01 per 1,000
    metrics, every night; Container Insights itself is the clusters' bill, never guessed."""
    import json as _json

    from cost_janitor.core.own_cost import unpriced

    measured = _json.loads((ROOT / "bench" / "results" / "eks.json").read_text())[0]
    items = _items(eks_nodes=measured["nodes"], eks_pods=measured["pods"])
    nights = runs_per_month(Policy().idle.schedule)
    assert items["EKS: GetMetricData"] == pytest.approx(measured["metrics_requested"] * nights / 1000
                                                        * PRICES["get_metric_data_per_1k_metrics"], abs=0.02)
    assert "EKS: GetMetricData" not in _items()
    fleet = Fleet(instances=0, gpu_instances=0, gpus_per_box=0, eks_nodes=10)
    assert unpriced(fleet) and "per observation" in unpriced(fleet)[0]
    assert unpriced(Fleet(instances=10, gpu_instances=0, gpus_per_box=0)) == []


def test_the_network_read_is_priced_per_nat_gateway_and_one_cost_explorer_query_a_night() -> None:
    """The measured figures of bench/network.py (2 metrics per NAT gateway; one Cost Explorer request a night, whatever
    the number of VPCs) at list prices."""
    import json as _json

    measured = _json.loads((ROOT / "bench" / "results" / "network.json").read_text())[0]
    items = _items(nat_gateways=measured["vpcs"])
    nights = runs_per_month(Policy().idle.schedule)
    assert items["Network: GetMetricData"] == pytest.approx(measured["metrics_requested"] * nights / 1000
                                                            * PRICES["get_metric_data_per_1k_metrics"], abs=0.01)
    assert measured["api_calls"]["GetCostAndUsage"] == 1
    assert items["Network: Cost Explorer API"] == round(nights * PRICES["cost_explorer_per_request"], 2)
    assert "Network: GetMetricData" not in _items()


def test_rolling_the_gpus_up_per_instance_brings_1000_instances_under_250_dollars() -> None:
    """#27's goal: 1,000 instances, a third GPU boxes with 4 GPUs each, ≤ $250 a month by the model with the default
    agent config (one series per box); the per-GPU opt-in pays for a series per GPU, as before ($837.73)."""
    default = estimate(Fleet(1000, 333, 4), Policy())
    per_gpu = estimate(Fleet(1000, 333, 4), Policy.model_validate({"agent": {"per_gpu_series": True}}))
    assert total(default) <= 250
    assert total(per_gpu) == 837.73
    lines = {i.name: i.monthly_usd for i in default}, {i.name: i.monthly_usd for i in per_gpu}
    assert lines[0]["GPU agent: custom metrics"] == round(333 * 2 * 0.30, 2)
    assert lines[1]["GPU agent: custom metrics"] == round(333 * 4 * 2 * 0.30, 2)
