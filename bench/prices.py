"""Benchmark the pricing reads of one night: Price List API (GetProducts) and Cost Explorer Savings Plans calls for a
fleet across three regions, two of which the offline tables do not know — the calls are per (type, region) and per
(family, region), never per resource.

    .venv/bin/python bench/prices.py                  # 300 instances and 30 endpoints, then 900 and 90
    .venv/bin/python bench/prices.py --instances 150

The fleet (fixed shape): idle dev boxes of 6 EC2 types spread over us-east-1, eu-west-1 and ap-southeast-2, and idle
dev SageMaker endpoints of 3 ml.* types in eu-central-1 and us-east-1; the Price List stand-in knows every pair (its
prices are fixtures); a Savings Plan covers g5 in us-east-1. Counts, not seconds: wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

EC2_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
EC2_TYPES = ("g5.xlarge", "g6e.xlarge", "p4d.24xlarge", "m5.large", "c5.xlarge", "m6a.large")
ML_REGIONS = ("eu-central-1", "us-east-1")
ML_TYPES = ("ml.g6e.xlarge", "ml.g5.xlarge", "ml.p4d.24xlarge")
DEV = {"environment": "dev", "team": "ml", "owner": "ana@example.com"}


def seed(aws: Any, end: datetime, instances: int, endpoints: int) -> float:
    from cost_janitor.local.emulator import (
        MetricSeeder,
        launch,
        seed_endpoint,
        seed_endpoint_metrics,
        seed_instance_metrics,
    )
    from cost_janitor.local.emulator.seeding import (
        ec2_price_product,
        sagemaker_price_product,
        seed_price_list,
        seed_savings_plans,
    )

    started = time.perf_counter()
    seeders = {r: MetricSeeder(aws.client("cloudwatch", r)) for r in {*EC2_REGIONS, *ML_REGIONS}}
    for n in range(instances):
        region, instance_type = EC2_REGIONS[(n // len(EC2_TYPES)) % 3], EC2_TYPES[n % len(EC2_TYPES)]
        gpus = [(0.0, 1.0)] if instance_type.startswith(("g", "p")) else None
        instance_id = launch(aws.client("ec2", region), instance_type, {"Name": f"box-{n}", **DEV})
        seed_instance_metrics(seeders[region], instance_id, end=end, hours=9 * 24, cpu=0.5, gpus=gpus)
    for n in range(endpoints):
        region, instance_type = ML_REGIONS[n % 2], ML_TYPES[n % len(ML_TYPES)]
        seed_endpoint(aws, f"ep-{n}", variants=[("AllTraffic", instance_type, 1)], tags={"Name": f"ep-{n}", **DEV},
                      created=end - timedelta(days=30), region=region)
        seed_endpoint_metrics(seeders[region], f"ep-{n}", "AllTraffic", end=end, hours=9 * 24,
                              invocations_per_hour=0, gpus=[0.0])
    for s in seeders.values():
        s.flush()
    seed_price_list([ec2_price_product(t, r, 1.0) for t in EC2_TYPES for r in EC2_REGIONS]
                    + [sagemaker_price_product(t, r, 2.0) for t in ML_TYPES for r in ML_REGIONS])
    seed_savings_plans(total=1000.0, used=1000.0, on_demand_equivalent=1600.0, account_coverage=70.0,
                       coverage={("us-east-1", "g5"): 100.0})
    return round(time.perf_counter() - started, 1)


def measure(instances: int, endpoints: int) -> dict[str, Any]:
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.core.policy import Policy
    from cost_janitor.families import ec2
    from cost_janitor.families import endpoints as endpoint_family
    from cost_janitor.local.emulator import deploy_janitor_resources, pointed_at, start_moto
    from cost_janitor.settings import Settings

    aws = start_moto()
    aws.reset()
    try:
        with pointed_at(aws):
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            seeding_s = seed(aws, end, instances, endpoints)
            policy = Policy.model_validate({"regions": sorted({*EC2_REGIONS, *ML_REGIONS}),
                                            "idle": {"services": ["ec2", "sagemaker"]}})
            deploy_janitor_resources(aws, policy)
            started = time.perf_counter()
            report = idle_sweep.run(policy, Settings.from_env(), now=end + timedelta(minutes=5), run_id="bench",
                                    dry_run=True, families=[ec2.FAMILY, endpoint_family.FAMILY])
            wall = round(time.perf_counter() - started, 1)
    finally:
        aws.stop()
    pricing = {k: v for k, v in sorted(report.api_calls.items()) if k.startswith(("pricing:", "ce:"))}
    priced = [f for f in report.findings if f.monthly_usd is not None]
    resources = instances + endpoints
    return {"instances": instances, "endpoints": endpoints, "regions": len(policy.regions), "seeding_s": seeding_s,
            "wall_s": wall, "pricing_calls": pricing, "pricing_calls_total": sum(pricing.values()),
            "pricing_calls_per_1000_resources": round(sum(pricing.values()) * 1000 / resources, 1),
            "priced_findings": len(priced), "unpriced_findings": len(report.findings) - len(priced),
            "after_savings_plans": sum(1 for f in report.findings if "list_monthly_usd" in f.evidence),
            "price_sources": dict(Counter(str(f.price_source).split(",")[0] for f in priced))}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--instances", type=int, default=None)
    a = args.parse_args()
    sizes = [(a.instances, max(a.instances // 10, 1))] if a.instances else [(300, 30), (900, 90)]
    results = [measure(n, e) for n, e in sizes]
    out = ROOT / "bench" / "results" / "prices.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['instances']} instances + {r['endpoints']} endpoints in {r['regions']} regions: "
              f"{r['pricing_calls_total']} pricing calls ({r['pricing_calls']}), "
              f"{r['pricing_calls_per_1000_resources']}/1000 resources; {r['priced_findings']} priced, "
              f"{r['unpriced_findings']} unpriced; wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
