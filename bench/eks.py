"""Benchmark the EKS family's nightly read: API calls per 100 GPU nodes and per 1,000 pods, and the metrics requested
(GetMetricData's billing unit). The point: a night's read stays a few GetMetricData calls, not one per pod.

    .venv/bin/python bench/eks.py                       # 100 nodes, 1,000 pods; then 200 nodes, 2,000 pods
    .venv/bin/python bench/eks.py --nodes 50 --pods 500

The cluster (fixed seed): managed GPU node groups of 10 g5.12xlarge nodes (a third idle, a third underused, a third
busy), pods spread over 20 namespaces, one in five requesting GPUs. A day of hourly Container Insights series as the
agent publishes them (each pod's series also at FullPodName, which the janitor does not read). Counts do not depend
on the window's length: one GetMetricData call carries 500 series for any window up to 14 days of hourly points.
Counts, not seconds: wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

HOURS = 24


def seed(aws: Any, nodes: int, pods: int, end: datetime, rng: random.Random) -> float:
    from cost_janitor.local.emulator.seeding import (
        MetricSeeder,
        seed_desired_capacity,
        seed_eks_nodegroup,
        seed_node_insights,
        seed_pod_insights,
    )

    started = time.perf_counter()
    seeder = MetricSeeder(aws.client("cloudwatch"))
    for g in range(max(1, nodes // 10)):
        kind = ("idle", "underused", "busy")[g % 3]
        asg, ids = seed_eks_nodegroup(aws, "ml", f"gpu-{g:03d}", instance_type="g5.12xlarge", nodes=10, min_size=1,
                                      max_size=20, tags={"environment": "dev" if g % 2 else "prod", "team": "ml"})
        requested, util = {"idle": (0, 0), "underused": (2, 4), "busy": (4, 80)}[kind]
        for node in ids:
            seed_node_insights(seeder, "ml", node, end=end, hours=HOURS, gpus=4, requested=requested,
                               utilization=util)
        seed_desired_capacity(seeder, asg, [10] * HOURS, end=end)
    for p in range(pods):
        gpus = 1 if rng.random() < 0.2 else 0
        seed_pod_insights(seeder, "ml", f"team-{p % 20:02d}", f"pod-{p:05d}", end=end, hours=HOURS, gpus=gpus,
                          gpu_utilization=rng.choice((5, 40, 90)), cpu=(2000, rng.choice((100, 1500))))
    seeder.flush()
    return round(time.perf_counter() - started, 1)


def measure(nodes: int, pods: int) -> dict[str, Any]:
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.core.policy import Policy
    from cost_janitor.families import eks
    from cost_janitor.local.emulator import deploy_janitor_resources, pointed_at, start_moto
    from cost_janitor.settings import Settings

    aws = start_moto()
    aws.reset()  # the emulator's state lives in the process: a second size starts from an empty account
    try:
        with pointed_at(aws):
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            seeding_s = seed(aws, nodes, pods, end, random.Random(23))
            policy = Policy.model_validate({"idle": {"services": ["eks"], "lookback_days": 1}})
            deploy_janitor_resources(aws, policy)
            started = time.perf_counter()
            report = idle_sweep.run(policy, Settings.from_env(), now=end + timedelta(minutes=5), run_id="bench",
                                    dry_run=True, families=[eks.FAMILY])
            wall = round(time.perf_counter() - started, 1)
    finally:
        aws.stop()
    calls = {k.removeprefix("eks:"): v for k, v in sorted(report.api_calls.items()) if k.startswith("eks:")}
    total = sum(calls.values())
    return {"nodes": nodes, "pods": pods, "seeding_s": seeding_s, "wall_s": wall, "api_calls": calls,
            "api_calls_total": total, "get_metric_data": calls.get("GetMetricData", 0),
            "metrics_requested": report.metrics_requested,
            "verdicts": dict(Counter(f"{f.resource_type} {f.verdict}" for f in report.findings))}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--nodes", type=int, default=None)
    args.add_argument("--pods", type=int, default=None)
    a = args.parse_args()
    sizes = [(a.nodes or 100, a.pods or 1000)] if a.nodes or a.pods else [(100, 1000), (200, 2000)]
    results = [measure(n, p) for n, p in sizes]
    out = ROOT / "bench" / "results" / "eks.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['nodes']} nodes, {r['pods']} pods: {r['api_calls_total']} calls, {r['get_metric_data']} "
              f"GetMetricData, {r['metrics_requested']} metrics requested: {r['api_calls']}")
    print(f"verdicts: {results[0]['verdicts']}  → {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
