"""Benchmark the idle sweep's read phase: AWS API calls by operation, client CPU time and peak RSS, and
verdicts identical to a brute-force per-instance reference on the same data.

    .venv/bin/python bench/sweep.py                      # 1,000 and 10,000 instances
    .venv/bin/python bench/sweep.py --sizes 1000         # one size

The moto server runs in its own process so the client's memory is measured alone. A third of the fleet is
GPU instances with 1–8 GPUs; the mix of busy and idle is fixed by a seed. Seven days of hourly metrics (plus
one spare day) at 1,000 instances; at 10,000 the period is 6 hours to keep the emulator's memory bounded —
the call counts do not depend on it (a call carries at most 500 queries either way, and 500 × 32 points is far
below the 100,800-datapoint cap). Wall time is moto's, not AWS's: count calls, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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

GPU_TYPES = [("g5.xlarge", 1), ("g5.12xlarge", 4), ("p3.8xlarge", 4), ("g6.48xlarge", 8), ("p4d.24xlarge", 8),
             ("g4dn.2xlarge", 1), ("g6e.12xlarge", 4), ("p3.2xlarge", 1)]
CPU_TYPES = ["m5.xlarge", "c5.2xlarge", "r5.large", "m6i.2xlarge", "t3.large"]
SERVER = ("import sys, time\nfrom cost_janitor.local.emulator import start_moto\naws = start_moto()\n"
          "print(aws.endpoint, flush=True)\nsys.stdin.read()\n")


def plan(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """The fleet: a third GPU; CPU boxes 65 % busy; GPU boxes 40 % training (low CPU), 30 % busy CPU, 30 % idle,
    of which one in ten has no agent (no GPU series); 2 % of all boxes are new (a few hours of data)."""
    fleet = []
    for k in range(n):
        new = rng.random() < 0.02
        env = "prod" if rng.random() < 0.3 else "dev"
        if k % 3 == 0:
            instance_type, gpus = rng.choice(GPU_TYPES)
            roll = rng.random()
            if roll < 0.4:
                cpu, util = rng.uniform(1, 4.5), rng.uniform(60, 99)
            elif roll < 0.7:
                cpu, util = rng.uniform(20, 90), rng.uniform(0, 99)
            else:
                cpu, util = rng.uniform(0.1, 4), rng.uniform(0, 5)
                gpus = 0 if rng.random() < 0.1 else gpus
            gpu = [(util if g == 0 else rng.uniform(0, util), rng.uniform(0, 5)) for g in range(gpus)]
        else:
            instance_type, gpu = rng.choice(CPU_TYPES), []
            cpu = rng.uniform(10, 80) if rng.random() < 0.65 else rng.uniform(0.1, 4.5)
        fleet.append({"type": instance_type, "env": env, "cpu": cpu, "gpus": gpu, "new": new})
    return fleet


def seed(endpoint: str, fleet: list[dict[str, Any]], end: datetime, points: int, period: int) -> dict[str, float]:
    from cost_janitor.local.emulator import LocalAws, MetricSeeder, launch, seed_instance_metrics

    aws = LocalAws(None, endpoint)
    ec2 = aws.client("ec2")
    seeder = MetricSeeder(aws.client("cloudwatch"))
    t0 = time.perf_counter()
    for k, spec in enumerate(fleet):  # one reservation each, so DescribeInstances pages like AWS's (by instance)
        spec["id"] = launch(ec2, spec["type"], {"environment": spec["env"], "owner": f"user{k % 50}@example.com"})
    t1 = time.perf_counter()
    for spec in fleet:
        count = 3 if spec["new"] else points
        if period == 3600:
            seed_instance_metrics(seeder, spec["id"], end=end, hours=count, cpu=spec["cpu"], network_mb_per_hour=0.5,
                                  gpus=spec["gpus"])
        else:
            _seed_coarse(seeder, spec, end, count, period)
    seeder.flush()
    return {"launch_s": round(t1 - t0, 1), "metrics_s": round(time.perf_counter() - t1, 1),
            "put_metric_data_calls": seeder.calls}


def _seed_coarse(seeder: Any, spec: dict[str, Any], end: datetime, points: int, period: int) -> None:
    from cost_janitor.local.emulator import gpu_dimensions

    iid = spec["id"]
    net = 0.5 * 1024 * 1024 * period / 3600 / 2
    seeder.series("AWS/EC2", "CPUUtilization", {"InstanceId": iid}, [spec["cpu"]] * points, end=end, period=period)
    for name in ("NetworkIn", "NetworkOut"):
        seeder.series("AWS/EC2", name, {"InstanceId": iid}, [net] * points, end=end, period=period)
    for index, (util, memory) in enumerate(spec["gpus"]):
        dims = gpu_dimensions(iid, index, "NVIDIA GPU")
        seeder.series("CWAgent", "nvidia_smi_utilization_gpu", dims, [util] * points, end=end, period=period)
        seeder.series("CWAgent", "nvidia_smi_utilization_memory", dims, [memory] * points, end=end, period=period)


def count_calls() -> Counter[str]:
    """Every botocore call this process makes from now on, by operation (the benchmarks' one measure)."""
    import botocore.client

    calls: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]

    def counting(self: Any, operation: str, params: Any) -> Any:
        calls[operation] += 1
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[attr-defined]
    return calls


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The moto server in its own process (so a client's memory is measured alone); returns it and its endpoint."""
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT / "lambdas")})
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def measure(endpoint: str, now: datetime, period: int) -> dict[str, Any]:
    """Runs in a fresh process: the staged read phase, then the per-instance reference, on the same data."""
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY":
                       "testing", "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    calls = count_calls()

    from cost_janitor.adapters.clients import client
    from cost_janitor.adapters.cloudwatch import CloudWatchReader, UsageReader
    from cost_janitor.adapters.ec2 import Ec2Inventory
    from cost_janitor.core.idle import classify_instances
    from cost_janitor.core.policy import Policy
    from cost_janitor.families.ec2 import read_usage

    policy = Policy.model_validate({"idle": {"period_seconds": period}})
    cpu0, wall0 = time.process_time(), time.perf_counter()
    instances = Ec2Inventory(client("ec2", "us-east-1"), "us-east-1").running_instances()
    reader = CloudWatchReader(client("cloudwatch", "us-east-1"))
    usage = read_usage(UsageReader(reader), instances, policy, now=now)
    findings = classify_instances(instances, usage, policy, now=now)
    staged = {"api_calls": dict(calls), "api_calls_total": sum(calls.values()),
              "metrics_requested": reader.metrics_requested,  # GetMetricData's billing unit
              "found_monthly_usd": round(sum(f.monthly_usd or 0 for f in findings), 2),  # idle or not stoppable
              "client_cpu_s": round(time.process_time() - cpu0, 2), "wall_s": round(time.perf_counter() - wall0, 1),
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "verdicts": dict(Counter(str(f.verdict) for f in findings))}

    calls.clear()
    reference = reference_verdicts(instances, policy, now)
    mismatches = [f.resource_id for f in findings if reference[f.resource_id] != f.verdict]
    return {"instances": len(instances), "staged": staged,
            "reference": {"api_calls": dict(calls), "api_calls_total": sum(calls.values())},
            "verdict_mismatches": len(mismatches), "mismatch_examples": mismatches[:5]}


