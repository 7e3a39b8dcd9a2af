"""Savings after discounts: what stopping a box saves when Reserved Instances or a Savings Plan pay for part of it
(Cost Explorer's coverage and utilization of each; the adapter is adapters/cost.py). Reserved Instances apply first,
a Savings Plan to what they leave; each follows the same reasoning below, a reservation's "other usage" being its
own instance family in its region. Pure: the numbers in, the realized
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


class Reservations(_Frozen):
    """The account's EC2 Reserved Instances over the window (GetReservationUtilization's Total,
    GetReservationCoverage). A regional Linux reservation fits any size of its family in its region, so coverage is
    read per region and instance family."""

    purchased_hours: float  # 0: no reservation
    unused_hours: float
    amortized_fee_usd: float  # TotalAmortizedFee: upfront and recurring, for used and unused hours
    on_demand_cost_of_used_usd: float  # OnDemandCostOfRIHoursUsed
    coverage_pct: dict[str, float] = {}  # "region/family" → CoverageHoursPercentage

    @property
    def utilization_pct(self) -> float:
        return 100.0 * (self.purchased_hours - self.unused_hours) / self.purchased_hours if self.purchased_hours \
            else 0.0

    @property
    def effective_ratio(self) -> float | None:
        """What a reserved hour in use costs against its on-demand price (the fee of the used hours ÷ their
        on-demand cost)."""
        if not self.on_demand_cost_of_used_usd or not self.purchased_hours:
            return None
        used_fee = self.amortized_fee_usd * (self.purchased_hours - self.unused_hours) / self.purchased_hours
        return used_fee / self.on_demand_cost_of_used_usd


class Realized(_Frozen):
    monthly_usd: float  # what stopping it saves a month, after the commitments
    list_monthly_usd: float
    covered_pct: float  # by a Savings Plan (of what Reserved Instances leave)
    reason: str | None  # None: nothing covered it (the list price holds)
    reserved_pct: float = 0.0  # by Reserved Instances


def key(region: str, family: str) -> str:
    return f"{region}/{family}"


def _pct(table: dict[str, float], region: str, family: str) -> float:
    return min(max(table.get(key(region, family), 0.0), 0.0), 100.0)


def _freed(share: float, ratio: float, *, under_used: bool, covers_all: bool, under_used_why: str,
           covers_all_why: str, rate_why: str) -> tuple[float, str]:
    """What the covered share of a stop saves, by one rule for reservations and plans alike: a commitment is paid
    whether used or not, so the share saves $0 when the commitment already goes partly unused, or when it is fully
    used and already covers everything it could (what it frees has nothing to cover); otherwise the freed commitment
    covers usage now paid on-demand, and the share counts at the commitment's effective rate."""
    if under_used:
        return 0.0, under_used_why
    if covers_all:
        return 0.0, covers_all_why
    return share * ratio, rate_why


def realized(list_monthly: float, *, family: str, region: str, plans: Commitments | None,
             reservations: Reservations | None = None) -> Realized:
    """A stop's monthly saving after the account's Reserved Instances (they apply first) and Savings Plans (to what
    the reservations leave), with the reason when it differs from list."""
    reserved = _pct(reservations.coverage_pct, region, family) if reservations and reservations.purchased_hours \
        else 0.0
    ri_share = list_monthly * reserved / 100
    whys: list[str] = []
    ri_saved = 0.0
    if reservations is not None and ri_share:
        ratio = reservations.effective_ratio or 0.0
        ri_saved, why = _freed(
            ri_share, ratio, under_used=reservations.utilization_pct < FULL, covers_all=reserved >= FULL,
            under_used_why=f"{reserved:g}% of it runs on Reserved Instances that already leave "
                           f"{reservations.unused_hours:,.0f} reserved hours unused "
                           f"({reservations.utilization_pct:.0f}% used): that share saves $0 until the reservation "
                           "is used elsewhere",
            covers_all_why=f"{reserved:g}% of it runs on fully used Reserved Instances that already cover all of "
                           f"{family} in {region}: the hours it frees have nothing else to cover, so that share saves "
                           "$0 until the reservation is used elsewhere",
            rate_why=f"{reserved:g}% of it runs on fully used Reserved Instances; the hours it frees cover other "
                     f"{family} usage now paid on-demand: that share counted at the reservation's effective rate "
                     f"({ratio:.0%} of list)")
        whys.append(why)
    rest = list_monthly - ri_share
    covered = _pct(plans.coverage_pct, region, family) if plans and plans.total_commitment_usd else 0.0
    share = rest * covered / 100
    saved = 0.0
    if plans is not None and share:
        ratio = plans.effective_ratio or 0.0
        saved, why = _freed(
            share, ratio, under_used=plans.utilization_pct < FULL, covers_all=plans.account_coverage_pct >= FULL,
            under_used_why=f"{covered:g}% of it runs on a Savings Plan that already leaves "
                           f"${plans.unused_commitment_usd:,.2f} of its commitment unused "
                           f"({plans.utilization_pct:.0f}% used): that share saves $0 until the commitment is used "
                           "elsewhere",
            covers_all_why=f"{covered:g}% of it runs on a fully used Savings Plan that already covers all eligible "
                           "usage: the commitment it frees has nothing else to cover, so that share saves $0 until "
                           "the commitment is used elsewhere",
            rate_why=f"{covered:g}% of it runs on a fully used Savings Plan; the commitment it frees covers other "
                     f"usage now paid on-demand: that share counted at the plan's effective rate ({ratio:.0%} of "
                     "list)")
        whys.append(why)
    if not whys:
        return Realized(monthly_usd=list_monthly, list_monthly_usd=list_monthly, covered_pct=covered,
                        reserved_pct=reserved, reason=None)
    monthly = round(rest - share + ri_saved + saved, 2)
    after = " and ".join(n for n, part in (("Reserved Instances", ri_share), ("Savings Plans", share)) if part)
    return Realized(monthly_usd=monthly, list_monthly_usd=list_monthly, covered_pct=covered, reserved_pct=reserved,
                    reason=f"saves ${monthly:,.2f} a month after {after} (list ${list_monthly:,.2f}): "
                           + "; ".join(whys))
