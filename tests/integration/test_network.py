"""The network family against a real moto server (VPCs, route tables, NAT gateways and endpoints in EC2; NAT bytes
seeded as AWS/NATGateway publishes them; Cost Explorer's answers canned): a dev VPC sending S3 through NAT gets its
gateway endpoints after the grace, on exactly its private route tables, with dollars = seeded bytes × the documented
price; a VPC that has them is left alone; a bucket policy pinned to a NAT's IP blocks the endpoint and is named; an
idle NAT gateway is reported; a NAT without series is never zero traffic; the costliest region pair names its likely
buckets, replication and compute. Each call is held to the sweep's synthesized role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep, report
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.network import NAT_TYPE, PAIR_TYPE, VPC_TYPE, ZONES_TYPE
from cost_janitor.core.policy import Policy
from cost_janitor.families import network
from cost_janitor.local.emulator import LocalAws, launch
from cost_janitor.local.emulator.seeding import (
    MetricSeeder,
    canned_cost_explorer,
    nat_created_ago,
    seed_nat_bytes,
    seed_vpc_with_nat,
    usage_types,
)
from cost_janitor.settings import Settings

NOW = (datetime.now(UTC) - timedelta(minutes=5)).replace(minute=5, second=0, microsecond=0)
HOURS = 2 * 24
REGION = "us-east-2"  # the region whose NAT price AWS's pricing page states
ON = {"regions": [REGION], "idle": {"services": ["network"], "lookback_days": 2}}
OPT_IN = Policy.model_validate({**ON, "network": {"create_gateway_endpoints": True}})
DEV = {"environment": "dev", "team": "vision", "owner": "ana@example.com"}
PROD = {"environment": "prod", "team": "search"}
MARK = "cost-janitor:idle-since"


def _pinned_policy(bucket: str, ip: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "OnlyFromTheNat", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"NotIpAddress": {"aws:SourceIp": f"{ip}/32"}}}]})


@pytest.fixture
def world(aws: LocalAws) -> dict[str, Any]:
    """us-east-2: VPC "dev" (S3 through NAT, 2 GB an hour), "covered" (its endpoints exist), "pinned" (a bucket
    admits only its NAT's IP), "prod", "idle" (a NAT that processes nothing), "blind" (a NAT without series).
    us-east-1 → eu-west-1: an ML bucket replicated to Ireland, a GPU box there, and Cost Explorer's pair line."""
    seeder = MetricSeeder(aws.client("cloudwatch", REGION))
    ids: dict[str, Any] = {}
    for n, (name, tags, gb) in enumerate((("dev", DEV, 2.0), ("covered", DEV, 1.0), ("pinned", DEV, 1.0),
                                          ("prod", PROD, 3.0), ("idle", DEV, 0.0), ("blind", DEV, None))):
        ids[name] = seed_vpc_with_nat(aws, tags=tags, region=REGION, cidr=f"10.{n}.0.0/16")
        nat_created_ago(ids[name]["nat"], 60, region=REGION)
        if gb is not None:
            seed_nat_bytes(seeder, ids[name]["nat"], end=NOW, hours=HOURS, gb_per_hour=gb)
    seeder.flush()
    ec2 = aws.client("ec2", REGION)
    for service in ("s3", "dynamodb"):
        ec2.create_vpc_endpoint(VpcId=ids["covered"]["vpc"], VpcEndpointType="Gateway",
                                ServiceName=f"com.amazonaws.{REGION}.{service}",
                                RouteTableIds=ids["covered"]["private_tables"])
    s3 = aws.client("s3", REGION)
    s3.create_bucket(Bucket="vision-features", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(Bucket="vision-features", Policy=_pinned_policy("vision-features", ids["pinned"]["nat_ip"]))
    # the region pair: an ML bucket in us-east-1 replicated to eu-west-1, a GPU box in eu-west-1
    east, west = aws.client("s3", "us-east-1"), aws.client("s3", "eu-west-1")
    east.create_bucket(Bucket="training-data-use1")
    east.put_bucket_tagging(Bucket="training-data-use1", Tagging={"TagSet": [
        {"Key": "cost-janitor:lifecycle-profile", "Value": "ml"}, {"Key": "team", "Value": "vision"}]})
    west.create_bucket(Bucket="training-data-euw1", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for bucket, client in (("training-data-use1", east), ("training-data-euw1", west)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    east.put_bucket_replication(Bucket="training-data-use1", ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/replication", "Rules": [{
            "ID": "to-ireland", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {"Bucket": "arn:aws:s3:::training-data-euw1"}}]})
    ids["gpu"] = launch(aws.client("ec2", "eu-west-1"), "p4d.24xlarge", {"team": "vision"})
    day = lambda d: d.strftime("%Y-%m-%d")  # noqa: E731
    canned_cost_explorer(aws, [usage_types({
        "USE1-EU-AWS-Out-Bytes": (900.0, 45_000.0), "USE2-USE1-AWS-Out-Bytes": (12.0, 600.0),
        "USE2-DataTransfer-Regional-Bytes": (8.0, 800.0)}, start=day(NOW - timedelta(days=30)), end=day(NOW))])
    return ids


def _sweep(policy: Policy, run_id: str, *, dry_run: bool = False) -> dict[str, Finding]:
    report = idle_sweep.run(policy, Settings.from_env(), now=NOW, run_id=run_id, dry_run=dry_run,
                            families=[network.FAMILY])
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}


