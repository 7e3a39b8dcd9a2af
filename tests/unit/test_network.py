"""Network egress: a VPC's NAT routes without gateway endpoints with their GB and dollars, bucket policies pinned to
the NAT's IP, idle NAT gateways, region pairs and zones from Cost Explorer, the re-check before an endpoint, and the
absence table (a missing series or an unread Cost Explorer is never zero traffic), without any AWS."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from cost_janitor.core.models import ActionKind, Ask, Finding, LedgerRecord, Series, UsageCost, Verdict
from cost_janitor.core.network import (
    GB,
    PAIR_TYPE,
    UNPARSEABLE,
    Endpoint,
    NatGateway,
    NatPrice,
    Pair,
    PairEvidence,
    RouteTable,
    Vpc,
    classify_nat,
    classify_pair,
    classify_vpc,
    classify_zones,
    cost_explorer_unread,
    cross_zone_sources,
    digest_egress,
    endpoints_to_create,
    gaps,
    nat_price,
    pinned_buckets,
    processed,
    recheck_endpoint,
    region_pairs,
    usage_region,
    zone_lines,
)
from cost_janitor.core.policy import Policy
from tests.builders import NOW

POINTS = 7 * 24
ACCOUNT = "123456789012"
OPT_IN = Policy.model_validate({"network": {"create_gateway_endpoints": True}})
DEFAULT = Policy()
MARK = {"cost-janitor:idle-since": (NOW - timedelta(days=2)).isoformat()}
PRICE = NatPrice(hourly=0.045, per_gb=0.045, source="test price")
NAT = NatGateway(nat_id="nat-1", vpc_id="vpc-1", subnet_id="subnet-pub", region="us-east-2", account=ACCOUNT,
                 public_ips=("203.0.113.7",), availability_zone="us-east-2a", created=NOW - timedelta(days=60),
                 tags={"environment": "dev", "team": "vision"})


def per_hour(gb: float, points: int = POINTS) -> Series:
    """A series of `points` hours, `gb` GB each."""
    return Series(mask=(1 << points) - 1, total=gb * GB * points, maximum=gb * GB)


def vpc(env: str = "dev", tags: dict[str, str] | None = None, endpoints: tuple[Endpoint, ...] = (),
        tables: tuple[RouteTable, ...] | None = None) -> Vpc:
    return Vpc(vpc_id="vpc-1", region="us-east-2", account=ACCOUNT,
               tags={"environment": env, "team": "vision", **(tags or {})},
               route_tables=tables if tables is not None else (
                   RouteTable(route_table_id="rtb-private-a", vpc_id="vpc-1", subnet_ids=("subnet-a",),
                              nat_ids=("nat-1",)),
                   RouteTable(route_table_id="rtb-private-b", vpc_id="vpc-1", subnet_ids=("subnet-b",),
                              nat_ids=("nat-1",)),
                   RouteTable(route_table_id="rtb-public", vpc_id="vpc-1", subnet_ids=("subnet-pub",), main=True)),
               endpoints=endpoints,
               subnet_zones={"subnet-a": "us-east-2a", "subnet-b": "us-east-2b", "subnet-pub": "us-east-2a"})


def s3_endpoint(*tables: str, kind: str = "Gateway") -> Endpoint:
    return Endpoint(endpoint_id="vpce-1", vpc_id="vpc-1", service_name="com.amazonaws.us-east-2.s3",
                    endpoint_type=kind, route_table_ids=tables)


def judge(v: Vpc | None = None, traffic: dict[str, Series | None] | None = None,
          pins: dict[str, str] | None = None, policy: Policy = OPT_IN) -> Finding:
    f = classify_vpc(v or vpc(), {"nat-1": NAT}, {"nat-1": per_hour(2.0)} if traffic is None else traffic,
                     {} if pins is None else pins, PRICE, policy, now=NOW, run_id="r")
    assert f is not None
    return f


def test_a_dev_vpc_sending_to_nat_without_gateway_endpoints_is_marked_with_gb_and_dollars() -> None:
    f = judge()
    assert f.verdict == Verdict.VIA_NAT and f.action == ActionKind.MARK_IDLE and f.act_after is not None
    assert f.evidence["s3_route_tables"] == "rtb-private-a,rtb-private-b"
    assert f.evidence["dynamodb_route_tables"] == "rtb-private-a,rtb-private-b"
    # 2 GB an hour processed → 2 × 730 GB a month × $0.045
    assert f.evidence["processed_gb_month"] == 1460.0 and f.monthly_usd == round(1460 * 0.045, 2)
    assert "up to" in f.reason and "create-vpc-endpoint" in " ".join(f.notes)


def test_once_the_grace_is_over_the_endpoint_is_created_on_exactly_those_route_tables() -> None:
    f = judge(vpc(tags=MARK))
    assert f.action == ActionKind.CREATE_GATEWAY_ENDPOINT and f.action_status == "planned"
    assert endpoints_to_create(f) == [("s3", ["rtb-private-a", "rtb-private-b"]),
                                      ("dynamodb", ["rtb-private-a", "rtb-private-b"])]


@pytest.mark.parametrize(("env", "policy"), [("prod", OPT_IN), ("dev", DEFAULT)], ids=["prod", "dev_without_opt_in"])
def test_prod_or_no_opt_in_is_asked_never_changed(env: str, policy: Policy) -> None:
    f = judge(vpc(env), policy=policy)
    assert (f.verdict, f.action, f.action_status) == (Verdict.VIA_NAT, Ask.REVIEW, None)


def test_a_vpc_with_its_gateway_endpoints_is_left_alone_and_an_old_mark_removed() -> None:
    both = (s3_endpoint("rtb-private-a", "rtb-private-b"),
            Endpoint(endpoint_id="vpce-2", vpc_id="vpc-1", service_name="com.amazonaws.us-east-2.dynamodb",
                     endpoint_type="Gateway", route_table_ids=("rtb-private-a", "rtb-private-b")))
    assert (judge(vpc(endpoints=both)).verdict, judge(vpc(endpoints=both)).action) == (Verdict.COMPLIANT, None)
    assert judge(vpc(tags=MARK, endpoints=both)).action == ActionKind.UNMARK_IDLE
    assert not judge(vpc(endpoints=both)).publishable


def test_an_endpoint_on_one_table_leaves_only_the_other_in_the_proposal() -> None:
    f = judge(vpc(tags=MARK, endpoints=(s3_endpoint("rtb-private-a"),)))
    assert f.evidence["s3_route_tables"] == "rtb-private-b"


def test_an_s3_interface_endpoint_counts_as_covered() -> None:
    assert "s3" not in gaps(vpc(endpoints=(s3_endpoint(kind="Interface"),)))


def test_a_bucket_policy_pinned_to_the_nat_ip_blocks_the_endpoint_and_is_named() -> None:
    f = judge(vpc(tags=MARK), pins={"training-data": "203.0.113.7"})
    assert f.action == Ask.REVIEW and f.evidence["pinned_buckets"] == "training-data"
    assert any("training-data" in n and "203.0.113.7" in n and "never created" in n for n in f.notes)


def test_a_bucket_pinned_to_another_vpcs_nat_does_not_concern_this_one() -> None:
    f = judge(vpc(tags=MARK), pins={"other-team": "198.51.100.9"})
    assert f.action == ActionKind.CREATE_GATEWAY_ENDPOINT and "pinned_buckets" not in f.evidence


def test_unreadable_bucket_policies_block_the_endpoint() -> None:
    f = classify_vpc(vpc(tags=MARK), {"nat-1": NAT}, {"nat-1": per_hour(2.0)}, None, PRICE, OPT_IN, now=NOW)
    assert f is not None and f.action == Ask.REVIEW and any("could not be read" in n for n in f.notes)


def test_little_nat_traffic_is_not_worth_a_finding() -> None:
    f = judge(traffic={"nat-1": per_hour(0.001)})
    assert f.verdict == Verdict.COMPLIANT and f.action is None


def test_a_vpc_without_nat_routes_has_no_finding() -> None:
    public = (RouteTable(route_table_id="rtb-public", vpc_id="vpc-1", main=True),)
    assert classify_vpc(vpc(tables=public), {}, {}, {}, PRICE, OPT_IN, now=NOW) is None


def test_an_unknown_price_keeps_the_gb_and_claims_no_dollars() -> None:
    f = classify_vpc(vpc(), {"nat-1": NAT}, {"nat-1": per_hour(2.0)}, {}, nat_price("ap-south-2", None), OPT_IN,
                     now=NOW)
    assert f is not None and f.verdict == Verdict.VIA_NAT and f.monthly_usd is None
    assert "dollars unknown" in f.reason and str(f.price_source).startswith("unknown")


# An absent signal is never zero traffic: no dollars, nothing marked or created.
ABSENT: list[tuple[str, dict[str, Series | None]]] = [
    ("the_nat_bytes_read_failed", {"nat-1": None}),
    ("the_nat_publishes_no_series", {"nat-1": Series()}),
    ("the_nat_is_not_in_the_read_at_all", {}),
]


@pytest.mark.parametrize("traffic", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_a_vpc_whose_nat_bytes_are_absent_cannot_be_judged(traffic: dict[str, Series | None]) -> None:
    for tags, expected in (({}, None), (MARK, ActionKind.UNMARK_IDLE)):
        f = judge(vpc(tags=tags), traffic=traffic)
        assert f.verdict == Verdict.CANNOT_JUDGE and f.action == expected and f.monthly_usd is None, f.reason


@pytest.mark.parametrize("traffic", [None, Series(), Series(mask=(1 << 10) - 1)],
                         ids=["read_failed", "no_series", "too_few_periods"])
def test_a_nat_gateway_without_its_bytes_cannot_be_judged(traffic: Series | None) -> None:
    f = classify_nat(NAT, traffic, PRICE, DEFAULT, now=NOW)
    assert (f.verdict, f.action, f.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None)


def test_a_nat_gateway_that_processed_nothing_is_idle_with_its_hourly_dollars() -> None:
    f = classify_nat(NAT, per_hour(0.0), PRICE, DEFAULT, now=NOW)
    assert f.verdict == Verdict.IDLE and f.monthly_usd == round(0.045 * 730, 2) and f.action == ActionKind.MARK_IDLE
    assert "never deletes" in f.reason
    prod = classify_nat(NAT.model_copy(update={"tags": {"environment": "prod"}}), per_hour(0.0), PRICE, DEFAULT,
                        now=NOW)
    assert prod.action == Ask.REVIEW
    busy = classify_nat(NAT.model_copy(update={"tags": {"environment": "dev", **MARK}}), per_hour(1.0), PRICE,
                        DEFAULT, now=NOW)
    assert (busy.verdict, busy.action) == (Verdict.BUSY, ActionKind.UNMARK_IDLE)


def test_a_young_nat_gateway_is_not_judged() -> None:
    f = classify_nat(NAT.model_copy(update={"created": NOW - timedelta(days=1)}), per_hour(0.0), PRICE, DEFAULT,
                     now=NOW)
    assert f.verdict == Verdict.STARTED_RECENTLY and f.action is None


def test_processed_bytes_sum_both_in_metrics_and_any_unread_one_is_unread() -> None:
    s = processed([per_hour(1.0), per_hour(3.0)])
    assert s is not None and s.total == 4.0 * GB * POINTS and s.points == POINTS
    assert processed([per_hour(1.0), None]) is None


POLICY_DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}}]}


@pytest.mark.parametrize(("doc", "expected"), [
    (json.dumps(POLICY_DOC), {"b": "203.0.113.7"}),
    (json.dumps({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
                               "Condition": {"IpAddress": {"AWS:SourceIp": "203.0.113.7/32"}}}}), {"b": "203.0.113.7"}),
    (json.dumps({"Statement": [{"Effect": "Allow", "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}}]}),
     {}),
    (json.dumps({"Statement": [{"Effect": "Allow", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}),
     {}),
    ("{not json", {"b": UNPARSEABLE}),
], ids=["deny_outside_a_cidr_holding_it", "allow_only_it", "another_range", "no_source_ip", "unparseable"])
def test_bucket_policies_pinned_to_the_nat_ip(doc: str, expected: dict[str, str]) -> None:
    assert pinned_buckets({"b": doc}, ["203.0.113.7"]) == expected


def test_recheck_creates_only_what_is_still_missing_on_announced_tables() -> None:
    planned = judge(vpc(tags=MARK))
    now_has_s3 = vpc(tags=MARK, endpoints=(s3_endpoint("rtb-private-a", "rtb-private-b"),),
                     tables=(*vpc().route_tables, RouteTable(route_table_id="rtb-new", vpc_id="vpc-1",
                                                            nat_ids=("nat-1",))))
    again = recheck_endpoint(planned, now_has_s3, {}, OPT_IN, now=NOW)
    assert again.action == ActionKind.CREATE_GATEWAY_ENDPOINT
    assert endpoints_to_create(again) == [("dynamodb", ["rtb-private-a", "rtb-private-b"])]  # not rtb-new


@pytest.mark.parametrize(("current", "pins", "why"), [
    (None, {}, "gone"),
    (vpc(tags={"environment": "prod", **MARK}), {}, "no longer tagged dev"),
    (vpc(), {}, "mark was removed"),
    (vpc(tags={**MARK, "cost-janitor:keep-until": "2099-01-01"}), {}, "kept"),
    (vpc(tags=MARK), None, "could not be read"),
    (vpc(tags=MARK), {"b": "203.0.113.7"}, "admit only"),
    (vpc(tags=MARK, endpoints=(s3_endpoint("rtb-private-a", "rtb-private-b"), Endpoint(
        endpoint_id="vpce-2", vpc_id="vpc-1", service_name="com.amazonaws.us-east-2.dynamodb", endpoint_type="Gateway",
        route_table_ids=("rtb-private-a", "rtb-private-b")))), {}, "there now"),
], ids=["gone", "prod", "unmarked", "kept", "policies_unread", "pinned_now", "created_meanwhile"])
def test_recheck_refuses_and_says_why(current: Vpc | None, pins: dict[str, str] | None, why: str) -> None:
    again = recheck_endpoint(judge(vpc(tags=MARK)), current, pins, OPT_IN, now=NOW)
    assert again.action is None and any(why in n for n in again.notes), again.notes


LINES = [UsageCost(usage_type="USE1-EU-AWS-Out-Bytes", usd=900.0, quantity=45_000.0),
         UsageCost(usage_type="USE2-USE1-AWS-Out-Bytes", usd=40.0, quantity=2_000.0),
         UsageCost(usage_type="EU-USE1-AWS-In-Bytes", usd=0.0, quantity=45_000.0),
         UsageCost(usage_type="XYZ9-USE1-AWS-Out-Bytes", usd=70.0, quantity=3_500.0),
         UsageCost(usage_type="USE2-NatGateway-Bytes", usd=90.0, quantity=2_500.0),
         UsageCost(usage_type="USE2-NatGateway-Hours", usd=60.0, quantity=1_460.0),
         UsageCost(usage_type="DataTransfer-Regional-Bytes", usd=120.0, quantity=12_000.0),
         UsageCost(usage_type="USE2-DataTransfer-Regional-Bytes", usd=8.0, quantity=800.0)]


def test_region_pairs_are_the_costliest_out_lines_with_their_regions() -> None:
    pairs = region_pairs(LINES, top=2)
    assert [(p.source, p.destination, p.usd) for p in pairs] == [("us-east-1", "eu-west-1", 900.0),
                                                                 (None, "us-east-1", 70.0)]


def test_usage_types_map_to_regions_with_us_east_1_unprefixed() -> None:
    assert usage_region("USE2-NatGateway-Bytes") == ("us-east-2", "NatGateway-Bytes")
    assert usage_region("NatGateway-Bytes") == ("us-east-1", "NatGateway-Bytes")
    assert {r: line.usd for r, line in zone_lines(LINES).items()} == {"us-east-1": 120.0, "us-east-2": 8.0}


def test_the_nat_price_is_what_the_account_paid_else_documented_else_unknown() -> None:
    paid = nat_price("us-east-2", LINES)
    assert paid.per_gb == 90.0 / 2_500 and paid.hourly == 60.0 / 1_460 and "Cost Explorer" in paid.source
    listed = nat_price("us-east-2", [])
    assert (listed.hourly, listed.per_gb) == (0.045, 0.045) and "Amazon VPC pricing" in listed.source
    unknown = nat_price("eu-west-1", None)
    assert unknown.per_gb is None and unknown.source.startswith("unknown")


def test_a_region_pair_names_its_likely_resources_and_says_likely() -> None:
    pair = region_pairs(LINES, top=1)[0]
    seen = PairEvidence(source_buckets=("logs", "training-data"), ml_buckets=("training-data",),
                        destination_compute=("i-0abc (p4d.24xlarge)",), replication=("training-data → td-eu",),
                        owner_tags={"team": "vision"})
    f = classify_pair(pair, seen, DEFAULT, account=ACCOUNT, days=30, now=NOW)
    assert f.resource_type == PAIR_TYPE and f.verdict == Verdict.CROSSES_REGIONS and f.action == Ask.REVIEW
    assert "likely" in f.reason and "training-data" in f.reason and "p4d.24xlarge" in f.reason
    assert f.team == "vision" and f.monthly_usd == 900.0 and f.resource_id == "us-east-1->eu-west-1"


def test_a_pair_with_unknown_codes_infers_nothing() -> None:
    pair = Pair(usage_type="XYZ9-USE1-AWS-Out-Bytes", source=None, destination="us-east-1", usd=70.0, gb=3500.0)
    f = classify_pair(pair, PairEvidence(), DEFAULT, account=ACCOUNT, days=30, now=NOW)
    assert "nothing in them is inferred" in f.reason and "likely" not in f.reason


def test_cost_explorer_unread_is_cannot_judge_never_zero() -> None:
    f = cost_explorer_unread("AccessDeniedException", DEFAULT, account=ACCOUNT, now=NOW)
    assert f.verdict == Verdict.CANNOT_JUDGE and "not taken to be zero" in f.reason and f.monthly_usd is None


def test_cross_zone_names_subnets_routed_to_a_nat_in_another_zone() -> None:
    sources = cross_zone_sources([vpc()], {"nat-1": NAT})
    assert sources == ["rtb-private-b (us-east-2b) → nat-1 (us-east-2a)"]
    f = classify_zones("us-east-2", zone_lines(LINES)["us-east-2"], sources, DEFAULT, account=ACCOUNT, days=30,
                       now=NOW)
    assert f.verdict == Verdict.CROSSES_ZONES and "rtb-private-b" in f.reason and f.monthly_usd == 8.0


def test_the_digest_lists_egress_by_dollars_with_teams() -> None:
    def rec(rid: str, verdict: str, usd: float, action: str = "review", status: str = "planned") -> LedgerRecord:
        return LedgerRecord(resource_id=rid, action=action, status=status, at=NOW - timedelta(days=1),
                            monthly_usd=usd, team="vision", kind="egress", verdict=verdict)

    lines = digest_egress([rec("vpc-1", "via-nat", 65.7), rec("us-east-1->eu-west-1", "crosses-regions", 900.0),
                           rec("vpc-2", "via-nat", 10.0, "create-gateway-endpoint", "done"),
                           replace(rec("old", "idle", 5.0), at=NOW - timedelta(days=30))], now=NOW)
    assert lines[0].startswith("*Egress us-east-1->eu-west-1:* $900/month") and "(vision)" in lines[0]
    assert any("vpc-2" in line and "created by the janitor" in line for line in lines)
    assert not any("old" in line for line in lines)

