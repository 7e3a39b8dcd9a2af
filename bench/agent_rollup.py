"""Benchmark the GPU agent's roll-up (#27): the same seeded fleet (bench/sweep.py's plan) twice in one emulator — once
with one series per GPU (agent.per_gpu_series), once with the GPUs rolled up to one series per instance (the default
agent config: aggregation_dimensions [["InstanceId"]] + drop_original_metrics) — read by the sweep's staged path and
judged. Reports verdict mismatches between the twins and false idles (idle rolled up, not idle per GPU: the goal is
0), the agent's custom-metric series and the metrics the sweep requests, per form.

    .venv/bin/python bench/agent_rollup.py              # 1,000 instances (a third GPU boxes)
    .venv/bin/python bench/agent_rollup.py --instances 300

Counts, not seconds: wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sweep import plan  # noqa: E402 (bench/, beside this script)

HOURS = 8 * 24


def seed(aws: Any, fleet: list[dict[str, Any]], end: datetime, *, rolled: bool) -> list[str]:
    from cost_janitor.local.emulator import MetricSeeder, launch, seed_instance_metrics

    ec2, seeder = aws.client("ec2"), MetricSeeder(aws.client("cloudwatch"))
    ids = []
    for k, spec in enumerate(fleet):
        iid = launch(ec2, spec["type"], {"environment": spec["env"], "owner": f"user{k % 50}@example.com",
                                         "twin": str(k)})
        hours = 3 if spec["new"] else HOURS
        seed_instance_metrics(seeder, iid, end=end, hours=hours, cpu=spec["cpu"], network_mb_per_hour=0.5,
                              gpus=None if rolled else spec["gpus"])
        if rolled and spec["gpus"]:  # what CloudWatch holds for the rolled-up series: each hour's busiest GPU
            for metric, column in (("nvidia_smi_utilization_gpu", 0), ("nvidia_smi_utilization_memory", 1)):
                seeder.series("CWAgent", metric, {"InstanceId": iid}, [max(g[column] for g in spec["gpus"])] * hours,
                              end=end, unit="Percent")
        ids.append(iid)
    seeder.flush()
    return ids


def judge(aws: Any, ids: list[str], now: datetime) -> tuple[dict[str, str], int, int]:
    from cost_janitor.adapters.cloudwatch import CloudWatchReader, UsageReader
    from cost_janitor.adapters.ec2 import Ec2Inventory
    from cost_janitor.core.idle import classify_instances
    from cost_janitor.core.policy import Policy
    from cost_janitor.families.ec2 import read_usage

    wanted = set(ids)
    instances = [i for i in Ec2Inventory(aws.client("ec2"), "us-east-1").running_instances() if i.instance_id in wanted]
    reader = CloudWatchReader(aws.client("cloudwatch"))
    usage = read_usage(UsageReader(reader), instances, Policy(), now=now)
    verdicts = {f.resource_id: str(f.verdict) for f in classify_instances(instances, usage, Policy(), now=now)}
    series = sum(1 for d in reader.list_metrics("CWAgent", "nvidia_smi_utilization_gpu") if dict(d)["InstanceId"]
                 in wanted) * 2
    return verdicts, reader.metrics_requested, series


def measure(n: int) -> dict[str, Any]:
    from cost_janitor.local.emulator import pointed_at, start_moto

    fleet = plan(n, random.Random(42))
    end = datetime(2026, 11, 28, tzinfo=UTC)
    aws = start_moto()
    aws.reset()
    try:
        with pointed_at(aws):
            per_gpu_ids = seed(aws, fleet, end, rolled=False)
            rolled_ids = seed(aws, fleet, end, rolled=True)
            now = end + timedelta(minutes=5)
            # each form judged on its own (the rolled-up twins' GPU series are not listed among the per-GPU ones)
            per_gpu, per_gpu_metrics, per_gpu_series = judge(aws, per_gpu_ids, now)
            rolled, rolled_metrics, rolled_series = judge(aws, rolled_ids, now)
    finally:
        aws.stop()
    pairs = list(zip(per_gpu_ids, rolled_ids, strict=True))
    mismatches = [(per_gpu[a], rolled[b]) for a, b in pairs if per_gpu[a] != rolled[b]]
    false_idle = [m for m in mismatches if m[1] == "idle"]
    return {"instances": n, "gpu_boxes": sum(1 for s in fleet if s["gpus"]),
            "gpus": sum(len(s["gpus"]) for s in fleet),
            "agent_series": {"per_gpu": per_gpu_series, "per_instance": rolled_series},
            "metrics_requested": {"per_gpu": per_gpu_metrics, "per_instance": rolled_metrics},
            "verdicts": {"per_gpu": dict(Counter(per_gpu.values())), "per_instance": dict(Counter(rolled.values()))},
            "verdict_mismatches": len(mismatches), "mismatches": dict(Counter(f"{a} → {b}" for a, b in mismatches)),
            "false_idle": len(false_idle)}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--instances", type=int, default=1000)
    a = args.parse_args()
    result = measure(a.instances)
    out = ROOT / "bench" / "results" / "agent_rollup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['instances']} instances ({result['gpu_boxes']} GPU boxes, {result['gpus']} GPUs): agent series "
          f"{result['agent_series']}, metrics requested {result['metrics_requested']}, verdict mismatches "
          f"{result['verdict_mismatches']} {result['mismatches']}, false idle {result['false_idle']}; wrote "
          f"{out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
