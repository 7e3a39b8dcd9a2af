"""Network egress (a resource family: families/network.py): S3 and DynamoDB traffic paying NAT gateway prices that a
free gateway endpoint would carry, NAT gateways that carry nothing, data crossing regions and availability zones.

The signals, as AWS documents them:
- NAT gateway bytes (Amazon VPC User Guide, "Monitor NAT gateways with Amazon CloudWatch"; namespace AWS/NATGateway,
  dimension NatGatewayId, statistic Sum): BytesInFromSource "received by the NAT gateway from clients in your VPC"
  and BytesInFromDestination "received by the NAT gateway from the destination". A NAT gateway bills data processing
  per GB it processes, whatever the direction or destination, so what it processed is the sum of the two (the Out
  metrics are the same bytes leaving, less any it dropped).
- The route tables of a VPC (DescribeRouteTables: routes whose target is a NatGatewayId; the subnets associated,
  the main table for the others) and its VPC endpoints (DescribeVpcEndpoints: service com.amazonaws.<region>.s3 or
  .dynamodb, type Gateway, the route tables it is on). AWS: gateway endpoints "are recommended for workloads
  contained within a single AWS account and Region, and come at no additional charge" (AWS Prescriptive Guidance,
  Startup Security Baseline WKLD.12); they exist for S3 and DynamoDB only.
- Cost Explorer usage types (GetCostAndUsage by USAGE_TYPE, UnblendedCost and UsageQuantity): <code>-NatGateway-Bytes
  (GB processed) and <code>-NatGateway-Hours; <src>-<dst>-AWS-Out-Bytes (data sent from one region to another);
  <code>-DataTransfer-Regional-Bytes (data between availability zones of a region). The region codes are AWS's
  ("AWS Region billing codes", AWS Regions and Availability Zones guide); us-east-1's usage types may have no prefix.

Prices: NAT_PRICES holds what AWS's documentation states, the Amazon VPC pricing page's NAT gateway example (US East
(Ohio): $0.045 per NAT gateway-hour and $0.045 per GB processed); elsewhere the rate the account paid over the last
30 days (Cost Explorer: the usage type's unblended cost ÷ its usage, so discounts are in it) is used where Cost
Explorer has it, and the dollars are "unknown" where neither does — never guessed. Bytes become GB at 2^30 bytes per
GB, the smaller reading, so dollars are not overstated.

What a gateway endpoint would break: a bucket policy that admits requests only from the NAT gateway's public IP
(aws:SourceIp) refuses them once they arrive through the endpoint (they carry the VPC's private addresses, not the
NAT's): a finding that sees such a policy says so and never acts. Buckets of other accounts cannot be read.

An absent signal is never idle: a NAT gateway without a bytes series (or whose read failed) cannot be judged, and
neither can a VPC whose NAT gateways cannot; Cost Explorer that cannot be read is reported as not read, never as no
traffic. The janitor never deletes a NAT gateway, a route or an endpoint.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import coverage, mark_then, no_longer_due, withdrawn
from cost_janitor.core.models import (
    ActionKind,
    Ask,
    Finding,
    FindingKind,
    LedgerRecord,
    Series,
    UsageCost,
    Verdict,
    _Frozen,
    arn,
    partition,
)
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import HOURS_PER_MONTH, Price, RateBook, listed_rate, severity

VPC_TYPE = "ec2:vpc"
NAT_TYPE = "ec2:natgateway"
PAIR_TYPE = "network:region-pair"  # report only: no AWS resource
ZONES_TYPE = "network:cross-az"  # report only
NAMESPACE = "AWS/NATGateway"
PROCESSED_METRICS = ("BytesInFromSource", "BytesInFromDestination")
GATEWAY_SERVICES = ("s3", "dynamodb")  # the only services with gateway endpoints
GB = 2 ** 30
UNPARSEABLE = "its policy could not be parsed"

# Amazon VPC pricing page, NAT gateway pricing example (US East (Ohio)): $0.045 per hour, $0.045 per GB processed
NAT_PRICE_DATE = "2026-09-20"
NAT_PRICES: dict[str, tuple[float, float]] = {"us-east-2": (0.045, 0.045)}  # region → ($/hour, $/GB)

# "AWS Region billing codes" (AWS Regions and Availability Zones guide); us-east-1 may also appear without a prefix
REGION_CODES: dict[str, str] = {
    "USE1": "us-east-1", "USE2": "us-east-2", "USW1": "us-west-1", "USW2": "us-west-2", "CAN1": "ca-central-1",
    "CAN2": "ca-west-1", "MXC1": "mx-central-1", "AFS1": "af-south-1", "APE1": "ap-east-1", "APE2": "ap-east-2",
    "APN1": "ap-northeast-1", "APN2": "ap-northeast-2", "APN3": "ap-northeast-3", "APS1": "ap-southeast-1",
    "APS2": "ap-southeast-2", "APS3": "ap-south-1", "APS4": "ap-southeast-3", "APS5": "ap-south-2",
    "APS6": "ap-southeast-4", "APS7": "ap-southeast-5", "APS8": "ap-southeast-6", "APS9": "ap-southeast-7",
    "EU": "eu-west-1", "EUC1": "eu-central-1", "EUW2": "eu-west-2", "EUW3": "eu-west-3", "SAE1": "sa-east-1",
    "UGW1": "us-gov-west-1",
}
CODES = {region: code for code, region in REGION_CODES.items()}
REMEDY = ("colocate the compute with its data, cache it in the destination region, or replicate it once "
          "(S3 Replication) instead of reading it across regions again and again")


class NatGateway(_Frozen):
    nat_id: str
    vpc_id: str
    subnet_id: str
    region: str
    account: str
    state: str = "available"
    connectivity: str = "public"
    public_ips: tuple[str, ...] = ()
    availability_zone: str | None = None
    created: datetime | None = None
    tags: dict[str, str] = {}

    @property
    def arn(self) -> str:
        return arn("ec2", self.region, self.account, f"natgateway/{self.nat_id}")


class RouteTable(_Frozen):
    route_table_id: str
    vpc_id: str
    subnet_ids: tuple[str, ...] = ()
    main: bool = False
    nat_ids: tuple[str, ...] = ()  # NAT gateways its routes send to


class Endpoint(_Frozen):
    endpoint_id: str
    vpc_id: str
    service_name: str  # com.amazonaws.<region>.s3
    endpoint_type: str  # Gateway | Interface | GatewayLoadBalancer
    route_table_ids: tuple[str, ...] = ()
    state: str = "available"

    def serves(self, service: str) -> bool:
        return self.service_name.rsplit(".", 1)[-1] == service and self.state.lower() not in (
            "deleted", "deleting", "failed", "rejected", "expired")


class Vpc(_Frozen):
    vpc_id: str
    region: str
    account: str
    tags: dict[str, str] = {}
    route_tables: tuple[RouteTable, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    subnet_zones: dict[str, str] = {}  # subnet → availability zone

    @property
    def arn(self) -> str:
        return arn("ec2", self.region, self.account, f"vpc/{self.vpc_id}")


class NatPrice(_Frozen):
    hourly: float | None
    per_gb: float | None
    source: str


class Pair(_Frozen):
    """Data sent from one region to another over the last 30 days (Cost Explorer)."""

    usage_type: str
    source: str | None  # None: a billing code this table does not know
    destination: str | None
    usd: float
    gb: float | None


class PairEvidence(_Frozen):
    """What the janitor sees at both ends of a pair: buckets in the source region (those the lifecycle policy calls
    ML first), compute in the destination, replication rules from one to the other. None: not read."""

    source_buckets: tuple[str, ...] | None = None
    ml_buckets: tuple[str, ...] = ()
    destination_compute: tuple[str, ...] | None = None  # "i-… (g5.xlarge)"
    replication: tuple[str, ...] = ()  # "bucket → bucket"
    owner_tags: dict[str, str] = {}  # the tags of the likeliest resource: who hears about it
    not_read: tuple[str, ...] = ()


def nat_rate(name: str, region: str, rates: RateBook | None = None) -> Price:
    """"nat:hours" (USD an hour) or "nat:bytes" (USD a GB) in `region`: AWS's documented figure (NAT_PRICES), else
    the Price List's, else unknown."""
    column = 0 if name == "nat:hours" else 1
    return listed_rate(name, region, rates, offline={r: p[column] for r, p in NAT_PRICES.items()},
                       source=f"Amazon VPC pricing, NAT gateway, {region} (as of {NAT_PRICE_DATE})")


