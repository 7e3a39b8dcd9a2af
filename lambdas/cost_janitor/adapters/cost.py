"""Cost Explorer reads for the digest: monthly cost by a cost-allocation tag, and data-transfer lines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from cost_janitor.core.models import UsageCost


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
        start = (now - timedelta(days=days)).date()
        usd: dict[str, float] = {}
        quantity: dict[str, float] = {}
        token = None
        while True:  # an account has thousands of usage types: Cost Explorer pages them
            self.calls += 1
            page = self._ce.get_cost_and_usage(
                TimePeriod={"Start": start.isoformat(), "End": now.date().isoformat()}, Granularity="MONTHLY",
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
