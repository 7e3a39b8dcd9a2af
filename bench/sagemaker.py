"""Benchmark the SageMaker part of the nightly sweep: API calls per 1,000 endpoints (and the metrics requested,
GetMetricData's billing unit), and how many endpoints had to be described.

    .venv/bin/python bench/sagemaker.py                  # 1,000 endpoints
    .venv/bin/python bench/sagemaker.py --endpoints 300

The fleet (fixed seed): 55 % busy GPU endpoints, 15 % busy CPU endpoints, 15 % idle (no invocations at all),
8 % underused (traffic, GPUs under 30 %), 5 % serverless, 2 % new; one in ten has a second variant. Seven days
of hourly metrics, as SageMaker publishes them (Invocations only where there is traffic). Counts, not seconds:
wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import os
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

GPU = [("ml.g5.xlarge", 1), ("ml.g5.12xlarge", 4), ("ml.g4dn.xlarge", 1), ("ml.p3.2xlarge", 1)]
CPU = ["ml.m5.large", "ml.c5.xlarge", "ml.m5.xlarge"]


def plan(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        roll = rng.random()
        kind = ("busy-gpu" if roll < 0.55 else "busy-cpu" if roll < 0.70 else "idle" if roll < 0.85 else
                "underused" if roll < 0.93 else "serverless" if roll < 0.98 else "new")
        gpu_type, gpus = rng.choice(GPU)
        instance_type = rng.choice(CPU) if kind == "busy-cpu" else gpu_type
        variants = 2 if kind != "serverless" and rng.random() < 0.1 else 1
        out.append({"name": f"ep-{k:05d}", "kind": kind, "type": None if kind == "serverless" else instance_type,
                    "gpus": 0 if kind in ("busy-cpu", "serverless") else gpus, "variants": variants,
                    "env": "prod" if rng.random() < 0.4 else "dev"})
    return out


def seed(aws: Any, fleet: list[dict[str, Any]], end: datetime, hours: int) -> float:
    from cost_janitor.local.emulator import MetricSeeder, seed_endpoint, seed_endpoint_metrics

    started = time.perf_counter()
    seeder = MetricSeeder(aws.client("cloudwatch"))
    for e in fleet:
        names = ["AllTraffic", "Canary"][:e["variants"]]
        created = end - timedelta(days=1 if e["kind"] == "new" else 40)
        seed_endpoint(aws, e["name"], variants=[(v, e["type"], 1) for v in names],
                      tags={"environment": e["env"], "team": "ml"}, created=created)
        span = 20 if e["kind"] == "new" else hours
        for v in names:
            if e["kind"] == "serverless":
                seeder.series("AWS/SageMaker", "Invocations", {"EndpointName": e["name"], "VariantName": v},
                              [3.0] * span, end=end)
                continue
            calls = 0.0 if e["kind"] in ("idle", "new") else 40.0 if e["kind"] == "underused" else 2000.0
            util = {"busy-gpu": 70.0, "underused": 4.0}.get(e["kind"], 0.0)
            seed_endpoint_metrics(seeder, e["name"], v, end=end, hours=span, invocations_per_hour=calls,
                                  gpus=[util] * e["gpus"] if e["gpus"] else None)
    seeder.flush()
    return round(time.perf_counter() - started, 1)


def measure(n: int) -> dict[str, Any]:
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.core.policy import Policy
    from cost_janitor.local.emulator import deploy_janitor_resources, pointed_at, start_moto
    from cost_janitor.settings import Settings

    aws = start_moto()
    try:
        with pointed_at(aws):
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            fleet = plan(n, random.Random(15))
            seeding_s = seed(aws, fleet, end, 8 * 24)
            policy = Policy.model_validate({"idle": {"services": ["sagemaker"]}})
            env = deploy_janitor_resources(aws, policy)
            os.environ.update({k: v for k, v in env.items() if k in ("LEDGER_TABLE",)})
            nights = []
            for _ in ("first night: nothing described yet", "next night: nothing updated since"):
                started = time.perf_counter()
                report = idle_sweep.run(policy, Settings.from_env(), now=end + timedelta(minutes=5),
                                        run_id="bench", dry_run=True, services=["sagemaker"])
                nights.append((report, round(time.perf_counter() - started, 1)))
    finally:
        aws.stop()
    return {"endpoints": n, "fleet": dict(Counter(e["kind"] for e in fleet)), "seeding_s": seeding_s,
            "first_night": _night_figures(nights[0][0], nights[0][1], n),
            "next_night": _night_figures(nights[1][0], nights[1][1], n)}


def _night_figures(report: Any, wall: float, n: int) -> dict[str, Any]:
    calls = {k.removeprefix("sagemaker:"): v for k, v in report.api_calls.items()}
    total = sum(calls.values())
    described = calls.get("DescribeEndpoint", 0)
    verdicts = Counter(str(f.verdict) for f in report.findings if f.resource_type == "sagemaker:endpoint")
    return {"wall_s": wall, "api_calls": calls, "api_calls_total": total,
            "calls_per_1000": round(total * 1000 / n, 1), "described_share": round(described / n, 3),
            "metrics_requested": report.metrics_requested,
            "metrics_requested_per_1000": round(report.metrics_requested * 1000 / n, 1), "verdicts": dict(verdicts)}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--endpoints", type=int, default=1000)
    n = args.parse_args().endpoints
    result = measure(n)
    out = ROOT / "bench" / "results" / f"sagemaker-{n}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for night in ("first_night", "next_night"):
        r = result[night]
        print(f"{n} endpoints, {night.replace('_', ' ')}: {r['api_calls_total']} calls ({r['calls_per_1000']}/1000, "
              f"described {r['described_share']:.0%}, {r['metrics_requested_per_1000']} metrics requested/1000): "
              f"{r['api_calls']}")
    print(f"verdicts: {result['first_night']['verdicts']}  → {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