def nat_price(region: str, lines: Sequence[UsageCost] | None, rates: RateBook | None = None) -> NatPrice:
    """The region's NAT rates: what the account paid (Cost Explorer, unblended ÷ usage, last 30 days) where it has
    them, else AWS's documented rate, else the AWS Price List API's (rates "nat:hours" and "nat:bytes"), else
    unknown."""
    code = CODES.get(region)
    paid: dict[str, float] = {}
    for line in lines or ():
        for kind in ("Bytes", "Hours"):
            names = {f"{code}-NatGateway-{kind}"} | ({f"NatGateway-{kind}"} if region == "us-east-1" else set())
            if code and line.usage_type in names and line.quantity:
                paid[kind] = line.usd / line.quantity
    if "Bytes" in paid:
        return NatPrice(hourly=paid.get("Hours") or nat_rate("nat:hours", region).hourly_usd, per_gb=paid["Bytes"],
                        source=f"what this account paid per NAT GB in {region} over the last 30 days (Cost Explorer: "
                               "unblended cost ÷ usage, discounts included)")
    hours, per_gb = nat_rate("nat:hours", region, rates), nat_rate("nat:bytes", region, rates)
    if per_gb.hourly_usd is not None:
        return NatPrice(hourly=hours.hourly_usd, per_gb=per_gb.hourly_usd, source=per_gb.source)
    return NatPrice(hourly=None, per_gb=None, source=f"unknown: no documented NAT gateway price for {region}, no "
                                                     "Price List rate, and Cost Explorer has no NAT usage there "
                                                     "(never guessed)")


