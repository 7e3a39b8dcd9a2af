"""Benchmark the nightly sweep over many regions: one Lambda sweeping them one after another (today's single-region
schedule) against one invocation per region (the per-region schedules a multi-region policy gets), with an
AWS-like latency added to every API call.

    .venv/bin/python bench/fanout.py                          # 20 regions x 25 instances
    .venv/bin/python bench/fanout.py --regions 5 --per-region 10

The moto server runs in its own process. Every call the sweep makes sleeps first for a simulated round trip and
service time (--latency-ms, and GetMetricData --gmd-ms: it answers hundreds of series), and one region (the
slow one, --slow-factor) is that much slower — a region whose API is having a bad night. The fan-out runs each
region's sweep in its own process, started together after their imports (a Lambda per region: its cold start is
its own), and reports each region's duration and what it covered. Wall time here is the simulated latency plus
moto's own time; the ratio is the point, not the seconds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

SERVER = ("import sys\nfrom cost_janitor.local.emulator import start_moto\naws = start_moto()\n"
          "print(aws.endpoint, flush=True)\nsys.stdin.read()\n")
REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
           "eu-central-1", "eu-north-1", "eu-south-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
           "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "sa-east-1", "me-south-1", "af-south-1"]
END = datetime(2026, 11, 28, tzinfo=UTC)


def seed(endpoint: str, regions: list[str], per_region: int) -> None:
    from cost_janitor.local.emulator import LocalAws, MetricSeeder, launch, seed_instance_metrics

    aws = LocalAws(None, endpoint)
    for n, region in enumerate(regions):
        ec2, seeder = aws.client("ec2", region), MetricSeeder(aws.client("cloudwatch", region))
        for k in range(per_region):
            iid = launch(ec2, "m5.xlarge", {"environment": "dev" if k % 2 else "prod",
                                            "owner": f"user{k % 7}@example.com"})
            seed_instance_metrics(seeder, iid, end=END, hours=8 * 24, cpu=1.0 if (k + n) % 3 == 0 else 40.0,
                                  network_mb_per_hour=0.5)
        seeder.flush()


def _latency(latency_ms: float, gmd_ms: float, slow: str, factor: float) -> Counter[str]:
    """Every API call sleeps first (in this process): the simulated round trip and service time."""
    import botocore.client

    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def slowed(self: Any, operation: str, params: Any) -> Any:
        calls[operation] += 1
        wait = (gmd_ms if operation == "GetMetricData" else latency_ms) / 1000
        time.sleep(wait * (factor if self.meta.region_name == slow else 1))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = slowed  # type: ignore[method-assign]
    return calls


def _env(endpoint: str) -> None:
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY":
                       "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_METRICS_NAMESPACE": "CostJanitor", "POWERTOOLS_METRICS_DISABLED": "true"})


def sweep(regions: list[str], args: dict[str, Any]) -> dict[str, Any]:
    """One sweep (one Lambda invocation) over `regions`, in this process."""
    _env(args["endpoint"])
    calls = _latency(args["latency_ms"], args["gmd_ms"], args["slow"], args["slow_factor"])
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.core.policy import Policy
    from cost_janitor.settings import Settings

    policy = Policy.model_validate({"regions": args["all_regions"]})
    start = time.perf_counter()
    report = idle_sweep.run(policy, Settings(region="us-east-1"), now=END + timedelta(minutes=5), run_id="bench",
                            dry_run=True, regions=regions, services=["ec2"])
    return {"regions": regions, "seconds": round(time.perf_counter() - start, 2), "started": start,
            "instances": len(report.findings), "failed_regions": report.failed_regions,
            "api_calls": sum(calls.values())}


def _one_region(region: str, args: dict[str, Any], barrier: Any, out: Any) -> None:
    _env(args["endpoint"])
    from cost_janitor.capabilities import idle_sweep  # noqa: F401  imported before the start, as a warm Lambda

    barrier.wait()
    result = sweep([region], args)
    result["ended"] = time.perf_counter()
    out.put(result)


def fan_out(args: dict[str, Any]) -> dict[str, Any]:
    regions = args["all_regions"]
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(len(regions) + 1), ctx.Queue()
    procs = [ctx.Process(target=_one_region, args=(r, args, barrier, out)) for r in regions]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in regions]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    by_region = sorted(results, key=lambda r: r["regions"][0])
    return {"wall_s": round(wall, 2), "per_region": [{"region": r["regions"][0], "seconds": r["seconds"],
                                                       "instances": r["instances"], "api_calls": r["api_calls"],
                                                       "failed": r["failed_regions"]} for r in by_region]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--regions", type=int, default=20)
    p.add_argument("--per-region", type=int, default=25)
    p.add_argument("--latency-ms", type=float, default=60.0)
    p.add_argument("--gmd-ms", type=float, default=400.0)
    p.add_argument("--slow-factor", type=float, default=5.0)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "fanout.json"))
    a = p.parse_args()
    regions = REGIONS[: a.regions]
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "lambdas")})
    try:
        assert server.stdout is not None
        endpoint = server.stdout.readline().strip()
        t = time.perf_counter()
        seed(endpoint, regions, a.per_region)
        seeded = round(time.perf_counter() - t, 1)
        args = {"endpoint": endpoint, "all_regions": regions, "latency_ms": a.latency_ms, "gmd_ms": a.gmd_ms,
                "slow": regions[len(regions) // 4], "slow_factor": a.slow_factor}
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(1) as pool:  # a fresh process, like one Lambda
            sequential = pool.apply(sweep, (regions, args))
        parallel = fan_out(args)
    finally:
        server.kill()
    slowest = max(parallel["per_region"], key=lambda r: r["seconds"])
    result = {
        "regions": len(regions), "instances_per_region": a.per_region, "seed_s": seeded,
        "latency_model": {"per_call_ms": a.latency_ms, "get_metric_data_ms": a.gmd_ms,
                          "slow_region": args["slow"], "slow_factor": a.slow_factor},
        "sequential": {"wall_s": sequential["seconds"], "instances": sequential["instances"],
                       "api_calls": sequential["api_calls"]},
        "fan_out": parallel,
        "fan_out_slowest_region": slowest["region"],
        "fan_out_others_max_s": max(r["seconds"] for r in parallel["per_region"] if r is not slowest),
        "speedup": round(sequential["seconds"] / parallel["wall_s"], 1),
        "covered_the_same": sum(r["instances"] for r in parallel["per_region"]) == sequential["instances"],
    }
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "fan_out"}, indent=2))


if __name__ == "__main__":
    main()
