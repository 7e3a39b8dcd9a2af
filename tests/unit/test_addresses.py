"""Elastic IP addresses: the verdict and action for each case, and the absence table (never idle without the
signal), without any AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.addresses import ADDRESS_TYPE, Address, classify_addresses
from cost_janitor.core.models import ActionKind, Ask, FindingKind, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW

POLICY = Policy()
DEV = {"environment": "dev", "owner": "ana@example.com"}
PROD = {"environment": "prod", "owner": "bo@example.com"}
MARKED = {"cost-janitor:idle-since": (NOW - timedelta(days=3)).isoformat()}


def _address(**overrides: Any) -> Address:
    return Address(**{"public_ip": "198.51.100.7", "region": "us-east-1", "account": "123456789012",
                      "allocation_id": "eipalloc-0abc", "pool": "amazon", "border_group": "us-east-1",
                      "tags": DEV, **overrides})


CASES: list[tuple[str, dict[str, Any], Verdict, ActionKind | Ask | None, float | None]] = [
    ("a_dev_address_associated_with_nothing_is_marked", {}, Verdict.UNATTACHED, ActionKind.MARK_IDLE, 3.65),
    ("a_marked_dev_address_is_left_to_its_owner_never_released", {"tags": {**DEV, **MARKED}},
     Verdict.UNATTACHED, Ask.REVIEW, 3.65),
    ("a_prod_address_associated_with_nothing_is_only_reported", {"tags": PROD}, Verdict.UNATTACHED, Ask.REVIEW,
     3.65),
    ("an_address_on_an_instance_is_in_use", {"association_id": "eipassoc-1", "instance_id": "i-0abc"},
     Verdict.BUSY, None, None),
    ("an_address_on_a_network_interface_is_in_use", {"network_interface_id": "eni-0abc"}, Verdict.BUSY, None, None),
    ("a_mark_on_an_address_in_use_again_is_removed",
     {"association_id": "eipassoc-1", "instance_id": "i-0abc", "tags": {**DEV, **MARKED}},
     Verdict.BUSY, ActionKind.UNMARK_IDLE, None),
    ("a_kept_address_is_exempt", {"tags": {**DEV, "cost-janitor:keep-until": "2026-12-31"}}, Verdict.EXEMPT, None,
     None),
    ("a_byoip_address_bills_nothing_per_hour", {"pool": "ipv4pool-ec2-0123456789abcdef0"}, Verdict.COMPLIANT, None,
     None),
    ("an_address_of_a_local_zone_group_is_idle_but_unpriced", {"border_group": "us-east-1-bos-1"},
     Verdict.UNATTACHED, ActionKind.MARK_IDLE, None),
]


@pytest.mark.parametrize("overrides, verdict, action, monthly", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_address_gets_its_verdict_action_and_dollars(overrides: dict[str, Any], verdict: Verdict,
                                                         action: ActionKind | Ask | None,
                                                         monthly: float | None) -> None:
    [f] = classify_addresses([_address(**overrides)], POLICY, now=NOW)
    assert (f.verdict, f.action, f.monthly_usd) == (verdict, action, monthly)
    assert f.kind == FindingKind.IDLE_ADDRESS and f.resource_type == ADDRESS_TYPE
    assert f.action_status == ("planned" if isinstance(action, ActionKind) else None)
    if verdict == Verdict.UNATTACHED:
        assert f.price_source and ("0.005" in f.price_source or f.price_source.startswith("unknown"))


# An absent signal is never idle: nothing is marked, and no dollars are claimed.
ABSENT: list[tuple[str, dict[str, Any]]] = [
    ("the_pool_is_not_reported_so_billing_is_unknown", {"pool": None}),
    ("no_allocation_id_nothing_to_name_or_mark", {"allocation_id": None}),
    ("no_pool_and_marked_the_mark_is_withdrawn", {"pool": None, "tags": {**DEV, **MARKED}}),
]


@pytest.mark.parametrize("overrides", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_an_address_without_its_signal_cannot_be_judged(overrides: dict[str, Any]) -> None:
    [f] = classify_addresses([_address(**overrides)], POLICY, now=NOW)
    assert f.verdict == Verdict.CANNOT_JUDGE
    marked = "cost-janitor:idle-since" in overrides.get("tags", {})
    assert f.action == (ActionKind.UNMARK_IDLE if marked else None)  # blind: a mark (the countdown) is withdrawn
    assert f.monthly_usd is None and f.severity == "info"