def route_tables_of(vpc: Vpc) -> dict[str, tuple[str, ...]]:
    """Route table → the subnets it routes for (the main table: the subnets no other table is associated with)."""
    explicit = {s for t in vpc.route_tables for s in t.subnet_ids}
    return {t.route_table_id: t.subnet_ids + (tuple(s for s in vpc.subnet_zones if s not in explicit)
                                             if t.main else ()) for t in vpc.route_tables}


def gaps(vpc: Vpc) -> dict[str, tuple[str, ...]]:
    """Service → the route tables that send to a NAT gateway and have no gateway endpoint of the service. An S3
    interface endpoint (billed per GB, far below NAT) counts as covered: the traffic may take it."""
    out: dict[str, tuple[str, ...]] = {}
    for service in GATEWAY_SERVICES:
        if any(e.serves(service) and e.endpoint_type == "Interface" for e in vpc.endpoints):
            continue
        covered = {r for e in vpc.endpoints if e.serves(service) and e.endpoint_type == "Gateway"
                   for r in e.route_table_ids}
        missing = tuple(sorted(t.route_table_id for t in vpc.route_tables
                               if t.nat_ids and t.route_table_id not in covered))
        if missing:
            out[service] = missing
    return out


def pinned_buckets(policies: Mapping[str, str], ips: Sequence[str]) -> dict[str, str]:
    """Bucket → the NAT IP its policy names in an aws:SourceIp condition (alone or in a CIDR): requests through a
    gateway endpoint no longer come from that IP. A policy that cannot be parsed counts as pinned (unknown is not
    safe)."""
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    out: dict[str, str] = {}
    for bucket, text in policies.items():
        try:
            doc = json.loads(text)
        except ValueError:
            out[bucket] = UNPARSEABLE
            continue
        statements = doc.get("Statement", []) if isinstance(doc, dict) else []
        for st in statements if isinstance(statements, list) else [statements]:
            for values in _source_ip_values(st):
                for value in values:
                    try:
                        network = ipaddress.ip_network(str(value), strict=False)
                    except ValueError:
                        continue
                    hit = next((a for a in addresses if a.version == network.version and a in network), None)
                    if hit is not None:
                        out[bucket] = str(hit)
    return out


def _pinned_to(pins: Mapping[str, str], ips: Sequence[str]) -> dict[str, str]:
    """The pins that concern these NAT IPs (an unparseable policy concerns every NAT gateway)."""
    return {b: ip for b, ip in pins.items() if ip in ips or ip == UNPARSEABLE}


def _source_ip_values(statement: object) -> list[list[object]]:
    if not isinstance(statement, dict) or not isinstance(statement.get("Condition"), dict):
        return []
    found = []
    for block in statement["Condition"].values():
        if isinstance(block, dict):
            for key, value in block.items():
                if key.lower() == "aws:sourceip":
                    found.append(value if isinstance(value, list) else [value])
    return found


