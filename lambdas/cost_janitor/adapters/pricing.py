"""The AWS Price List API (GetProducts, served from us-east-1) for what the offline tables do not know: EC2 on-demand
Linux, shared tenancy, per instance type and region. One call per (type, region) a night, and only for those; a type
the API does not know stays unpriced (never guessed); a refusal leaves the offline answer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.pricing import Price

# the attributes of an EC2 on-demand Linux box on shared tenancy (the Price List API's EC2 product attributes)
LINUX_ON_DEMAND = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}


class PriceList:
    def __init__(self, pricing: Any) -> None:
        self._pricing = pricing
        self.calls = 0

    def ec2(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Price]:
        """(instance type, region) → its on-demand hourly price with its source and publication date; pairs the API
        has no single price for are left out."""
        out: dict[tuple[str, str], Price] = {}
        for instance_type, region in sorted(set(wanted)):
            filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in
                       {"instanceType": instance_type, "regionCode": region, **LINUX_ON_DEMAND}.items()]
            self.calls += 1
            try:
                answer = self._pricing.get_products(ServiceCode="AmazonEC2", Filters=filters, MaxResults=10)
            except ClientError:
                return out
            prices = {h for p in answer.get("PriceList", []) if (h := _hourly(json.loads(p))) is not None}
            if len(prices) == 1:
                [(usd, published)] = prices
                out[(instance_type, region)] = Price(usd, f"AWS Price List API, on-demand Linux, {region}, "
                                                          f"published {published[:10]}")
        return out


def _hourly(product: dict[str, Any]) -> tuple[float, str] | None:
    for term in (product.get("terms") or {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            if dimension.get("unit") == "Hrs" and usd is not None:
                return float(usd), str(product.get("publicationDate") or term.get("effectiveDate") or "")
    return None
