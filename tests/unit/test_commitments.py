"""Savings after Savings Plans (core/commitments.py), table-driven: a stop's realized monthly dollars and the reason,
from the account's coverage and utilization. The list price is always kept beside it."""

from __future__ import annotations

import pytest

from cost_janitor.core.commitments import Commitments, Reservations, realized

LIST = 700.0


def plans(*, used: float, total: float = 1000.0, account: float = 80.0, box: float | None = 100.0) -> Commitments:
    return Commitments(total_commitment_usd=total, used_commitment_usd=used, unused_commitment_usd=total - used,
                       on_demand_equivalent_usd=used / 0.6 if used else 0.0, account_coverage_pct=account,
                       coverage_pct={} if box is None else {"us-east-1/g5": box})


@pytest.mark.parametrize(("case", "p", "monthly", "reason_has"), [
    ("no Savings Plan read: list price", None, 700.0, None),
    ("no commitment bought: list price", plans(used=0.0, total=0.0), 700.0, None),
    ("the family is not covered: list price", plans(used=1000.0, box=None), 700.0, None),
    ("covered by an under-used plan: $0 until used elsewhere", plans(used=600.0), 0.0,
     "leaves $400.00 of its commitment unused (60% used): that share saves $0 until the commitment is used elsewhere"),
    ("covered by a fully used plan that covers everything: $0", plans(used=1000.0, account=100.0), 0.0,
     "nothing else to cover"),
    ("covered by a fully used plan, other usage on-demand: the effective rate", plans(used=1000.0), 420.0,
     "effective rate (60% of list)"),
    ("half covered, under-used plan: the uncovered half at list", plans(used=600.0, box=50.0), 350.0,
     "50% of it runs on a Savings Plan"),
    ("half covered, fully used plan, other usage on-demand", plans(used=1000.0, box=50.0), 560.0,
     "effective rate"),
])
def test_a_stops_saving_after_savings_plans(case: str, p: Commitments | None, monthly: float,
                                            reason_has: str | None) -> None:
    r = realized(LIST, family="g5", region="us-east-1", plans=p)
    assert r.monthly_usd == monthly, case
    assert r.list_monthly_usd == LIST, case  # the list price is always kept beside it
    if reason_has is None:
        assert r.reason is None, case
    else:
        assert r.reason is not None and reason_has in r.reason, (case, r.reason)
        assert f"list ${LIST:,.2f}" in r.reason, case


def test_another_regions_coverage_is_never_taken_for_this_one() -> None:
    r = realized(LIST, family="g5", region="eu-west-1", plans=plans(used=600.0))
    assert (r.monthly_usd, r.reason) == (LIST, None)


def reservations(*, unused: float, box: float | None = 100.0) -> Reservations:
    return Reservations(purchased_hours=1000.0, unused_hours=unused, amortized_fee_usd=500.0,
                        on_demand_cost_of_used_usd=(1000.0 - unused) * 1.0,
                        coverage_pct={} if box is None else {"us-east-1/g5": box})


@pytest.mark.parametrize(("case", "ri", "p", "monthly", "reason_has"), [
    ("reserved hours already unused: $0 until used elsewhere", reservations(unused=200.0), None, 0.0,
     "leave 200 reserved hours unused (80% used)"),
    ("fully used, the family fully covered: $0", reservations(unused=0.0), None, 0.0, "already cover all of g5"),
    ("fully used, the family half covered: the reservation's effective rate", reservations(unused=0.0, box=50.0),
     None, 350.0 + 350.0 * 0.5, "effective rate (50% of list)"),
    ("no reservation for the family: list", reservations(unused=0.0, box=None), None, 700.0, None),
    ("half reserved (unused hours), the rest on an under-used plan: $0 for both shares",
     reservations(unused=200.0, box=50.0), plans(used=600.0), 0.0, "after Reserved Instances and Savings Plans"),
])
def test_reserved_instances_apply_first_and_a_savings_plan_to_what_they_leave(
        case: str, ri: Reservations, p: Commitments | None, monthly: float, reason_has: str | None) -> None:
    r = realized(LIST, family="g5", region="us-east-1", plans=p, reservations=ri)
    assert r.monthly_usd == monthly, (case, r)
    if reason_has is None:
        assert r.reason is None, case
    else:
        assert r.reason is not None and reason_has in r.reason, (case, r.reason)
