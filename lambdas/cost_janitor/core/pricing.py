"""Offline on-demand prices: the Pricing API is not reachable everywhere, and a guess is worse than 'unknown'."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HOURS_PER_MONTH = 730.0

# On-demand Linux, shared tenancy, USD per hour, us-east-1, transcribed from the AWS EC2 on-demand price
# list as of this date. P4d/P4de/P5 were reduced after it (June 2025), so their estimates are upper bounds.
PRICE_TABLE_DATE = "2025-05-01"
PRICE_SOURCE = f"AWS on-demand Linux list price, us-east-1 table of {PRICE_TABLE_DATE}"

_US_EAST_1: dict[str, float] = {
    # general purpose
    "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664,
    "t3.2xlarge": 0.3328,
    "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768, "m5.8xlarge": 1.536,
    "m5.12xlarge": 2.304, "m5.16xlarge": 3.072, "m5.24xlarge": 4.608,
    "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6i.4xlarge": 0.768, "m6i.8xlarge": 1.536,
    "m6i.12xlarge": 2.304, "m6i.16xlarge": 3.072, "m6i.24xlarge": 4.608, "m6i.32xlarge": 6.144,
    "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032, "m7i.4xlarge": 0.8064,
    "m7i.8xlarge": 1.6128,
    # compute optimised
    "c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c5.4xlarge": 0.68, "c5.9xlarge": 1.53,
    "c5.18xlarge": 3.06,
    "c6i.large": 0.085, "c6i.xlarge": 0.17, "c6i.2xlarge": 0.34, "c6i.4xlarge": 0.68, "c6i.8xlarge": 1.36,
    # memory optimised
    "r5.large": 0.126, "r5.xlarge": 0.252, "r5.2xlarge": 0.504, "r5.4xlarge": 1.008, "r5.8xlarge": 2.016,
    "r6i.large": 0.126, "r6i.xlarge": 0.252, "r6i.2xlarge": 0.504, "r6i.4xlarge": 1.008,
    # GPU and ML accelerators
    "p3.2xlarge": 3.06, "p3.8xlarge": 12.24, "p3.16xlarge": 24.48, "p3dn.24xlarge": 31.212,
    "p4d.24xlarge": 32.7726, "p4de.24xlarge": 40.9657, "p5.48xlarge": 98.32,
    "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176,
    "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352, "g4dn.metal": 7.824,
    "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448, "g5.12xlarge": 5.672,
    "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
    "g6.xlarge": 0.8048, "g6.2xlarge": 0.9776, "g6.4xlarge": 1.3232, "g6.8xlarge": 2.0144,
    "g6.12xlarge": 4.6016, "g6.16xlarge": 3.3968, "g6.24xlarge": 6.6752, "g6.48xlarge": 13.3504,
    "g6e.xlarge": 1.861, "g6e.2xlarge": 2.24208, "g6e.4xlarge": 3.00424, "g6e.8xlarge": 4.52856,
    "g6e.12xlarge": 10.49264, "g6e.16xlarge": 7.57719, "g6e.24xlarge": 15.06559, "g6e.48xlarge": 30.13118,
    "trn1.2xlarge": 1.34375, "trn1.32xlarge": 21.5, "trn1n.32xlarge": 24.78,
    "inf2.xlarge": 0.7582, "inf2.8xlarge": 1.96786, "inf2.24xlarge": 6.49063, "inf2.48xlarge": 12.98127,
}

# Regions whose on-demand prices equal us-east-1's for the types above. Others have no table here.
_SAME_AS_US_EAST_1 = frozenset({"us-east-1", "us-east-2", "us-west-2"})

# GPUs (or accelerator chips) per instance type, for GPU-hour figures in findings.
GPU_COUNT: dict[str, int] = {
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8, "p4d.24xlarge": 8,
    "p4de.24xlarge": 8, "p5.48xlarge": 8, "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1,
    "g4dn.8xlarge": 1, "g4dn.12xlarge": 4, "g4dn.16xlarge": 1, "g4dn.metal": 8, "g5.xlarge": 1,
    "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.12xlarge": 4, "g5.16xlarge": 1, "g5.24xlarge": 4,
    "g5.48xlarge": 8, "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.12xlarge": 4,
    "g6.16xlarge": 1, "g6.24xlarge": 4, "g6.48xlarge": 8, "g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.4xlarge": 1,
    "g6e.8xlarge": 1, "g6e.12xlarge": 4, "g6e.16xlarge": 1, "g6e.24xlarge": 4, "g6e.48xlarge": 8,
}


@dataclass(frozen=True)
class Price:
    hourly_usd: float | None
    source: str

    @property
    def monthly_usd(self) -> float | None:
        return None if self.hourly_usd is None else round(self.hourly_usd * HOURS_PER_MONTH, 2)


PriceBook = Mapping[tuple[str, str], Price]  # (instance type, region) → a price read elsewhere (the Price List API)
# (rate name, region) → USD per unit of a rate (per GB-month, per GB, per hour) read from the Price List API; the names
# and what each one asks for are adapters/pricing.RATES
RateBook = Mapping[tuple[str, str], Price]


def listed_rate(name: str, region: str, book: RateBook | None, *, offline: Mapping[str, float],
                source: str) -> Price:
    """A unit rate: from `book` (the Price List API, with its date) where it has one, else the offline table's (per
    region, with `source`), else unknown with the reason — never another region's rate."""
    if book is not None and (name, region) in book:
        return book[(name, region)]
    if region in offline:
        return Price(offline[region], source)
    return Price(None, f"unknown: no {name} price for {region} in the offline table or the AWS Price List API "
                       "(never guessed)")


