"""Cost Explorer reads: monthly cost by a cost-allocation tag and usage-type lines (the digest, the network family),
the account's Savings Plans coverage and utilization (a stop's savings after discounts), and stopped instances' own
daily cost where the account turned resource-level data on (the bill's figure beside the estimate)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.commitments import Commitments, Reservations, key
from cost_janitor.core.models import UsageCost

# GetSavingsPlansCoverage's filter dimensions are LINKED_ACCOUNT, REGION, SERVICE and the instance family (its
# reference page names it INSTANCE_FAMILY; the API's Dimension enum, which botocore carries, spells it
# INSTANCE_TYPE_FAMILY — the enum's name is sent)
FAMILY_DIMENSION = "INSTANCE_TYPE_FAMILY"
# the SERVICE dimension value of EC2 instances' usage (the Cost Explorer API reference's GetCostAndUsage examples filter
# on it); resource-level data is documented for it ("Hourly granularity is only available for EC2-Instances ...")
EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"


def month_start(day: date, back: int = 0) -> date:
    y, m = day.year, day.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


class CostExplorer:
    def __init__(self, client: Any) -> None:
        self._ce = client
        self.calls = 0  # GetCostAndUsage requests: $0.01 each (AWS Cost Management pricing)

    def monthly_by_tag(self, tag_key: str, *, now: datetime, months: int = 3) -> dict[str, dict[str, float]]:
        """{tag value: {"YYYY-MM": unblended USD}} for the last `months` whole months and this one so far."""
        start, end = month_start(now.date(), months), now.date() + timedelta(days=1)
        return {value: {period[:7]: usd for period, usd in costs.items()}
                for value, costs in self.by_tag(tag_key, start=start, end=end, granularity="MONTHLY").items()}

    def by_tag(self, tag_key: str, *, start: date, end: date, granularity: str) -> dict[str, dict[str, float]]:
        """{tag value ("" when untagged): {period start (ISO date): unblended USD}}, every page."""
        out: dict[str, dict[str, float]] = {}
        token = None
        while True:
            page = self._ce.get_cost_and_usage(
                TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, Granularity=granularity,
                Metrics=["UnblendedCost"], GroupBy=[{"Type": "TAG", "Key": tag_key}],
                **({"NextPageToken": token} if token else {}))
            for period in page.get("ResultsByTime", []):
                for group in period.get("Groups", []):
                    value = group["Keys"][0].split("$", 1)[-1]
                    out.setdefault(value, {})[period["TimePeriod"]["Start"]] = \
                        float(group["Metrics"]["UnblendedCost"]["Amount"])
            token = page.get("NextPageToken")
            if not token:
                return out

    def usage_type_costs(self, *, now: datetime, days: int = 30) -> list[UsageCost]:
        """Cost and usage by usage type over the last `days`, one line per usage type (the months the window spans
        summed): the digest keeps the data-transfer lines, the network family its NAT and region-pair lines."""
        usd: dict[str, float] = {}
        quantity: dict[str, float] = {}
        token = None
        while True:  # an account has thousands of usage types: Cost Explorer pages them
            self.calls += 1
            page = self._ce.get_cost_and_usage(
                TimePeriod=_window(now, days), Granularity="MONTHLY",
                Metrics=["UnblendedCost", "UsageQuantity"], GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
                **({"NextPageToken": token} if token else {}))
            for period in page.get("ResultsByTime", []):
                for g in period.get("Groups", []):
                    key, metrics = g["Keys"][0], g["Metrics"]
                    usd[key] = usd.get(key, 0.0) + float(metrics["UnblendedCost"]["Amount"])
                    if "UsageQuantity" in metrics:
                        quantity[key] = quantity.get(key, 0.0) + float(metrics["UsageQuantity"]["Amount"])
            token = page.get("NextPageToken")
            if not token:
                return [UsageCost(usage_type=k, usd=v, quantity=quantity.get(k)) for k, v in usd.items()]

    def resource_costs(self, resource_ids: Sequence[str], *, start: date, end: date) -> dict[str, dict[str, float]]:
        """{instance ID: {day (ISO): amortized USD}} from Cost Explorer's resource-level data
        (GetCostAndUsageWithResources: EC2 compute only, daily, within the last 14 days, an opt-in of the account's
        Cost Explorer settings — a ClientError when it is off), 100 IDs a request, every page."""
        out: dict[str, dict[str, float]] = {}
        ids = sorted(set(resource_ids))
        for first in range(0, len(ids), 100):
            token = None
            while True:
                self.calls += 1
                page = self._ce.get_cost_and_usage_with_resources(
                    TimePeriod={"Start": start.isoformat(), "End": end.isoformat()}, Granularity="DAILY",
                    Filter={"And": [{"Dimensions": {"Key": "SERVICE", "Values": [EC2_COMPUTE]}},
                                    {"Dimensions": {"Key": "RESOURCE_ID", "Values": ids[first:first + 100]}}]},
                    Metrics=["AmortizedCost"], GroupBy=[{"Type": "DIMENSION", "Key": "RESOURCE_ID"}],
                    **({"NextPageToken": token} if token else {}))
                for period in page.get("ResultsByTime", []):
                    for g in period.get("Groups", []):
                        out.setdefault(g["Keys"][0], {})[period["TimePeriod"]["Start"]] = \
                            float(g["Metrics"]["AmortizedCost"]["Amount"])
                token = page.get("NextPageToken")
                if not token:
                    break
        return out

    def savings_plans(self, *, now: datetime, pairs: set[tuple[str, str]], days: int = 30) -> Commitments:
        """The account's Savings Plans over the last `days`: utilization (GetSavingsPlansUtilization's Total), the
        coverage of every eligible dollar, and the coverage of each (region, instance family) in `pairs` — 2 + one
        call per pair. An account without Savings Plans (Cost Explorer answers DataUnavailableException) has none;
        any other refusal is raised (the caller says the list price holds because the plans were not read)."""
        period = _window(now, days)
        total = self._total(self._ce.get_savings_plans_utilization, period)
        if total is None:
            return Commitments(total_commitment_usd=0, used_commitment_usd=0, unused_commitment_usd=0,
                               on_demand_equivalent_usd=0, account_coverage_pct=0)
        used = total.get("Utilization") or {}
        return Commitments(
            total_commitment_usd=_usd(used.get("TotalCommitment")),
            used_commitment_usd=_usd(used.get("UsedCommitment")),
            unused_commitment_usd=_usd(used.get("UnusedCommitment")),
            on_demand_equivalent_usd=_usd((total.get("Savings") or {}).get("OnDemandCostEquivalent")),
            account_coverage_pct=self._coverage(period, None),
            coverage_pct=self.family_coverage(now=now, pairs=pairs, days=days))

    def family_coverage(self, *, now: datetime, pairs: set[tuple[str, str]], days: int = 30) -> dict[str, float]:
        """"region/family" → the share of that family's eligible spend in that region the plans covered."""
        period = _window(now, days)
        return {key(r, f): self._coverage(period, _family(r, f)) for r, f in sorted(pairs)}

    def reservations(self, *, now: datetime, pairs: set[tuple[str, str]], days: int = 30) -> Reservations:
        """The account's EC2 Reserved Instances over the last `days`: GetReservationUtilization's Total, and
        GetReservationCoverage's hours covered per (region, instance family) in `pairs` — 1 + one call per pair. No
        reservation (DataUnavailableException) → none; any other refusal is raised."""
        period = _window(now, days)
        total = self._total(self._ce.get_reservation_utilization, period)
        if total is None:
            return Reservations(purchased_hours=0, unused_hours=0, amortized_fee_usd=0, on_demand_cost_of_used_usd=0)
        return Reservations(
            purchased_hours=_usd(total.get("PurchasedHours")), unused_hours=_usd(total.get("UnusedHours")),
            amortized_fee_usd=_usd(total.get("TotalAmortizedFee")),
            on_demand_cost_of_used_usd=_usd(total.get("OnDemandCostOfRIHoursUsed")),
            coverage_pct=self.reserved_coverage(now=now, pairs=pairs, days=days))

    def reserved_coverage(self, *, now: datetime, pairs: set[tuple[str, str]], days: int = 30) -> dict[str, float]:
        """"region/family" → the share of that family's running hours in that region that reservations covered
        (CoverageHoursPercentage, each period weighted by its running hours; every page)."""
        period = _window(now, days)
        out: dict[str, float] = {}
        for region, family in sorted(pairs):
            covered = hours = 0.0
            token = None
            while True:
                self.calls += 1
                page = self._ce.get_reservation_coverage(
                    TimePeriod=period, Granularity="MONTHLY", Filter=_family(region, family),
                    **({"NextPageToken": token} if token else {}))
                for by_time in page.get("CoveragesByTime", []):
                    h = (by_time.get("Total") or {}).get("CoverageHours") or {}
                    running = _usd(h.get("TotalRunningHours"))
                    covered += running * _usd(h.get("CoverageHoursPercentage")) / 100
                    hours += running
                token = page.get("NextPageToken")
                if not token:
                    break
            out[key(region, family)] = round(100 * covered / hours, 2) if hours else 0.0
        return out

    def _total(self, utilization: Any, period: dict[str, str]) -> dict[str, Any] | None:
        """A utilization read's Total (GetSavingsPlansUtilization, GetReservationUtilization); None when the account
        has no such commitment (Cost Explorer's DataUnavailableException); any other refusal is raised."""
        self.calls += 1
        try:
            total: dict[str, Any] = utilization(TimePeriod=period).get("Total") or {}
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "DataUnavailableException":
                raise
            return None
        return total

    def _coverage(self, period: dict[str, str], where: dict[str, Any] | None) -> float:
        """CoveragePercentage over the period, each month weighted by its TotalCost; every page."""
        covered = spend = 0.0
        token = None
        while True:
            self.calls += 1
            page = self._ce.get_savings_plans_coverage(TimePeriod=period, Granularity="MONTHLY",
                                                       **({"Filter": where} if where else {}),
                                                       **({"NextToken": token} if token else {}))
            for c in page.get("SavingsPlansCoverages", []):
                data = c.get("Coverage") or {}
                cost = _usd(data.get("TotalCost"))
                covered += cost * _usd(data.get("CoveragePercentage")) / 100
                spend += cost
            token = page.get("NextToken")
            if not token:
                return round(100 * covered / spend, 2) if spend else 0.0


