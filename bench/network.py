"""Benchmark the network family's nightly read: API calls per 100 VPCs, and the metrics requested (GetMetricData's
billing unit). The point: a night's read is a fixed handful of Describe pages plus one GetMetricData call per 250
NAT gateways, not calls per VPC; bucket policies are read once per region, and Cost Explorer once a night.

    .venv/bin/python bench/network.py                  # 100 VPCs, then 200
    .venv/bin/python bench/network.py --vpcs 50

The account (fixed shape): each VPC has a NAT gateway and two private route tables sending to it; a third of the
VPCs already have their S3 and DynamoDB gateway endpoints, a third send S3 through NAT, a third have a NAT gateway
that carries nothing; 20 buckets in the region (one pinned to a NAT's IP). A day of hourly AWS/NATGateway series.
Cost Explorer answers one page with a region pair and a cross-AZ line (the pair's ends hold nothing: its evidence
costs a fixed four calls). Counts, not seconds: wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

from family_night import one_night  # noqa: E402 (bench/, beside this script)

HOURS = 24
REGION = "us-east-2"


def seed(aws: Any, vpcs: int, end: datetime) -> float:
    from cost_janitor.local.emulator.seeding import (
        MetricSeeder,
        canned_cost_explorer,
        nat_created_ago,
        seed_nat_bytes,
        seed_vpc_with_nat,
        usage_types,
    )

    started = time.perf_counter()
    seeder = MetricSeeder(aws.client("cloudwatch", REGION))
    ec2 = aws.client("ec2", REGION)
    ips = []
    for v in range(vpcs):
        kind = ("covered", "via-nat", "idle")[v % 3]
        made = seed_vpc_with_nat(aws, tags={"environment": "dev" if v % 2 else "prod", "team": "ml"},
                                 region=REGION, cidr=f"{10 + v // 250}.{v % 250}.0.0/16")
        nat_created_ago(made["nat"], 60, region=REGION)
        ips.append(made["nat_ip"])
        seed_nat_bytes(seeder, made["nat"], end=end, hours=HOURS, gb_per_hour=0.0 if kind == "idle" else 5.0)
        if kind == "covered":
            for service in ("s3", "dynamodb"):
                ec2.create_vpc_endpoint(VpcId=made["vpc"], VpcEndpointType="Gateway",
                                        ServiceName=f"com.amazonaws.{REGION}.{service}",
                                        RouteTableIds=made["private_tables"])
    seeder.flush()
    s3 = aws.client("s3", REGION)
    for b in range(20):
        s3.create_bucket(Bucket=f"bench-data-{b:02d}", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(Bucket="bench-data-00", Policy=json.dumps({"Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::bench-data-00/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": f"{ips[1]}/32"}}}]}))
    canned_cost_explorer(aws, [usage_types({"USE1-EU-AWS-Out-Bytes": (900.0, 45_000.0),
                                            "USE2-DataTransfer-Regional-Bytes": (40.0, 4_000.0)},
                                           start=f"{end - timedelta(days=30):%Y-%m-%d}", end=f"{end:%Y-%m-%d}")])
    return round(time.perf_counter() - started, 1)


def measure(vpcs: int) -> dict[str, Any]:
    seeding_s, wall, report, calls = one_night(
        "network", {"regions": [REGION], "idle": {"services": ["network"], "lookback_days": 1}},
        lambda aws, end: seed(aws, vpcs, end))
    total = sum(calls.values())
    return {"vpcs": vpcs, "seeding_s": seeding_s, "wall_s": wall, "api_calls": calls, "api_calls_total": total,
            "calls_per_100_vpcs": round(total * 100 / vpcs, 1), "get_metric_data": calls.get("GetMetricData", 0),
            "metrics_requested": report.metrics_requested,
            "verdicts": dict(Counter(f"{f.resource_type} {f.verdict}" for f in report.findings))}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--vpcs", type=int, default=None)
    a = args.parse_args()
    results = [measure(v) for v in ([a.vpcs] if a.vpcs else [100, 200])]
    out = ROOT / "bench" / "results" / "network.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['vpcs']} VPCs: {r['api_calls_total']} calls ({r['calls_per_100_vpcs']} per 100 VPCs), "
              f"{r['get_metric_data']} GetMetricData, {r['metrics_requested']} metrics requested: {r['api_calls']}")
    print(f"verdicts: {results[0]['verdicts']}  → {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
