"""Savings after discounts against the moto server, with the emulator's Cost Explorer Savings Plans stand-in (moto
has neither GetSavingsPlansCoverage nor GetSavingsPlansUtilization; the answers follow the API reference's shapes):
a stop covered by a fully used plan while other usage runs on-demand counts at the plan's effective rate; one covered
by a plan that already leaves commitment unused counts $0 with the reason; an uncovered family, or an account without
a plan, keeps its list price. The list price stays beside it. Each call is held to the sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.models import Finding, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import ec2
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.emulator.seeding import seed_savings_plans
from cost_janitor.settings import Settings
from tests.integration.fleet import DEV, Fleet, night

G5_LIST = round(1.006 * 730, 2)  # the offline table's g5.xlarge, us-east-1
M5_LIST = round(0.096 * 730, 2)


@pytest.fixture
def fleet(aws: LocalAws, janitor: Any) -> Fleet:
    janitor(Policy())
    f = Fleet(aws, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    f.add("gpu-idle", "g5.xlarge", DEV, cpu=0.5, gpus=[(0.0, 1.0)])
    f.add("cpu-idle", "m5.large", DEV, cpu=0.5)
    return f.done()


def _sweep(fleet: Fleet, policy: Policy | None = None) -> tuple[dict[str, Finding], dict[str, int]]:
    report = idle_sweep.run(policy or Policy(), Settings.from_env(), now=night(fleet.end, 0), run_id="night-1",
                            dry_run=True, families=[ec2.FAMILY])
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}, dict(report.api_calls)


def test_a_fully_used_plan_counts_the_effective_rate_and_an_uncovered_family_its_list_price(fleet: Fleet) -> None:
    seed_savings_plans(total=1000.0, used=1000.0, on_demand_equivalent=1000.0 / 0.6, account_coverage=80.0,
                       coverage={("us-east-1", "g5"): 100.0})
    found, calls = _sweep(fleet)
    gpu, cpu = found[fleet.ids["gpu-idle"]], found[fleet.ids["cpu-idle"]]
    assert gpu.verdict == Verdict.IDLE and gpu.monthly_usd == round(G5_LIST * 0.6, 2)
    assert gpu.evidence["list_monthly_usd"] == G5_LIST  # the list price beside it
    assert any("effective rate (60% of list)" in n for n in gpu.notes), gpu.notes
    assert str(gpu.price_source).endswith("after commitments (Cost Explorer, last 30 days)")
    assert cpu.monthly_usd == M5_LIST and "list_monthly_usd" not in cpu.evidence  # m5 is not covered
    # Savings Plans: utilization, the account's coverage, one coverage call per (region, family) with idle boxes;
    # Reserved Instances: utilization only (the account has none: DataUnavailableException)
    assert calls["ce:commitments"] == 5


def test_a_plan_that_already_leaves_commitment_unused_saves_nothing_until_used_elsewhere(fleet: Fleet) -> None:
    seed_savings_plans(total=1000.0, used=600.0, on_demand_equivalent=1000.0, account_coverage=100.0,
                       coverage={("us-east-1", "g5"): 100.0})
    found, _ = _sweep(fleet)
    gpu = found[fleet.ids["gpu-idle"]]
    assert gpu.monthly_usd == 0.0 and gpu.evidence["list_monthly_usd"] == G5_LIST
    assert any("saves $0 until the commitment is used elsewhere" in n and "$400.00" in n for n in gpu.notes)


def test_no_plan_keeps_the_list_price_and_the_opt_out_reads_nothing(fleet: Fleet) -> None:
    found, calls = _sweep(fleet)  # nothing seeded: Cost Explorer answers DataUnavailableException
    assert found[fleet.ids["gpu-idle"]].monthly_usd == G5_LIST
    assert not any("Savings Plans" in n for n in found[fleet.ids["gpu-idle"]].notes)
    assert calls["ce:commitments"] == 2  # each utilization read once: no plan, no reservation
    off = Policy.model_validate({"idle": {"savings_after_plans": False}})
    _, calls = _sweep(fleet, off)
    assert "ce:commitments" not in calls


def test_cost_optimization_hubs_estimate_is_shown_beside_the_janitors_and_its_absence_said(aws: LocalAws,
                                                                                           janitor: Any) -> None:
    """idle.cost_optimization_hub: the hub's estimate for a box beside the janitor's dollars; a box it has no
    recommendation for says so; an account not enrolled gets "not used", the dollars unchanged."""
    from cost_janitor.local.emulator.seeding import seed_optimization_hub

    hub = Policy.model_validate({"idle": {"cost_optimization_hub": True}})
    janitor(hub)
    f = Fleet(aws, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    f.add("gpu-idle", "g5.xlarge", DEV, cpu=0.5, gpus=[(0.0, 1.0)])
    f.add("cpu-idle", "m5.large", DEV, cpu=0.5)
    f.done()
    seed_optimization_hub([(f.ids["gpu-idle"], "Stop", 512.5)])
    found, calls = _sweep(f, hub)
    gpu, cpu = found[f.ids["gpu-idle"]], found[f.ids["cpu-idle"]]
    assert gpu.evidence["cost_optimization_hub_usd"] == 512.5 and gpu.monthly_usd == G5_LIST
    assert any(n == f"Cost Optimization Hub estimates $512.50 a month (Stop); the janitor's: ${G5_LIST:,.2f}"
               for n in gpu.notes), gpu.notes
    assert "Cost Optimization Hub has no recommendation for it" in cpu.notes
    assert calls["cost-optimization-hub:ListRecommendations"] == 1
    seed_optimization_hub([], enrolled=False)
    found, _ = _sweep(f, hub)
    gpu = found[f.ids["gpu-idle"]]
    assert "Cost Optimization Hub not used (AccessDeniedException)" in gpu.notes and gpu.monthly_usd == G5_LIST


def test_reserved_instances_apply_first_at_their_effective_rate_and_the_plan_takes_what_they_leave(
        fleet: Fleet) -> None:
    """Half of g5 in us-east-1 runs on fully used Reserved Instances (the rest of the family on-demand): that half
    counts at the reservation's effective rate (fee of the used hours ÷ their on-demand cost: 50 %); the other half
    runs on a Savings Plan that already leaves commitment unused: $0. The m5 box is covered by neither."""
    from cost_janitor.local.emulator.seeding import seed_reservations

    seed_reservations(purchased_hours=720.0, unused_hours=0.0, amortized_fee=500.0, on_demand_cost_of_used=1000.0,
                      coverage={("us-east-1", "g5"): 50.0})
    seed_savings_plans(total=1000.0, used=600.0, on_demand_equivalent=1000.0, account_coverage=100.0,
                       coverage={("us-east-1", "g5"): 100.0})
    found, calls = _sweep(fleet)
    gpu, cpu = found[fleet.ids["gpu-idle"]], found[fleet.ids["cpu-idle"]]
    assert gpu.monthly_usd == round(G5_LIST / 2 * 0.5, 2) and gpu.evidence["reserved_pct"] == 50.0
    assert any("after Reserved Instances and Savings Plans" in n and "effective rate (50% of list)" in n
               for n in gpu.notes), gpu.notes
    assert cpu.monthly_usd == M5_LIST
    # Savings Plans: utilization, the account's coverage, a coverage call per (region, family) pair (g5, m5);
    # Reserved Instances: utilization and a coverage call per pair
    assert calls["ce:commitments"] == (1 + 1 + 2) + (1 + 2)