def reference_verdicts(instances: list[Any], policy: Any, now: datetime) -> dict[str, Any]:
    """Brute force: per instance, list its GPU series, then read every metric for it in one call; no staging."""
    from cost_janitor.adapters.clients import client
    from cost_janitor.adapters.cloudwatch import (
        AGENT_NAMESPACE,
        GPU_MEMORY_METRIC,
        GPU_UTIL_METRIC,
        CloudWatchReader,
        MetricQuery,
        _ec2_query,
        window,
    )
    from cost_janitor.core.idle import classify_instances
    from cost_janitor.core.models import Series, Usage

    cw = client("cloudwatch", "us-east-1")
    reader = CloudWatchReader(cw)
    start, end = window(policy, now)
    out = {}
    for i in instances:
        listed = cw.list_metrics(Namespace=AGENT_NAMESPACE, MetricName=GPU_UTIL_METRIC,
                                 Dimensions=[{"Name": "InstanceId", "Value": i.instance_id}])["Metrics"]
        dims = sorted({tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed})
        queries = [_ec2_query(i.instance_id, m, s) for m, s in (("CPUUtilization", "Average"), ("NetworkIn", "Sum"),
                                                                ("NetworkOut", "Sum"))]
        for n, d in enumerate(dims):
            queries += [MetricQuery((i.instance_id, metric, n), AGENT_NAMESPACE, metric, d, "Maximum")
                        for metric in (GPU_UTIL_METRIC, GPU_MEMORY_METRIC)]
        got, _ = reader.read(queries, start=start, end=end, period=policy.idle.period_seconds)
        iid = i.instance_id
        usage = Usage(cpu=got[(iid, "CPUUtilization")], network_in=got[(iid, "NetworkIn")],
                      network_out=got[(iid, "NetworkOut")],
                      gpu_util=tuple(got.get((iid, GPU_UTIL_METRIC, n), Series()) for n in range(len(dims))),
                      gpu_memory=tuple(got.get((iid, GPU_MEMORY_METRIC, n), Series()) for n in range(len(dims))))
        [finding] = classify_instances([i], {iid: usage}, policy, now=now)
        out[iid] = finding.verdict
    return out


def run_size(n: int) -> dict[str, Any]:
    period = 3600 if n <= 1000 else 21600
    points = (8 * 86400) // period  # 7-day window plus a spare day
    server, endpoint = start_server()
    try:
        end = datetime(2026, 11, 28, tzinfo=UTC)
        seeding = seed(endpoint, plan(n, random.Random(42)), end, points, period)
        now = end + timedelta(minutes=5)
        result = subprocess.run([sys.executable, __file__, "--measure", endpoint, now.isoformat(), str(period)],
                                capture_output=True, text=True, cwd=ROOT)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        server_rss = _rss_mb(server.pid)
    finally:
        server.kill()
    staged = measured["staged"]
    return {"instances": n, "period_s": period, "seeding": seeding, **measured, "server_rss_mb": server_rss,
            "calls_per_1000": round(staged["api_calls_total"] * 1000 / n, 1),
            "reference_calls_per_1000": round(measured["reference"]["api_calls_total"] * 1000 / n, 1)}


def write_results(path: str, results: Any) -> None:
    """The results file the README's table quotes (committed beside it)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(results, indent=2))
    print(f"written: {path}")


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "sweep.json"))
    p.add_argument("--measure", nargs=3, metavar=("ENDPOINT", "NOW", "PERIOD"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        endpoint, now, period = args.measure
        print(json.dumps(measure(endpoint, datetime.fromisoformat(now), int(period))))
        return
    results = []
    for n in args.sizes:
        r = run_size(n)
        results.append(r)
        s = r["staged"]
        print(f"{n:>6} instances: {s['api_calls_total']} read-phase calls ({r['calls_per_1000']}/1000; "
              f"{s['api_calls']}), reference {r['reference']['api_calls_total']} calls; "
              f"client CPU {s['client_cpu_s']} s, peak RSS {s['peak_rss_mb']} MB; "
              f"verdict mismatches vs reference: {r['verdict_mismatches']}; verdicts {s['verdicts']}", flush=True)
    write_results(args.out, results)


if __name__ == "__main__":
    main()
