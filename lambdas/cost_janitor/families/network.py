"""Network egress (core/network.py): VPCs whose S3 and DynamoDB traffic pays NAT gateway prices for want of a free
gateway endpoint, NAT gateways that carry nothing, the region pairs and zones the most data-transfer dollars cross.
A dev VPC's gateway endpoint is created only with the opt-in (network.create_gateway_endpoints), after a mark and
the grace period, on exactly the route tables announced, if still missing just before and no bucket policy pins the
NAT's IP. Prod is asked; NAT gateways, region pairs and zones are reported, never acted on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.cloudwatch import CloudWatchReader
from cost_janitor.adapters.cost import CostExplorer
from cost_janitor.adapters.ec2 import MARKS
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.adapters.network import Buckets, NetworkInventory, nat_bytes
from cost_janitor.core.models import ActionKind, Finding, LedgerRecord, UsageCost
from cost_janitor.core.network import (
    NAT_PRICES,
    NAT_TYPE,
    PAIR_TYPE,
    VPC_TYPE,
    ZONES_TYPE,
    NatGateway,
    Pair,
    PairEvidence,
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
    recheck_endpoint,
    region_pairs,
    what_happens,
    zone_lines,
)
from cost_janitor.core.policy import Policy
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

VPCS, NATS = Arn("ec2", "vpc"), Arn("ec2", "natgateway")
ROUTE_TABLES, VPC_ENDPOINTS = Arn("ec2", "route-table"), Arn("ec2", "vpc-endpoint")
COST_DAYS = 30
CREATED_FOR = "cost-janitor:created-for"  # the tag an endpoint the janitor creates carries: the VPC it was made for


def _create(ec2: Any, api: Api, f: Finding, r: Run) -> None:
    """One gateway endpoint per service on the announced route tables, then the VPC's mark removed."""
    tags = [{"ResourceType": "vpc-endpoint", "Tags": [{"Key": CREATED_FOR, "Value": f.resource_id}]}]
    for service, tables in endpoints_to_create(f):
        api(ec2.create_vpc_endpoint, VpcId=f.resource_id, VpcEndpointType="Gateway",
            ServiceName=f"com.amazonaws.{f.region}.{service}", RouteTableIds=tables,
            TagSpecifications=tags)
    api(ec2.delete_tags, Resources=[f.resource_id], Tags=[{"Key": r.policy.exemptions.idle_since_tag}])


def _cost_lines(night: Night) -> list[UsageCost] | str:
    """Cost Explorer's last 30 days by usage type, read once a night (each request costs $0.01); the error code when
    it cannot be read."""
    if "network:cost" not in night.memory:
        explorer = CostExplorer(client("ce", "us-east-1"))
        try:
            night.memory["network:cost"] = explorer.usage_type_costs(now=night.now, days=COST_DAYS)
        except ClientError as exc:
            night.memory["network:cost"] = exc.response["Error"]["Code"]
        finally:
            night.calls["network:GetCostAndUsage"] += explorer.calls
    lines: list[UsageCost] | str = night.memory["network:cost"]
    return lines


def _pins(buckets: Buckets, region: str, nats: Sequence[NatGateway], policy: Policy) -> dict[str, str] | None:
    """The region's buckets whose policy admits only one of these NAT gateways' IPs; None when not every policy
    could be read (too many buckets for the bound, or a refusal)."""
    ips = [ip for n in nats for ip in n.public_ips]
    try:
        names = buckets.in_region(region)
        if len(names) > policy.network.max_buckets_per_region:
            return None
        return pinned_buckets(buckets.policies(names), ips) if ips else {}
    except ClientError:
        return None