def _window(now: datetime, days: int) -> dict[str, str]:
    """The last `days` whole days as Cost Explorer's TimePeriod (End exclusive: today is not over)."""
    return {"Start": (now - timedelta(days=days)).date().isoformat(), "End": now.date().isoformat()}


def _family(region: str, family: str) -> dict[str, Any]:
    """The coverage filter of one instance family in one region."""
    return {"And": [{"Dimensions": {"Key": "REGION", "Values": [region]}},
                    {"Dimensions": {"Key": FAMILY_DIMENSION, "Values": [family]}}]}


def _usd(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


class OptimizationHub:
    """AWS Cost Optimization Hub's recommendations for given EC2 instances (ListRecommendations, served from
    us-east-1): resource id → (estimated monthly savings, action type). Its estimates follow the account's savings
    estimation mode (after discounts where the team set it)."""

    BATCH = 100  # resource ids per request (the API reference sets no number; kept small)

    def __init__(self, client: Any) -> None:
        self._hub = client
        self.calls = 0

    def estimates(self, resource_ids: list[str]) -> dict[str, tuple[float, str]]:
        out: dict[str, tuple[float, str]] = {}
        for n in range(0, len(resource_ids), self.BATCH):
            token = None
            while True:
                self.calls += 1
                page = self._hub.list_recommendations(
                    filter={"resourceIds": resource_ids[n:n + self.BATCH], "resourceTypes": ["Ec2Instance"]},
                    **({"nextToken": token} if token else {}))
                for r in page.get("items", []):
                    usd = r.get("estimatedMonthlySavings")
                    if r.get("resourceId") and usd is not None and float(usd) >= out.get(r["resourceId"], (-1.0,))[0]:
                        out[r["resourceId"]] = (float(usd), str(r.get("actionType") or "?"))
                token = page.get("nextToken")
                if not token:
                    break
        return out
