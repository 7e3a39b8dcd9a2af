"""The AWS Price List API (GetProducts, served from us-east-1) for what the offline tables do not know: EC2 on-demand
Linux, shared tenancy, and SageMaker AI real-time hosting, per instance type and region. One call per (type,
region) a night, and only for those; a type the API does not know stays unpriced (never guessed); a refusal leaves
the offline answer."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.core.pricing import Price

# the attributes of an EC2 on-demand Linux box on shared tenancy (the Price List API's EC2 product attributes)
LINUX_ON_DEMAND = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
# a SageMaker AI hosting instance: service code AmazonSageMaker, product family "ML Instance", the type in
# instanceName and the use in platoinstancetype ("Hosting": real-time inference). These attribute names are the ones
# AWS's own SageMaker samples filter on (an inference-recommender PricingClient); the Price List API's
# DescribeServices lists a service's attribute names, and a filter on a name it does not have matches nothing — so
# a wrong name leaves the price unknown, never wrong.
SAGEMAKER_HOSTING = {"productFamily": "ML Instance", "platoinstancetype": "Hosting"}


class PriceList:
    def __init__(self, pricing: Any) -> None:
        self._pricing = pricing
        self.calls = 0

    def ec2(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Price]:
        """(instance type, region) → its on-demand hourly price with its source and publication date; pairs the API
        has no single price for are left out."""
        return self._hourly_prices("AmazonEC2", "instanceType", LINUX_ON_DEMAND, wanted, "on-demand Linux")

    def sagemaker_hosting(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Price]:
        """(ml.* instance type, region) → its real-time hosting hourly price per instance, as ec2() does."""
        return self._hourly_prices("AmazonSageMaker", "instanceName", SAGEMAKER_HOSTING, wanted,
                                   "SageMaker AI hosting")

    def _hourly_prices(self, service: str, type_field: str, attributes: dict[str, str],
                       wanted: Iterable[tuple[str, str]], what: str) -> dict[tuple[str, str], Price]:
        out: dict[tuple[str, str], Price] = {}
        for instance_type, region in sorted(set(wanted)):
            filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in
                       {type_field: instance_type, "regionCode": region, **attributes}.items()]
            self.calls += 1
            try:
                answer = self._pricing.get_products(ServiceCode=service, Filters=filters, MaxResults=10)
            except ClientError:
                return out
            prices = {h for p in answer.get("PriceList", []) if (h := _hourly(json.loads(p))) is not None}
            if len(prices) == 1:
                [(usd, published)] = prices
                out[(instance_type, region)] = Price(usd, f"AWS Price List API, {what}, {region}, "
                                                          f"published {published[:10]}")
        return out


def _hourly(product: dict[str, Any]) -> tuple[float, str] | None:
    for term in (product.get("terms") or {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            if dimension.get("unit") == "Hrs" and usd is not None:
                return float(usd), str(product.get("publicationDate") or term.get("effectiveDate") or "")
    return None


def night_prices(memory: dict[str, Any], calls: Counter[str], kind: Literal["ec2", "sagemaker_hosting"],
                 wanted: Iterable[tuple[str, str]], *, ledger: Any = None,
                 now: datetime | None = None) -> dict[tuple[str, str], Price]:
    """The night's price book for `kind`: each (type, region) pair asked of the Price List API at most once a night
    (kept in the night's memory across regions and families, the pairs it does not know too) and, with a ledger, at
    most once a week (adapters.ledger.Ledger.prices: a pair the API did not know is remembered as unknown for the
    week too). The calls are counted."""
    book: dict[tuple[str, str], Price] = memory.setdefault(f"prices:{kind}", {})
    asked: set[tuple[str, str]] = memory.setdefault(f"prices-asked:{kind}", set())
    todo = set(wanted) - asked
    if not todo:
        return book
    asked |= todo
    if ledger is not None and now is not None:
        cached = ledger.prices(kind, sorted(todo), now=now)
        calls["dynamodb:BatchGetItem (prices)"] += -(-len(todo) // 100)
        book.update({pair: Price(usd, source) for pair, (usd, source) in cached.items() if usd is not None})
        todo -= set(cached)
    if todo:
        prices = PriceList(client("pricing", "us-east-1"))
        try:
            found = getattr(prices, kind)(todo)
        finally:
            calls["pricing:GetProducts"] += prices.calls
        book.update(found)
        if ledger is not None and now is not None:
            ledger.save_prices(kind, {pair: (found[pair].hourly_usd, found[pair].source) if pair in found else
                                      (None, "unknown: the AWS Price List API has no single on-demand price")
                                      for pair in todo}, now=now)
    return book