def _vpc_tags(aws: LocalAws, vpc: str) -> dict[str, str]:
    raw = aws.client("ec2", REGION).describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
    return {t["Key"]: t["Value"] for t in raw.get("Tags", [])}


def _endpoints(aws: LocalAws, vpc: str) -> dict[str, list[str]]:
    found = aws.client("ec2", REGION).describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return {e["ServiceName"].rsplit(".", 1)[-1]: sorted(e["RouteTableIds"]) for e in found["VpcEndpoints"]}


def test_a_dev_vpc_sending_s3_through_nat_gets_its_endpoints_after_the_grace(aws: LocalAws, janitor: Any,
                                                                             world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    found = _sweep(OPT_IN, "night-1")
    dev = found[world["dev"]["vpc"]]
    assert (dev.verdict, dev.action, dev.action_status) == (Verdict.VIA_NAT, ActionKind.MARK_IDLE, "done")
    assert dev.resource_type == VPC_TYPE and (dev.team, dev.owner) == ("vision", "ana@example.com")
    # the dollars are the seeded bytes × AWS's documented price: 2 GB an hour × 730 h × $0.045
    assert dev.evidence["processed_gb_month"] == 1460.0 and dev.monthly_usd == round(1460 * 0.045, 2)
    assert "Amazon VPC pricing" in str(dev.price_source)
    assert MARK in _vpc_tags(aws, world["dev"]["vpc"]) and not _endpoints(aws, world["dev"]["vpc"])

    covered, prod = found[world["covered"]["vpc"]], found[world["prod"]["vpc"]]
    assert (covered.verdict, covered.action) == (Verdict.COMPLIANT, None)
    assert (prod.verdict, prod.action) == (Verdict.VIA_NAT, Ask.REVIEW) and MARK not in _vpc_tags(
        aws, world["prod"]["vpc"])

    # the grace passes; the next night creates the endpoints on exactly the private route tables
    aws.client("ec2", REGION).create_tags(Resources=[world["dev"]["vpc"]], Tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    again = _sweep(OPT_IN, "night-2")[world["dev"]["vpc"]]
    assert (again.action, again.action_status) == (ActionKind.CREATE_GATEWAY_ENDPOINT, "done"), again.notes
    tables = sorted(world["dev"]["private_tables"])
    assert _endpoints(aws, world["dev"]["vpc"]) == {"s3": tables, "dynamodb": tables}
    assert MARK not in _vpc_tags(aws, world["dev"]["vpc"])
    assert _endpoints(aws, world["covered"]["vpc"]) == {"s3": sorted(world["covered"]["private_tables"]),
                                                        "dynamodb": sorted(world["covered"]["private_tables"])}

    # the night after: the VPC has its endpoints and is left alone
    third = _sweep(OPT_IN, "night-3")[world["dev"]["vpc"]]
    assert (third.verdict, third.action) == (Verdict.COMPLIANT, None)


def test_dry_run_creates_nothing_and_keeps_the_mark(aws: LocalAws, janitor: Any, world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    aws.client("ec2", REGION).create_tags(Resources=[world["dev"]["vpc"]], Tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    dev = _sweep(OPT_IN, "night-1", dry_run=True)[world["dev"]["vpc"]]
    assert (dev.action, dev.action_status) == (ActionKind.CREATE_GATEWAY_ENDPOINT, "dry-run"), dev.notes
    assert not _endpoints(aws, world["dev"]["vpc"]) and MARK in _vpc_tags(aws, world["dev"]["vpc"])


def test_a_bucket_pinned_to_the_nat_ip_blocks_the_endpoint_and_is_named(aws: LocalAws, janitor: Any,
                                                                        world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    aws.client("ec2", REGION).create_tags(Resources=[world["pinned"]["vpc"]], Tags=[
        {"Key": MARK, "Value": (NOW - timedelta(days=2)).isoformat()}])
    pinned = _sweep(OPT_IN, "night-1")[world["pinned"]["vpc"]]
    assert (pinned.verdict, pinned.action) == (Verdict.VIA_NAT, Ask.REVIEW)
    assert pinned.evidence["pinned_buckets"] == "vision-features"
    assert any("vision-features" in n and world["pinned"]["nat_ip"] in n for n in pinned.notes)
    assert not _endpoints(aws, world["pinned"]["vpc"])


def test_idle_and_unseen_nat_gateways(aws: LocalAws, janitor: Any, world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    found = _sweep(OPT_IN, "night-1")
    idle, blind = found[world["idle"]["nat"]], found[world["blind"]["nat"]]
    assert idle.resource_type == NAT_TYPE and idle.verdict == Verdict.IDLE
    assert idle.monthly_usd == round(0.045 * 730, 2) and idle.action == ActionKind.MARK_IDLE
    # a NAT gateway without series is never zero traffic: nothing judged, nothing marked, no dollars
    assert (blind.verdict, blind.action, blind.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None)
    blind_vpc = found[world["blind"]["vpc"]]
    assert (blind_vpc.verdict, blind_vpc.action, blind_vpc.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None)
    assert found[world["dev"]["nat"]].verdict == Verdict.BUSY
    nat = aws.client("ec2", REGION).describe_nat_gateways(NatGatewayIds=[world["idle"]["nat"]])["NatGateways"][0]
    assert nat["State"] == "available" and {t["Key"] for t in nat.get("Tags", [])} >= {MARK}


def test_the_costliest_region_pair_names_its_likely_buckets_and_compute(aws: LocalAws, janitor: Any,
                                                                        world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    found = _sweep(OPT_IN, "night-1")
    pair = found["us-east-1->eu-west-1"]
    assert pair.resource_type == PAIR_TYPE and pair.verdict == Verdict.CROSSES_REGIONS and pair.action == Ask.REVIEW
    assert pair.monthly_usd == 900.0 and "likely" in pair.reason
    assert "training-data-use1" in pair.reason and "training-data-use1 → training-data-euw1" in pair.reason
    assert f"{world['gpu']} (p4d.24xlarge)" in pair.reason and pair.team == "vision"
    zones = found[f"{REGION}/cross-az"]
    assert zones.resource_type == ZONES_TYPE and zones.monthly_usd == 8.0
    assert world["dev"]["private_tables"][1] in zones.reason  # zone b's subnet routes to the NAT in zone a

    # the weekly digest's egress lines: costliest first, each with its team
    lines = report.build(OPT_IN, Settings.from_env(), now=NOW + timedelta(hours=1)).families
    egress = [line for line in lines if line.startswith("*Egress")]
    assert egress[0] == "*Egress us-east-1->eu-west-1:* $900/month, data crossing regions (likely) (vision)", egress
    assert any(world["dev"]["vpc"] in line and "through NAT" in line and "(vision)" in line for line in egress)


def test_an_endpoint_on_another_vpcs_route_table_is_refused_as_on_aws(aws: LocalAws, world: dict[str, Any]) -> None:
    ec2 = aws.client("ec2", REGION)
    with pytest.raises(ec2.exceptions.ClientError, match="different networks"):
        ec2.create_vpc_endpoint(VpcId=world["dev"]["vpc"], VpcEndpointType="Gateway",
                                ServiceName=f"com.amazonaws.{REGION}.s3", RouteTableIds=world["prod"]["private_tables"])
    with pytest.raises(ec2.exceptions.ClientError, match="RouteAlreadyExists"):
        ec2.create_vpc_endpoint(VpcId=world["covered"]["vpc"], VpcEndpointType="Gateway",
                                ServiceName=f"com.amazonaws.{REGION}.s3",
                                RouteTableIds=world["covered"]["private_tables"])


def test_with_one_sweep_per_region_only_the_first_region_reports_the_pairs(aws: LocalAws, janitor: Any,
                                                                          world: dict[str, Any]) -> None:
    """The stack runs one sweep per region when the policy has several: the region pairs (an account-wide view) are
    reported once a night, by the policy's first region, not once per region."""
    both = Policy.model_validate({**ON, "regions": [REGION, "us-west-2"]})
    janitor(both)
    west = idle_sweep.run(both, Settings.from_env(), now=NOW, run_id="night-west", dry_run=True,
                          regions=["us-west-2"], families=[network.FAMILY])
    assert not [f for f in west.findings if f.resource_type == PAIR_TYPE]
    east = idle_sweep.run(both, Settings.from_env(), now=NOW, run_id="night-east", dry_run=True, regions=[REGION],
                          families=[network.FAMILY])
    assert "us-east-1->eu-west-1" in [f.resource_id for f in east.findings if f.resource_type == PAIR_TYPE]
