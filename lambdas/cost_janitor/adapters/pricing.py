"""The AWS Price List API (GetProducts, served from us-east-1) for what the offline tables do not know: EC2 on-demand
Linux, shared tenancy, and SageMaker AI real-time hosting, per instance type and region; and the unit rates of the
storage and network families (RATES: EBS volumes and snapshots, EFS, ECR, NAT gateways) per region. One call per
(type or rate, region) a night, and only for those; what the API does not know stays unpriced (never guessed); a
refusal leaves the offline answer."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.core.pricing import Price

# the attributes of an EC2 on-demand Linux box on shared tenancy (the Price List API's EC2 product attributes)
LINUX_ON_DEMAND = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
# a SageMaker AI instance: service code AmazonSageMaker, product family "ML Instance", the type in instanceName and
# the use in platoinstancetype ("Hosting": real-time inference; "Notebook": notebook instances; "Studio-JupyterLab",
# "studio-codeeditor", "Studio-Notebook": Studio apps — the values ec2instances.info's SageMaker scraper maps from
# AWS's own offer file, vantage-sh/ec2instances.info sagemaker.py). These attribute names are the ones
# AWS's own SageMaker samples filter on (an inference-recommender PricingClient); the Price List API's
# DescribeServices lists a service's attribute names, and a filter on a name it does not have matches nothing — so
# a wrong name leaves the price unknown, never wrong.
SAGEMAKER_HOSTING = {"productFamily": "ML Instance", "platoinstancetype": "Hosting"}
SAGEMAKER_USES = {"Hosting": "SageMaker AI hosting", "Notebook": "SageMaker AI notebook instances",
                  "Studio-JupyterLab": "SageMaker AI Studio JupyterLab",
                  "studio-codeeditor": "SageMaker AI Studio Code Editor",
                  "Studio-Notebook": "SageMaker AI Studio notebooks"}
# a Studio app type → the use its instance hours are billed under
STUDIO_USES = {"JupyterLab": "Studio-JupyterLab", "CodeEditor": "studio-codeeditor", "KernelGateway": "Studio-Notebook"}




@dataclass(frozen=True)
class RateQuery:
    """One price as GetProducts finds it (a unit rate of RATES, or an instance type's hourly price): the service code,
    the product family, attributes matched exactly (TERM_MATCH) and by substring (CONTAINS: a usage type without its
    region prefix, which differs by service), and the price dimension's unit."""
    service: str
    family: str | None  # None: not filtered on (S3's storage products are found by usage type)
    unit: str
    what: str
    match: dict[str, str] = field(default_factory=dict)
    contains: dict[str, str] = field(default_factory=dict)


# The product families, attribute names and usage types below are the ones Infracost's AWS resources filter AWS's
# price data on (github.com/infracost/infracost, internal/resources/aws: ebs_volume.go, ebs_snapshot.go,
# efs_file_system.go, ecr_repository.go, nat_gateway.go); the GetProducts example in the AWS CLI reference shows the
# same shape for EBS (productFamily "Storage", usagetype "APS1-EBS:VolumeUsage.piops", unit "GB-Mo"). They are not
# checked against the live API here: a name the API does not have matches nothing, and an answer with more than one
# price or another unit is not used — so a wrong name leaves the rate unknown, never wrong. CONTAINS is GetProducts'
# documented substring filter (FilterType in the Price List API reference).
EBS_VOLUME_TYPES = ("gp3", "gp2", "io1", "io2", "st1", "sc1", "standard")
RATES: dict[str, RateQuery] = {
    **{f"ebs:{t}": RateQuery("AmazonEC2", "Storage", "GB-Mo", f"EBS {t} storage per GB-month",
                             match={"volumeApiName": t}) for t in EBS_VOLUME_TYPES},
    "ebs:snapshot": RateQuery("AmazonEC2", "Storage Snapshot", "GB-Mo", "EBS snapshot storage per GB-month",
                              contains={"usagetype": "EBS:SnapshotUsage"}),
    "efs:standard": RateQuery("AmazonEFS", "Storage", "GB-Mo", "EFS Standard storage per GB-month",
                              contains={"usagetype": "-TimedStorage-ByteHrs"}),
    "ecr:storage": RateQuery("AmazonECR", "EC2 Container Registry", "GB-Mo", "ECR storage per GB-month",
                             contains={"usagetype": "TimedStorage-ByteHrs"}),
    "nat:hours": RateQuery("AmazonEC2", "NAT Gateway", "Hrs", "NAT gateway per hour",
                           contains={"usagetype": "NatGateway-Hours"}),
    "nat:bytes": RateQuery("AmazonEC2", "NAT Gateway", "GB", "NAT gateway data processed per GB",
                           contains={"usagetype": "NatGateway-Bytes"}),
    # CloudWatch Logs archived storage (Infracost's cloudwatch_log_group.go: "Archival Storage")
    "logs:storage": RateQuery("AmazonCloudWatch", "Storage Snapshot", "GB-Mo", "CloudWatch Logs storage per GB-month",
                              contains={"usagetype": "-TimedStorage-ByteHrs"}),
    # S3 storage classes, first tier (Infracost's s3_*_storage_class.go): Standard, Standard-IA, One Zone-IA in
    # AmazonS3, Glacier Flexible Retrieval in AmazonGlacier, Deep Archive in AmazonS3GlacierDeepArchive. Glacier
    # Instant Retrieval and Intelligent-Tiering have no filter there: unknown outside the table's region.
    "s3:STANDARD": RateQuery("AmazonS3", None, "GB-Mo", "S3 Standard storage per GB-month",
                             match={"volumeType": "Standard"}, contains={"usagetype": "-TimedStorage-ByteHrs"}),
    "s3:STANDARD_IA": RateQuery("AmazonS3", None, "GB-Mo", "S3 Standard-IA storage per GB-month",
                                contains={"usagetype": "-TimedStorage-SIA-ByteHrs"}),
    "s3:ONEZONE_IA": RateQuery("AmazonS3", None, "GB-Mo", "S3 One Zone-IA storage per GB-month",
                               contains={"usagetype": "-TimedStorage-ZIA-ByteHrs"}),
    "s3:GLACIER": RateQuery("AmazonGlacier", None, "GB-Mo", "S3 Glacier Flexible Retrieval storage per GB-month",
                            contains={"usagetype": "-TimedStorage-ByteHrs"}),
    "s3:DEEP_ARCHIVE": RateQuery("AmazonS3GlacierDeepArchive", None, "GB-Mo",
                                 "S3 Glacier Deep Archive storage per GB-month",
                                 contains={"usagetype": "-TimedStorage-GDA-ByteHrs"}),
}


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
        return self.sagemaker(wanted, "Hosting")

    def sagemaker(self, wanted: Iterable[tuple[str, str]], use: str) -> dict[tuple[str, str], Price]:
        """(ml.* instance type, region) → its hourly price for `use` (a platoinstancetype: SAGEMAKER_USES)."""
        return self._hourly_prices("AmazonSageMaker", "instanceName", {**SAGEMAKER_HOSTING, "platoinstancetype": use},
                                   wanted, SAGEMAKER_USES.get(use, f"SageMaker AI {use}"))

    def rates(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Price]:
        """(rate name of RATES, region) → USD per unit (the first tier where the rate is tiered), with its source and
        publication date; names not in RATES, and pairs the API has no single price for, are left out."""
        return self._prices(((name, region), RATES[name]) for name, region in sorted(set(wanted)) if name in RATES)

    def _hourly_prices(self, service: str, type_field: str, attributes: dict[str, str],
                       wanted: Iterable[tuple[str, str]], what: str) -> dict[tuple[str, str], Price]:
        return self._prices(((instance_type, region), RateQuery(service, None, "Hrs", what,
                                                                 match={type_field: instance_type, **attributes}))
                            for instance_type, region in sorted(set(wanted)))

    def _prices(self, asks: Iterable[tuple[tuple[str, str], RateQuery]]) -> dict[tuple[str, str], Price]:
        """One GetProducts a (key, region): its query's product family, attributes matched exactly and by substring,
        and the region; kept only when the answer holds a single price in the query's unit. A refusal ends the
        asking (what was found stays)."""
        out: dict[tuple[str, str], Price] = {}
        for (name, region), query in asks:
            family = {"productFamily": query.family} if query.family else {}
            filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in
                       {**family, "regionCode": region, **query.match}.items()]
            filters += [{"Type": "CONTAINS", "Field": k, "Value": v} for k, v in query.contains.items()]
            self.calls += 1
            try:
                answer = self._pricing.get_products(ServiceCode=query.service, Filters=filters, MaxResults=10)
            except ClientError:
                return out
            prices = {p for raw in answer.get("PriceList", []) if (p := _per_unit(json.loads(raw), query.unit))}
            if len(prices) == 1:
                [(usd, published)] = prices
                out[(name, region)] = Price(usd, f"AWS Price List API, {query.what}, {region}, "
                                                 f"published {published[:10]}")
        return out


def _per_unit(product: dict[str, Any], unit: str) -> tuple[float, str] | None:
    """The on-demand price per `unit` of one PriceList entry (its first tier: beginRange 0 where tiered) and the date
    it was published; None when it has no such dimension."""
    for term in (product.get("terms") or {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = (dimension.get("pricePerUnit") or {}).get("USD")
            if dimension.get("unit") == unit and usd is not None and str(dimension.get("beginRange", "0")) == "0":
                return float(usd), str(product.get("publicationDate") or term.get("effectiveDate") or "")
    return None


def night_prices(memory: dict[str, Any], calls: Counter[str], kind: str,
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
            # kind: "ec2", "rates", "sagemaker_hosting", or "sagemaker:<use>" (a platoinstancetype)
            found = (prices.sagemaker(todo, kind.split(":", 1)[1]) if kind.startswith("sagemaker:")
                     else getattr(prices, kind)(todo))
        finally:
            calls["pricing:GetProducts"] += prices.calls
        book.update(found)
        if ledger is not None and now is not None:
            ledger.save_prices(kind, {pair: (found[pair].hourly_usd, found[pair].source) if pair in found else
                                      (None, "unknown: the AWS Price List API has no single on-demand price")
                                      for pair in todo}, now=now)
    return book
