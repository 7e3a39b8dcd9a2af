"""Network reads for the network family: VPCs with their route tables, endpoints and subnets, NAT gateways (EC2),
their bytes (one batched GetMetricData for a region's NAT gateways), the region's buckets with their policies, tags
and replication rules (S3), running compute (EC2). Every call counted; a refusal is raised, never read as 'none'."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.cloudwatch import CloudWatchReader, MetricQuery, window
from cost_janitor.adapters.ec2 import tags_of
from cost_janitor.core.models import Series
from cost_janitor.core.network import NAMESPACE, PROCESSED_METRICS, Endpoint, NatGateway, RouteTable, Vpc, processed
from cost_janitor.core.policy import Policy

GONE_NAT_STATES = ("deleting", "deleted", "failed")


class NetworkInventory:
    """A region's VPCs and NAT gateways; every call counted."""

    def __init__(self, ec2: Any, region: str, account: str) -> None:
        self._ec2, self._region, self._account = ec2, region, account
        self.calls: dict[str, int] = {}

    def _pages(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        name = "".join(p.capitalize() for p in operation.split("_"))
        for page in self._ec2.get_paginator(operation).paginate(**kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            out += page.get(key, [])
        return out

    def vpcs(self, vpc_ids: Sequence[str] | None = None) -> list[Vpc]:
        """The VPCs (all, or these: one filter each call), with their route tables, endpoints and subnet zones."""
        scope = {"Filters": [{"Name": "vpc-id", "Values": list(vpc_ids)}]} if vpc_ids is not None else {}
        raw = self._pages("describe_vpcs", "Vpcs", **scope)
        tables = self._pages("describe_route_tables", "RouteTables", **scope)
        endpoints = self._pages("describe_vpc_endpoints", "VpcEndpoints", **scope)
        subnets = self._pages("describe_subnets", "Subnets", **scope)
        out = []
        for v in raw:
            vid = v["VpcId"]
            out.append(Vpc(
                vpc_id=vid, region=self._region, account=v.get("OwnerId") or self._account, tags=tags_of(v),
                route_tables=tuple(RouteTable(
                    route_table_id=t["RouteTableId"], vpc_id=vid,
                    subnet_ids=tuple(a["SubnetId"] for a in t.get("Associations", []) if a.get("SubnetId")),
                    main=any(a.get("Main") for a in t.get("Associations", [])),
                    nat_ids=tuple(sorted({r["NatGatewayId"] for r in t.get("Routes", [])
                                          if r.get("NatGatewayId") and r.get("State", "active") == "active"})))
                    for t in tables if t.get("VpcId") == vid),
                endpoints=tuple(Endpoint(endpoint_id=e["VpcEndpointId"], vpc_id=vid, service_name=e["ServiceName"],
                                         endpoint_type=e.get("VpcEndpointType", "Gateway"),
                                         route_table_ids=tuple(e.get("RouteTableIds", [])),
                                         state=e.get("State", "available"))
                                for e in endpoints if e.get("VpcId") == vid),
                subnet_zones={s["SubnetId"]: s.get("AvailabilityZone", "") for s in subnets if s.get("VpcId") == vid}))
        return out

    def nat_gateways(self, zones: dict[str, str]) -> list[NatGateway]:
        """The NAT gateways that bill (pending or available), with their subnet's availability zone."""
        return [NatGateway(nat_id=n["NatGatewayId"], vpc_id=n.get("VpcId", ""), subnet_id=n.get("SubnetId", ""),
                           region=self._region, account=self._account, state=n.get("State", ""),
                           connectivity=n.get("ConnectivityType", "public"),
                           public_ips=tuple(a["PublicIp"] for a in n.get("NatGatewayAddresses", [])
                                            if a.get("PublicIp")),
                           availability_zone=zones.get(n.get("SubnetId", "")), created=n.get("CreateTime"),
                           tags=tags_of(n))
                for n in self._pages("describe_nat_gateways", "NatGateways")
                if n.get("State") not in GONE_NAT_STATES]

    def compute(self) -> tuple[list[str], dict[str, str]]:
        """Running instances as "i-… (type)", largest first by type name's size, and the first one's tags."""
        found = [(i["InstanceId"], i["InstanceType"], tags_of(i))
                 for r in self._pages("describe_instances", "Reservations",
                                      Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
                 for i in r.get("Instances", [])]
        return [f"{iid} ({itype})" for iid, itype, _ in found], (found[0][2] if found else {})


def nat_bytes(reader: CloudWatchReader, nat_ids: Sequence[str], policy: Policy, *,
              now: datetime) -> dict[str, Series | None]:
    """Each NAT gateway's processed bytes per period (core.network.processed), in one batched read; None where the
    read failed."""
    queries = [MetricQuery((n, m), NAMESPACE, m, (("NatGatewayId", n),), "Sum")
               for n in nat_ids for m in PROCESSED_METRICS]
    start, end = window(policy, now)
    found, failed = reader.read(queries, start=start, end=end, period=policy.idle.period_seconds)
    return {n: processed([None if (n, m) in failed else found.get((n, m), Series()) for m in PROCESSED_METRICS])
            for n in nat_ids}


class Buckets:
    """A region's buckets, with their policies, tags and replication rules; every call counted."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def in_region(self, region: str) -> list[str]:
        names: list[str] = []
        for page in self._s3.get_paginator("list_buckets").paginate(BucketRegion=region):
            self._count("ListBuckets")
            names += [b["Name"] for b in page.get("Buckets", [])]
        return sorted(names)

    def _optional(self, operation: str, absent: str, **kwargs: Any) -> dict[str, Any] | None:
        self._count("".join(p.capitalize() for p in operation.split("_")))
        try:
            answer: dict[str, Any] = getattr(self._s3, operation)(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == absent:
                return None
            raise
        return answer

    def policies(self, buckets: Sequence[str]) -> dict[str, str]:
        """Bucket → its policy document (buckets without one left out)."""
        out = {}
        for b in buckets:
            answer = self._optional("get_bucket_policy", "NoSuchBucketPolicy", Bucket=b)
            if answer is not None:
                out[b] = str(answer["Policy"])
        return out

    def tags(self, bucket: str) -> dict[str, str]:
        answer = self._optional("get_bucket_tagging", "NoSuchTagSet", Bucket=bucket)
        return {t["Key"]: t["Value"] for t in (answer or {}).get("TagSet", [])}

    def replicates_to(self, bucket: str) -> list[str]:
        """The buckets its enabled replication rules write to."""
        answer = self._optional("get_bucket_replication", "ReplicationConfigurationNotFoundError", Bucket=bucket)
        rules = (answer or {}).get("ReplicationConfiguration", {}).get("Rules", [])
        return [r["Destination"]["Bucket"].rsplit(":", 1)[-1] for r in rules
                if r.get("Status") == "Enabled" and r.get("Destination", {}).get("Bucket")]