def instance_price(instance_type: str, region: str, book: PriceBook | None = None) -> Price:
    """The on-demand hourly price — from `book` where it has one (the Price List API, with its date), else the
    offline table — or None with the reason when neither knows it."""
    if book is not None and (instance_type, region) in book:
        return book[(instance_type, region)]
    if region not in _SAME_AS_US_EAST_1:
        return Price(None, f"unknown: no offline price table for region {region} (table of {PRICE_TABLE_DATE})")
    hourly = _US_EAST_1.get(instance_type)
    if hourly is None:
        return Price(None, f"unknown: {instance_type} is not in the offline price table of {PRICE_TABLE_DATE}")
    return Price(hourly, PRICE_SOURCE)


def known_instance_types() -> list[str]:
    return sorted(_US_EAST_1)


# SageMaker AI on-demand instance prices (real-time inference hosting; notebook instances are billed at the same
# hourly rate for these types), USD per hour, us-east-1, transcribed from the SageMaker pricing page as of this
# date. Fewer types than EC2 on purpose: a type not listed is priced "unknown", never guessed from EC2's price.
ML_PRICE_TABLE_DATE = "2025-05-01"
ML_PRICE_SOURCE = f"AWS SageMaker AI on-demand list price, us-east-1 table of {ML_PRICE_TABLE_DATE}"
_ML_US_EAST_1: dict[str, float] = {
    "ml.t2.medium": 0.056, "ml.t3.medium": 0.05, "ml.t3.large": 0.10, "ml.t3.xlarge": 0.20,
    "ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.m5.2xlarge": 0.461, "ml.m5.4xlarge": 0.922,
    "ml.c5.large": 0.102, "ml.c5.xlarge": 0.204, "ml.c5.2xlarge": 0.408, "ml.c5.4xlarge": 0.816,
    "ml.g4dn.xlarge": 0.7364, "ml.g4dn.2xlarge": 1.0528, "ml.g4dn.4xlarge": 1.6856, "ml.g4dn.12xlarge": 5.4768,
    "ml.g5.xlarge": 1.408, "ml.g5.2xlarge": 1.515, "ml.g5.4xlarge": 2.03, "ml.g5.12xlarge": 7.09,
    "ml.g5.48xlarge": 20.36,
    "ml.p3.2xlarge": 3.825, "ml.p3.8xlarge": 14.688, "ml.p3.16xlarge": 28.152,
    "ml.inf2.xlarge": 0.99, "ml.inf2.8xlarge": 2.36, "ml.inf2.24xlarge": 7.79, "ml.inf2.48xlarge": 15.58,
}


def ml_price(instance_type: str, region: str, book: PriceBook | None = None) -> Price:
    """A SageMaker instance type's on-demand hourly price (per instance) — from `book` where it has one (the Price
    List API's hosting price, with its date), else the offline table — or None with the reason."""
    if book is not None and (instance_type, region) in book:
        return book[(instance_type, region)]
    if region not in _SAME_AS_US_EAST_1:
        return Price(None, f"unknown: no offline SageMaker price table for region {region} "
                           f"(table of {ML_PRICE_TABLE_DATE})")
    hourly = _ML_US_EAST_1.get(instance_type)
    if hourly is None:
        return Price(None, f"unknown: {instance_type} is not in the offline SageMaker price table of "
                           f"{ML_PRICE_TABLE_DATE}")
    return Price(hourly, ML_PRICE_SOURCE)


def accelerators(instance_type: str) -> int:
    """GPUs of an EC2 or SageMaker (ml.*) instance type; 0 when the table does not know it."""
    return GPU_COUNT.get(instance_type.removeprefix("ml."), 0)


NEURON_PREFIXES = ("inf", "trn")  # EC2's Inferentia and Trainium instance types
ML_NEURON_PREFIXES = tuple(f"ml.{p}" for p in NEURON_PREFIXES)  # SageMaker's


def accelerated(instance_type: str | None) -> bool:
    """A GPU or Neuron SageMaker instance type (ml.g*, ml.p*, ml.inf*, ml.trn*)."""
    return bool(instance_type) and (accelerators(str(instance_type)) > 0
                                    or str(instance_type).startswith(("ml.g", "ml.p", *ML_NEURON_PREFIXES)))


def severity(monthly: float | None) -> str:
    """How loud a finding that costs money is: by its monthly dollars (unpriced: medium)."""
    if monthly is None:
        return "medium"
    return "high" if monthly >= 500 else "medium" if monthly >= 50 else "low"
