"""Savings after discounts: what stopping a box saves when a Savings Plan pays for part of it (Cost Explorer's
Savings Plans coverage and utilization; the adapter is adapters/cost.py). Pure: the numbers in, the realized
monthly dollars and the sentence that explains them out. The list price is always kept beside it.

A Savings Plan's commitment is paid every hour whether anything uses it or not. So the share of a box that the plan
covers saves money when stopped only if the commitment it frees goes to other eligible usage that now pays on-demand:
- the plan already leaves commitment unused (utilization under 100 %): the freed share joins the unused part —
  it saves $0 until the commitment is used elsewhere;
- the plan is fully used and every eligible dollar is already covered (account coverage 100 %): nothing is left
  to take the freed commitment — $0 as well;
- the plan is fully used and other eligible usage runs on-demand: the freed commitment covers it. The saving is
  counted at the plan's effective rate (the commitment the box was using: its list price × UsedCommitment ÷
  OnDemandCostEquivalent), a lower bound: the on-demand usage it displaces is worth at least that.
The uncovered share of the box is saved at its list price."""

from __future__ import annotations

from cost_janitor.core.models import _Frozen

FULL = 99.5  # % — Cost Explorer rounds; a plan at 99.5 % or more is counted as fully used / fully covering


class Commitments(_Frozen):
    """The account's Savings Plans over the window (GetSavingsPlansUtilization's Total, GetSavingsPlansCoverage)."""

    total_commitment_usd: float  # 0: no Savings Plan
    used_commitment_usd: float
    unused_commitment_usd: float
    on_demand_equivalent_usd: float  # what the covered usage would have cost on-demand
    account_coverage_pct: float  # every eligible dollar of the account
    coverage_pct: dict[str, float] = {}  # "region/family" → the share of that family's eligible spend covered

    @property
    def utilization_pct(self) -> float:
        return 100.0 * self.used_commitment_usd / self.total_commitment_usd if self.total_commitment_usd else 0.0

    @property
    def effective_ratio(self) -> float | None:
        """What a covered dollar of list price costs on the plan (UsedCommitment ÷ OnDemandCostEquivalent)."""
        return self.used_commitment_usd / self.on_demand_equivalent_usd if self.on_demand_equivalent_usd else None


class Realized(_Frozen):
    monthly_usd: float  # what stopping it saves a month, after the plan
    list_monthly_usd: float
    covered_pct: float
    reason: str | None  # None: nothing covered it (the list price holds)


def key(region: str, family: str) -> str:
    return f"{region}/{family}"


def realized(list_monthly: float, *, family: str, region: str, plans: Commitments | None) -> Realized:
    """A stop's monthly saving after the account's Savings Plans, with the reason when it differs from list."""
    covered = min(max((plans.coverage_pct.get(key(region, family), 0.0) if plans else 0.0), 0.0), 100.0)
    if plans is None or not plans.total_commitment_usd or covered == 0:
        return Realized(monthly_usd=list_monthly, list_monthly_usd=list_monthly, covered_pct=covered, reason=None)
    share = list_monthly * covered / 100
    uncovered = list_monthly - share
    if plans.utilization_pct < FULL:
        saved, why = 0.0, (f"{covered:g}% of it runs on a Savings Plan that already leaves "
                           f"${plans.unused_commitment_usd:,.2f} of its commitment unused "
                           f"({plans.utilization_pct:.0f}% used): that share saves $0 until the commitment is used "
                           "elsewhere")
    elif plans.account_coverage_pct >= FULL:
        saved, why = 0.0, (f"{covered:g}% of it runs on a fully used Savings Plan that already covers all eligible "
                           "usage: the commitment it frees has nothing else to cover, so that share saves $0 until "
                           "the commitment is used elsewhere")
    else:
        ratio = plans.effective_ratio or 0.0
        saved, why = share * ratio, (f"{covered:g}% of it runs on a fully used Savings Plan; the commitment it frees "
                                     f"covers other usage now paid on-demand: that share counted at the plan's "
                                     f"effective rate ({ratio:.0%} of list)")
    monthly = round(uncovered + saved, 2)
    return Realized(monthly_usd=monthly, list_monthly_usd=list_monthly, covered_pct=covered,
                    reason=f"saves ${monthly:,.2f} a month after Savings Plans (list ${list_monthly:,.2f}): {why}")
