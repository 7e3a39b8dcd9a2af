"""Offline prices: known types priced, unknown types and regions say 'unknown' rather than guess."""

from __future__ import annotations

import pytest

from cost_janitor.core.pricing import GPU_COUNT, PRICE_TABLE_DATE, instance_price, known_instance_types


def test_a_known_gpu_type_has_a_monthly_price_with_the_table_date() -> None:
    price = instance_price("g5.xlarge", "us-east-1")
    assert price.monthly_usd == round(1.006 * 730, 2)
    assert PRICE_TABLE_DATE in price.source


@pytest.mark.parametrize("family", ["p3", "p4d", "p4de", "p5", "g4dn", "g5", "g6", "g6e", "trn1", "inf2"])
def test_every_gpu_family_the_issue_names_is_in_the_table(family: str) -> None:
    assert any(t.startswith(family + ".") for t in known_instance_types())


@pytest.mark.parametrize("instance_type, region, why", [
    ("x9z.mega", "us-east-1", "not in the offline price table"),
    ("g5.xlarge", "eu-west-1", "no offline price table for region eu-west-1"),
], ids=["unknown-type", "unknown-region"])
def test_unknown_price_says_why_instead_of_guessing(instance_type: str, region: str, why: str) -> None:
    price = instance_price(instance_type, region)
    assert price.hourly_usd is None and price.monthly_usd is None
    assert why in price.source


def test_gpu_counts_are_only_for_priced_types() -> None:
    assert set(GPU_COUNT) <= set(known_instance_types())