def processed(series: Sequence[Series | None]) -> Series | None:
    """The bytes a NAT gateway processed per period: the sum of its In metrics (None: one could not be read)."""
    if any(s is None for s in series):
        return None
    mask, total, top = 0, 0.0, None
    for s in series:
        assert s is not None
        mask |= s.mask
        total += s.total
        top = s.maximum if top is None or (s.maximum is not None and s.maximum > top) else top
    return Series(mask=mask, total=total, maximum=top)



def _monthly_gb(s: Series, policy: Policy) -> float:
    """The window's processed bytes as GB a month, at the rate of the hours that have data."""
    hours = s.points * policy.idle.period_seconds / 3600
    return s.total / GB * HOURS_PER_MONTH / hours if hours else 0.0


def _dev(tags: dict[str, str], policy: Policy) -> bool:
    return policy.environments.classes[policy.environments.class_of(tags.get(policy.environments.tag_key))
                                       ].on_idle == "stop"


def classify_vpc(vpc: Vpc, nats: Mapping[str, NatGateway], traffic: Mapping[str, Series | None],
                 pins: Mapping[str, str] | None, price: NatPrice, policy: Policy, *, now: datetime,
                 run_id: str = "") -> Finding | None:
    """A VPC whose route tables send to a NAT gateway: missing gateway endpoints with the NAT's processed GB and
    dollars, or compliant. `pins` None: the bucket policies could not be read (nothing is acted on). None: the VPC
    sends nothing to a NAT gateway."""
    routed = [t for t in vpc.route_tables if t.nat_ids]
    if not routed:
        return None
    who = policy.ownership(vpc.tags)
    exemption = evaluate_exemption(vpc.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = vpc.tags.get(policy.exemptions.idle_since_tag)
    missing = gaps(vpc)
    used = sorted({n for t in routed if t.route_table_id in {r for rs in missing.values() for r in rs}
                   for n in t.nat_ids})
    series = [traffic.get(n) for n in used]
    ips = [ip for n in used if n in nats for ip in nats[n].public_ips]
    pins = None if pins is None else _pinned_to(pins, ips)
    evidence: dict[str, float | int | str | None] = {
        "nat_gateways": ",".join(used) or None, "nat_ips": ",".join(ips) or None,
        "services": ",".join(missing) or None,
        **{f"{s}_route_tables": ",".join(rts) for s, rts in missing.items()}}
    action: ActionKind | Ask | None = None
    act_after = None
    monthly: float | None = None
    verdict: Verdict
    if not missing:
        verdict, reason = Verdict.COMPLIANT, "every route table that sends to a NAT gateway has its gateway endpoints"
    elif exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif any(s is None for s in series):
        verdict = Verdict.CANNOT_JUDGE
        reason = "the NAT gateways' bytes could not be read: the traffic is not taken to be zero"
    elif any(s is not None and s.points == 0 for s in series):
        verdict = Verdict.CANNOT_JUDGE
        silent = [n for n, s in zip(used, series, strict=True) if s is not None and s.points == 0]
        reason = f"no {NAMESPACE} bytes series for {', '.join(silent)}: its traffic is not known, not taken to be zero"
    else:
        total = processed(series)
        assert total is not None
        gb = _monthly_gb(total, policy)
        evidence |= {"processed_gb_window": round(total.total / GB, 1), "processed_gb_month": round(gb, 1),
                     "per_gb_usd": price.per_gb}
        if gb < policy.network.min_nat_gb_per_month:
            verdict = Verdict.COMPLIANT
            reason = f"its NAT gateways process {gb:,.1f} GB a month, under {policy.network.min_nat_gb_per_month:g}"
        else:
            verdict = Verdict.VIA_NAT
            monthly = round(gb * price.per_gb, 2) if price.per_gb is not None else None
            dollars = f"${monthly:,.2f}" if monthly is not None else "dollars unknown"
            services = " or ".join("S3" if s == "s3" else "DynamoDB" for s in missing)
            reason = (f"{', '.join(sorted({r for rs in missing.values() for r in rs}))} send(s) to NAT gateway "
                      f"{', '.join(used)} with no {services} gateway endpoint; the NAT gateways process {gb:,.0f} GB "
                      f"a month ({dollars}). A gateway "
                      "endpoint is free and carries the same-region S3/DynamoDB share of it (the share itself is not "
                      "measured: up to that much)")
            notes.append("the fix: " + "; ".join(
                f"aws ec2 create-vpc-endpoint --vpc-id {vpc.vpc_id} --vpc-endpoint-type Gateway --service-name "
                f"com.amazonaws.{vpc.region}.{s} --route-table-ids {' '.join(rts)}" for s, rts in missing.items()))
            if pins is None:
                notes.append("the region's bucket policies could not be read: whether an endpoint breaks access to a "
                             "bucket pinned to the NAT's IP is not known, so nothing is changed")
                action = Ask.REVIEW
            elif pins and "s3" in missing:
                evidence["pinned_buckets"] = ",".join(sorted(pins))
                notes.append("never created by the janitor: " + "; ".join(
                    f"bucket {b}'s policy admits only {ip} (aws:SourceIp), which requests through an endpoint no "
                    "longer come from" for b, ip in sorted(pins.items())))
                action = Ask.REVIEW
            elif _dev(vpc.tags, policy) and policy.network.create_gateway_endpoints:
                action, act_after = mark_then(ActionKind.CREATE_GATEWAY_ENDPOINT, mark, policy, now, notes)
                notes.append("the way back: aws ec2 delete-vpc-endpoints --vpc-endpoint-ids <the endpoint it names>")
            else:
                action = Ask.REVIEW
    if verdict != Verdict.VIA_NAT and mark is not None:
        action, act_after = ActionKind.UNMARK_IDLE, None
    return Finding(kind=FindingKind.EGRESS, resource_id=vpc.vpc_id, resource_arn=vpc.arn, resource_type=VPC_TYPE,
                   account=vpc.account, region=vpc.region, **{**who, "name": who["name"] or vpc.vpc_id},
                   verdict=verdict, reason=reason, evidence=evidence, notes=tuple(notes), monthly_usd=monthly,
                   price_source=price.source if verdict == Verdict.VIA_NAT else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity=severity(monthly) if verdict == Verdict.VIA_NAT else "info", run_id=run_id,
                   observed_at=now)


def classify_nat(nat: NatGateway, traffic: Series | None, price: NatPrice, policy: Policy, *, now: datetime,
                 run_id: str = "") -> Finding:
    """A NAT gateway that processed nothing all window (its series there, every period zero) is idle and reported
    with its hourly dollars; one without a series cannot be judged. The janitor never deletes one."""
    who = policy.ownership(nat.tags)
    exemption = evaluate_exemption(nat.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = nat.tags.get(policy.exemptions.idle_since_tag)
    action: ActionKind | Ask | None = None
    window = timedelta(days=policy.idle.lookback_days)
    monthly = round(price.hourly * HOURS_PER_MONTH, 2) if price.hourly is not None else None
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif nat.created is not None and now - nat.created < window:
        verdict, reason = Verdict.STARTED_RECENTLY, f"created {nat.created:%Y-%m-%d}, within the window"
    elif traffic is None:
        verdict, reason = Verdict.CANNOT_JUDGE, "its bytes could not be read: not taken to be zero"
    elif traffic.points == 0:
        verdict, reason = Verdict.CANNOT_JUDGE, f"no {NAMESPACE} bytes series: its traffic is not known"
    elif coverage(traffic, policy) < policy.idle.min_coverage:
        verdict = Verdict.CANNOT_JUDGE
        reason = (f"bytes for {coverage(traffic, policy):.0%} of the window, under {policy.idle.min_coverage:.0%}: "
                  "too little to call it idle")
    elif traffic.total > 0:
        verdict, reason = Verdict.BUSY, f"processed {traffic.total / GB:,.2f} GB in the window"
    else:
        verdict = Verdict.IDLE
        reason = (f"processed no bytes in {policy.idle.lookback_days} days and bills every hour all the same: delete "
                  "it if nothing needs it (its Elastic IP stays allocated; the janitor never deletes a NAT gateway)")
        if _dev(nat.tags, policy) and mark is None:
            action = ActionKind.MARK_IDLE
        else:
            action = Ask.REVIEW
            if mark is not None:
                notes.append(f"idle since {mark} (tag {policy.exemptions.idle_since_tag})")
    if verdict != Verdict.IDLE and mark is not None:
        action = ActionKind.UNMARK_IDLE
    idle = verdict == Verdict.IDLE
    return Finding(kind=FindingKind.EGRESS, resource_id=nat.nat_id, resource_arn=nat.arn, resource_type=NAT_TYPE,
                   account=nat.account, region=nat.region, **{**who, "name": who["name"] or nat.nat_id},
                   verdict=verdict, reason=reason,
                   evidence={"vpc": nat.vpc_id, "subnet": nat.subnet_id, "zone": nat.availability_zone,
                             "public_ips": ",".join(nat.public_ips) or None},
                   notes=tuple(notes), monthly_usd=monthly if idle else None,
                   price_source=price.source if idle else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None,
                   severity=severity(monthly) if idle else "info", run_id=run_id, observed_at=now)


def usage_region(usage_type: str) -> tuple[str | None, str]:
    """The region of a usage type's prefix and the rest ("USE2-NatGateway-Bytes" → us-east-2, "NatGateway-Bytes");
    no known prefix: us-east-1's unprefixed form."""
    code, _, rest = usage_type.partition("-")
    if code in REGION_CODES:
        return REGION_CODES[code], rest
    return "us-east-1", usage_type


def region_pairs(lines: Sequence[UsageCost], *, top: int) -> list[Pair]:
    """The `top` region pairs by dollars: <src>-<dst>-AWS-Out-Bytes."""
    pairs: dict[str, Pair] = {}
    for line in lines:
        parts = line.usage_type.split("-")
        if len(parts) != 5 or parts[2:] != ["AWS", "Out", "Bytes"] or line.usd <= 0:
            continue
        key = line.usage_type
        seen = pairs.get(key)
        gb = (seen.gb or 0) + (line.quantity or 0) if seen else line.quantity
        pairs[key] = Pair(usage_type=key, source=REGION_CODES.get(parts[0]), destination=REGION_CODES.get(parts[1]),
                          usd=(seen.usd if seen else 0.0) + line.usd, gb=gb)
    return sorted(pairs.values(), key=lambda p: -p.usd)[:top]


def zone_lines(lines: Sequence[UsageCost]) -> dict[str, UsageCost]:
    """Region → its DataTransfer-Regional-Bytes line (data between its availability zones)."""
    out: dict[str, UsageCost] = {}
    for line in lines:
        region, rest = usage_region(line.usage_type)
        if rest == "DataTransfer-Regional-Bytes" and region is not None:
            seen = out.get(region)
            out[region] = line if seen is None else UsageCost(usage_type=line.usage_type, usd=seen.usd + line.usd,
                                                              quantity=(seen.quantity or 0) + (line.quantity or 0))
    return out


def _per_month(usd: float, days: int) -> float:
    return round(usd * 30 / days, 2)


def classify_pair(pair: Pair, seen: PairEvidence, policy: Policy, *, account: str, days: int, now: datetime,
                  run_id: str = "") -> Finding:
    """A region pair among the costliest, with the resources that likely make it: report only, never certain."""
    who = policy.ownership(seen.owner_tags)
    src, dst = pair.source or pair.usage_type.split("-")[0], pair.destination or pair.usage_type.split("-")[1]
    likely = []
    if seen.ml_buckets or seen.source_buckets:
        buckets = list(seen.ml_buckets) or list(seen.source_buckets or ())
        likely.append(f"bucket(s) in {src}: {', '.join(buckets[:5])}")
    if seen.destination_compute:
        likely.append(f"compute in {dst}: {', '.join(seen.destination_compute[:5])}")
    if seen.replication:
        likely.append(f"replication {', '.join(seen.replication[:5])}")
    if pair.source is None or pair.destination is None:
        reason = (f"{pair.usage_type}: ${pair.usd:,.2f} in {days} days between billing codes this janitor does not "
                  "map to regions; nothing in them is inferred")
    elif likely:
        reason = (f"${pair.usd:,.2f} in {days} days sent from {src} to {dst}; likely: " + "; ".join(likely)
                  + f" (inferred from what sits at both ends, not measured). Remedy: {REMEDY}")
    else:
        reason = (f"${pair.usd:,.2f} in {days} days sent from {src} to {dst}; no bucket, compute or replication rule "
                  "the janitor can see explains it")
    notes = [f"not read: {n}" for n in seen.not_read]
    return Finding(kind=FindingKind.EGRESS, resource_id=f"{src}->{dst}",
                   resource_arn=f"arn:{partition(pair.destination or 'us-east-1')}:network::{account}:"
                                f"region-pair/{src}/{dst}",
                   resource_type=PAIR_TYPE, account=account, region=pair.destination or src,
                   **{**who, "name": f"{src} → {dst}"}, verdict=Verdict.CROSSES_REGIONS, reason=reason,
                   evidence={"usage_type": pair.usage_type, "usd_window": round(pair.usd, 2),
                             "gb_window": round(pair.gb, 1) if pair.gb is not None else None, "days": days,
                             "buckets": ",".join((seen.ml_buckets or seen.source_buckets or ())[:10]) or None,
                             "compute": ",".join((seen.destination_compute or ())[:10]) or None,
                             "replication": ",".join(seen.replication[:10]) or None},
                   notes=tuple(notes), monthly_usd=_per_month(pair.usd, days),
                   price_source=f"Cost Explorer, unblended cost of {pair.usage_type} over the last {days} days",
                   action=Ask.REVIEW, severity=severity(_per_month(pair.usd, days)), run_id=run_id, observed_at=now)


def cross_zone_sources(vpcs: Sequence[Vpc], nats: Mapping[str, NatGateway]) -> list[str]:
    """Route tables whose subnets sit in another availability zone than the NAT gateway they send to: that traffic
    crosses zones before the NAT (a NAT gateway per zone avoids it)."""
    found = []
    for vpc in vpcs:
        subnets = route_tables_of(vpc)
        for t in vpc.route_tables:
            for nat_id in t.nat_ids:
                nat = nats.get(nat_id)
                zones = sorted({vpc.subnet_zones[s] for s in subnets[t.route_table_id] if s in vpc.subnet_zones})
                other = [z for z in zones if nat is not None and nat.availability_zone and z != nat.availability_zone]
                if other and nat is not None:
                    found.append(f"{t.route_table_id} ({'/'.join(other)}) → {nat_id} ({nat.availability_zone})")
    return found


def classify_zones(region: str, line: UsageCost, sources: Sequence[str], policy: Policy, *, account: str, days: int,
                   now: datetime, run_id: str = "") -> Finding:
    """A region's data transfer between its availability zones: a digest line, with the likely sources."""
    monthly = _per_month(line.usd, days)
    reason = (f"${line.usd:,.2f} in {days} days between availability zones of {region}"
              + (f"; likely: subnets sending through a NAT gateway in another zone: {'; '.join(sources[:5])}"
                 if sources else "; no source the janitor can see (NAT routes are all zone-local)"))
    who = policy.ownership({})
    return Finding(kind=FindingKind.EGRESS, resource_id=f"{region}/cross-az",
                   resource_arn=f"arn:{partition(region)}:network:{region}:{account}:cross-az",
                   resource_type=ZONES_TYPE, account=account, region=region, **{**who, "name": f"{region} cross-AZ"},
                   verdict=Verdict.CROSSES_ZONES, reason=reason,
                   evidence={"usage_type": line.usage_type, "usd_window": round(line.usd, 2),
                             "gb_window": round(line.quantity, 1) if line.quantity is not None else None,
                             "days": days, "sources": "; ".join(sources[:10]) or None},
                   monthly_usd=monthly, price_source=f"Cost Explorer, unblended cost of {line.usage_type} over the "
                                                     f"last {days} days",
                   action=Ask.REVIEW, severity=severity(monthly), run_id=run_id, observed_at=now)


def cost_explorer_unread(code: str, policy: Policy, *, account: str, now: datetime, run_id: str = "") -> Finding:
    """Cost Explorer could not be read: the regions crossed are not known — never read as no traffic."""
    return Finding(kind=FindingKind.EGRESS, resource_id="cost-explorer", resource_arn=f"arn:aws:ce::{account}:*",
                   resource_type=PAIR_TYPE, account=account, region="us-east-1", **policy.ownership({}),
                   verdict=Verdict.CANNOT_JUDGE,
                   reason=f"Cost Explorer could not be read ({code}): the data crossing regions and zones is not "
                          "known tonight, not taken to be zero; NAT dollars use documented prices only",
                   run_id=run_id, observed_at=now)


def recheck_endpoint(planned: Finding, current: Vpc | None, pins: Mapping[str, str] | None, policy: Policy, *,
                     now: datetime) -> Finding:
    """An endpoint decided minutes ago, checked against the VPC as it is just before: gone, kept, re-tagged out of
    dev, its mark removed, a bucket now pinned to the NAT's IP (or the policies not readable), or the endpoint there
    now → not created. It is created only on route tables that were announced and still lack it."""
    if planned.action != ActionKind.CREATE_GATEWAY_ENDPOINT:
        return planned
    why = None
    now_missing = gaps(current) if current is not None else {}
    announced = {s: set(str(planned.evidence.get(f"{s}_route_tables") or "").split(",")) - {""}
                 for s in GATEWAY_SERVICES}
    still = {s: tuple(r for r in rts if r in announced[s]) for s, rts in now_missing.items()}
    still = {s: rts for s, rts in still.items() if rts}
    if current is None:
        why = "the VPC is gone"
    elif (due := no_longer_due(current.tags, policy, now=now)) is not None:
        why = due
    elif pins is None:
        why = "the bucket policies could not be read just before"
    elif (pins := _pinned_to(pins, str(planned.evidence.get("nat_ips") or "").split(","))) and "s3" in still:
        why = "bucket(s) " + ", ".join(sorted(pins)) + " now admit only the NAT's IP"
    elif not still:
        why = "the gateway endpoints are there now"
    if why is not None:
        return withdrawn(planned, f"not created: {why}")
    evidence = {**{k: v for k, v in planned.evidence.items() if not k.endswith("_route_tables")},
                "services": ",".join(still), **{f"{s}_route_tables": ",".join(r) for s, r in still.items()}}
    return planned.model_copy(update={"evidence": evidence})


def endpoints_to_create(f: Finding) -> list[tuple[str, list[str]]]:
    """(service, route tables) for each gateway endpoint a finding's action creates."""
    return [(s, rts.split(",")) for s in GATEWAY_SERVICES if (rts := str(f.evidence.get(f"{s}_route_tables") or ""))]


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack (families/network.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.resource_type == VPC_TYPE and f.action == ActionKind.MARK_IDLE:
        return (f"Marked. Unless you keep it, after {when} the janitor creates the free gateway endpoint(s) on exactly "
                "the route tables named, if still missing just before and no bucket policy pins the NAT's IP."
                if when else "Marked.")
    if f.action == ActionKind.CREATE_GATEWAY_ENDPOINT:
        return {"done": "Gateway endpoint(s) created on the route tables named: same-region S3/DynamoDB traffic no "
                        "longer pays NAT prices. The way back is below.",
                "failed": f"Could not create the endpoint ({f.action_error}); the traffic still goes through NAT.",
                "skipped": f"Not created: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Endpoint creation {f.action_status}.")
    if f.resource_type == VPC_TYPE and f.action == Ask.REVIEW:
        return ("The janitor does not create it here (production, the opt-in is off, or a bucket policy would break): "
                "the fix is above.")
    if f.resource_type == NAT_TYPE and f.action in (ActionKind.MARK_IDLE, Ask.REVIEW):
        return "Reported: the janitor never deletes a NAT gateway. Delete it if nothing needs it."
    if f.resource_type in (PAIR_TYPE, ZONES_TYPE) and f.action == Ask.REVIEW:
        return "Reported only, inferred from what the janitor sees: likely, not certain. The remedy is above."
    return None


COSTLY = (Verdict.VIA_NAT, Verdict.IDLE, Verdict.CROSSES_REGIONS, Verdict.CROSSES_ZONES)


def digest_egress(entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
    """The weekly digest's egress section: the last week's latest finding per resource with dollars, costliest
    first, with its team; endpoints the janitor created."""
    latest: dict[str, LedgerRecord] = {}
    for e in entries:
        if e.kind == FindingKind.EGRESS and now - e.at <= timedelta(days=7) and (
                e.resource_id not in latest or e.at > latest[e.resource_id].at):
            latest[e.resource_id] = e
    lines = []
    for e in sorted(latest.values(), key=lambda e: -(e.monthly_usd or 0)):
        if e.verdict in COSTLY and e.monthly_usd:
            what = {Verdict.VIA_NAT: "S3/DynamoDB through NAT, no gateway endpoint",
                    Verdict.IDLE: "idle NAT gateway", Verdict.CROSSES_REGIONS: "data crossing regions (likely)",
                    Verdict.CROSSES_ZONES: "data crossing availability zones"}[Verdict(e.verdict)]
            lines.append(f"*Egress {e.resource_id}:* ${e.monthly_usd:,.0f}/month, {what} ({e.team or 'no team'})")
        if e.action == ActionKind.CREATE_GATEWAY_ENDPOINT and e.status == "done":
            lines.append(f"*Egress {e.resource_id}:* gateway endpoint(s) created by the janitor")
    return lines