class Network:
    name = "network"
    service = "network"
    resource_types = (VPC_TYPE, NAT_TYPE, PAIR_TYPE, ZONES_TYPE)
    rechecked = (ActionKind.CREATE_GATEWAY_ENDPOINT,)
    answered = (VPCS, NATS)
    actions = {
        **MARKS,  # EC2's CreateTags/DeleteTags take VPC and NAT gateway IDs, with DryRun
        ActionKind.CREATE_GATEWAY_ENDPOINT: Call("ec2", ("ec2:CreateVpcEndpoint", "ec2:CreateTags", "ec2:DeleteTags"),
                                                 each(_create), batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        """VPCs, NAT gateways and their bytes; the region's bucket policies where an endpoint would be proposed; Cost
        Explorer's NAT, region-pair and zone lines (once a night)."""
        account = own_account()
        inventory = NetworkInventory(client("ec2", region), region, account)
        cloudwatch = CloudWatchReader(client("cloudwatch", region))
        buckets = Buckets(client("s3", region))
        lines = _cost_lines(night)
        costs = lines if isinstance(lines, list) else None
        with counted(night, inventory.calls, cloudwatch.calls, buckets.calls, prefix="network:"):
            try:
                vpcs = inventory.vpcs()
                zones = {s: z for v in vpcs for s, z in v.subnet_zones.items()}
                nats = {n.nat_id: n for n in inventory.nat_gateways(zones)}
                traffic = nat_bytes(cloudwatch, sorted(nats), night.policy, now=night.now) if nats else {}
            finally:
                night.metrics_requested += cloudwatch.metrics_requested
            wanted = any("s3" in gaps(v) for v in vpcs)
            pins = _pins(buckets, region, list(nats.values()), night.policy) if wanted else {}
        price = nat_price(region, costs, night.rates(region, ["nat:hours", "nat:bytes"] if nats else [],
                                                     offline=NAT_PRICES))
        found = [f for v in vpcs if (f := classify_vpc(v, nats, traffic, pins, price, night.policy, now=night.now,
                                                        run_id=night.run_id))]
        found += [classify_nat(n, traffic.get(n.nat_id), price, night.policy, now=night.now, run_id=night.run_id)
                  for n in nats.values()]
        if costs is not None and (line := zone_lines(costs).get(region)) is not None and line.usd > 0:
            found.append(classify_zones(region, line, cross_zone_sources(vpcs, nats), night.policy, account=account,
                                        days=COST_DAYS, now=night.now, run_id=night.run_id))
        # once a night: with several regions the stack runs one sweep per region, so only the policy's first region
        # reports the pairs (a sweep of one run reports them in the first region it reads)
        home = night.policy.regions[0] if night.policy.regions else region
        if region == home and not night.memory.get("network:pairs"):
            night.memory["network:pairs"] = True
            found += (self._pairs(costs, account, night) if costs is not None else
                      [cost_explorer_unread(str(lines), night.policy, account=account, now=night.now,
                                            run_id=night.run_id)])
        return found

    def _pairs(self, costs: list[UsageCost], account: str, night: Night) -> list[Finding]:
        """The costliest region pairs, each with what sits at both ends."""
        found = []
        for pair in region_pairs(costs, top=night.policy.network.top_region_pairs):
            found.append(classify_pair(pair, self._evidence(pair, account, night), night.policy, account=account,
                                       days=COST_DAYS, now=night.now, run_id=night.run_id))
        return found

    def _evidence(self, pair: Pair, account: str, night: Night) -> PairEvidence:
        if pair.source is None or pair.destination is None:
            return PairEvidence()
        policy, not_read = night.policy, []
        buckets = Buckets(client("s3", pair.source))
        source: list[str] | None = None
        ml: list[str] = []
        replication: list[str] = []
        owner: dict[str, str] = {}
        with counted(night, buckets.calls, prefix="network:", suffix=" (region pairs)"):
            try:
                source = buckets.in_region(pair.source)[:policy.network.max_buckets_per_region]
                there = set(buckets.in_region(pair.destination))
                for b in source:
                    tags = buckets.tags(b)
                    if policy.lifecycle.profile_tag in tags or b in policy.lifecycle.buckets:
                        ml.append(b)
                        owner = owner or tags
                    replication += [f"{b} → {d}" for d in buckets.replicates_to(b) if d in there]
            except ClientError as exc:
                not_read.append(f"buckets ({exc.response['Error']['Code']})")
        inventory = NetworkInventory(client("ec2", pair.destination), pair.destination, account)
        compute: list[str] | None = None
        with counted(night, inventory.calls, prefix="network:", suffix=" (region pairs)"):
            try:
                compute, first = inventory.compute()
                families = tuple(f"({f}." for f in policy.idle.gpu_families)
                compute.sort(key=lambda c: not any(f in c for f in families))  # GPU/accelerator first
                owner = owner or first
            except ClientError as exc:
                not_read.append(f"compute in {pair.destination} ({exc.response['Error']['Code']})")
        return PairEvidence(source_buckets=tuple(source) if source is not None else None, ml_buckets=tuple(ml),
                            destination_compute=tuple(compute) if compute is not None else None,
                            replication=tuple(replication), owner_tags=owner, not_read=tuple(not_read))

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each VPC about to get an endpoint: described again (route tables, endpoints), the bucket policies read
        again."""
        inventory = NetworkInventory(client("ec2", region), region, own_account())
        buckets = Buckets(client("s3", region))
        with counted(night, inventory.calls, buckets.calls, prefix="network:", suffix=" (re-check)"):
            current: dict[str, Vpc] = {v.vpc_id: v for v in inventory.vpcs([f.resource_id for f in planned])}
            nats = inventory.nat_gateways({})
            pins = _pins(buckets, region, nats, night.policy)
        return [recheck_endpoint(f, current.get(f.resource_id), pins, night.policy, now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: an endpoint created is recorded in the ledger with its finding (the route tables: the way back)."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev, idle_key = dev_only(policy), only_tag_keys(policy.exemptions.idle_since_tag)
        grants = [
            Grant("ReadNetwork", ("ec2:DescribeVpcs", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
                                  "ec2:DescribeSubnets", "ec2:DescribeNatGateways", "ec2:DescribeInstances",
                                  "cloudwatch:GetMetricData", "ce:GetCostAndUsage", "s3:ListAllMyBuckets",
                                  "pricing:GetProducts"),
                  why="ec2:Describe*, CloudWatch, Cost Explorer and Price List reads and ListBuckets have no "
                      "resource-level permissions"),
            Grant("ReadBucketPoliciesTagsReplication", ("s3:GetBucketPolicy", "s3:GetBucketTagging",
                                                        "s3:GetReplicationConfiguration"), (Arn("s3", "bucket"),),
                  why="any bucket of the account: a gateway endpoint is proposed only after every bucket policy of "
                      "the region was read"),
            Grant("MarkOnlyDevVpcsAndNatGateways", ("ec2:CreateTags",), (VPCS, NATS), {**dev, **idle_key},
                  why="VPCs and NAT gateways of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("UnmarkVpcsAndNatGateways", ("ec2:DeleteTags",), (VPCS, NATS), idle_key),
            Grant("NeverDeleteNetwork", ("ec2:DeleteNatGateway", "ec2:DeleteVpcEndpoints", "ec2:DeleteRoute",
                                         "ec2:ReplaceRoute"), deny=True),
        ]
        if policy.network.create_gateway_endpoints:
            # AWS's example for CreateVpcEndpoint (PrivateLink guide, "Identity and access management for VPC
            # endpoints"): the VPC and route tables in one statement, the endpoint with ec2:VpceServiceOwner in another
            grants += [
                Grant("CreateGatewayEndpointsInDevVpcsOptIn", ("ec2:CreateVpcEndpoint",), (VPCS,), dev),
                Grant("CreateGatewayEndpointsOnRouteTablesOptIn", ("ec2:CreateVpcEndpoint",), (ROUTE_TABLES,),
                      why="route tables of the policy's regions: a gateway endpoint adds its route to the tables "
                          "named (the VPC statement holds it to dev VPCs)"),
                Grant("CreateOnlyAmazonEndpointsOptIn", ("ec2:CreateVpcEndpoint",), (VPC_ENDPOINTS,),
                      {"StringEquals": {"ec2:VpceServiceOwner": ["amazon"]}},
                      why="the endpoint being created has no ID yet: held to Amazon's services"),
                Grant("TagEndpointsAtCreationOptIn", ("ec2:CreateTags",), (VPC_ENDPOINTS,),
                      {"StringEquals": {"ec2:CreateAction": "CreateVpcEndpoint"}, **only_tag_keys(CREATED_FOR)},
                      why="only the tag an endpoint is created with"),
            ]
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return digest_egress(entries, now=now)


FAMILY: Family = Network()
