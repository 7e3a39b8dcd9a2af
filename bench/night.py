"""Benchmark a whole night of the idle sweep, act phase included: every AWS call by operation, per 1,000
instances, over two nights (night 1 marks the idle dev boxes, night 2 stops them), on bench/sweep.py's fleet.

    .venv/bin/python bench/night.py                  # 1,000 instances

The read phase (inventory + metrics) is bench/sweep.py's; this adds what a real night also pays: stop protection
(one DescribeInstanceAttribute per box about to be marked or stopped, a protected one remembered for a week),
the marks and stops, the re-check before stopping, the ledger and the findings topic. Counts, not seconds: the
emulator's wall time is not AWS's. A tenth of the idle dev boxes have stop protection on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

from bench.sweep import count_calls, plan, seed, start_server, write_results  # noqa: E402

READ = {"DescribeInstances", "DescribeSpotInstanceRequests", "GetMetricData", "ListMetrics",
        "DescribeAddresses", "GetCallerIdentity"}  # the addresses family: one list a region (+ the account, once)
ACT = {"CreateTags", "DeleteTags", "StopInstances"}


def measure(endpoint: str, now: datetime) -> dict[str, Any]:
    """In a fresh process: two nights through capabilities.idle_sweep.run, every call counted by phase."""
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY":
                       "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_METRICS_NAMESPACE": "CostJanitor"})
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.core.policy import Policy
    from cost_janitor.local.emulator import LocalAws, deploy_janitor_resources
    from cost_janitor.settings import Settings

    policy = Policy.model_validate({"idle": {"services": ["ec2"]}})
    os.environ.update(deploy_janitor_resources(LocalAws(None, endpoint), policy))
    calls = count_calls()
    nights = []
    for n, at in enumerate((now, now + timedelta(days=1))):
        calls.clear()
        report = idle_sweep.run(policy, Settings.from_env(), now=at, run_id=f"night-{n + 1}", dry_run=False)
        acted = sum(1 for f in report.findings if f.action_status == "done" and str(f.action) in (
            "mark-idle", "stop", "hibernate", "unmark-idle"))
        phases = {"read": sum(v for k, v in calls.items() if k in READ) - report.api_calls.get(
                      "DescribeInstances (re-check)", 0),
                  "stop_protection": calls["DescribeInstanceAttribute"],
                  "act": sum(v for k, v in calls.items() if k in ACT) + report.api_calls.get(
                      "DescribeInstances (re-check)", 0),
                  "ledger_and_publish": sum(v for k, v in calls.items()
                                            if k not in READ | ACT | {"DescribeInstanceAttribute"})}
        counted = dict(calls)
        ledger = _ledger_size(os.environ["LEDGER_TABLE"])  # after the count: its Scan is not the night's
        nights.append({"night": n + 1, "calls": counted, "total": sum(counted.values()), "phases": phases,
                       "boxes_acted_on": acted, "ledger_items_after": ledger[0], "ledger_bytes_after": ledger[1],
                       "actions": dict(Counter(f"{f.action}:{f.action_status}" for f in report.findings
                                               if f.action_status))})
    return {"instances": len(report.findings), "nights": nights}


def _ledger_size(table: str) -> tuple[int, int]:
    """The ledger's items and bytes (each item's attribute names and values, as DynamoDB sizes items: near enough
    to its JSON), scanned without counting the scan."""
    import boto3

    ddb = boto3.client("dynamodb")
    items = size = 0
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            items += 1
            size += sum(len(k) + len(json.dumps(v)) for k, v in item.items())
    return items, size


def run(n: int) -> dict[str, Any]:
    server, endpoint = start_server()
    try:
        end = datetime(2026, 11, 28, tzinfo=UTC)
        fleet = plan(n, random.Random(42))
        rng = random.Random(7)
        seeding = seed(endpoint, fleet, end, (8 * 86400) // 3600, 3600)
        _protect(endpoint, [s["id"] for s in fleet if s["env"] == "dev" and rng.random() < 0.1])
        result = subprocess.run([sys.executable, __file__, "--measure", endpoint,
                                 (end + timedelta(minutes=5)).isoformat()], capture_output=True, text=True, cwd=ROOT)
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        server.kill()
    for night in measured["nights"]:
        night["per_1000"] = {k: round(v * 1000 / n, 1) for k, v in night["phases"].items()}
        night["total_per_1000"] = round(night["total"] * 1000 / n, 1)
    return {"instances": n, "seeding": seeding, **measured}


def _protect(endpoint: str, ids: list[str]) -> None:
    from cost_janitor.local.emulator import LocalAws

    ec2 = LocalAws(None, endpoint).client("ec2")
    for iid in ids:
        ec2.modify_instance_attribute(InstanceId=iid, DisableApiStop={"Value": True})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "night.json"))
    p.add_argument("--measure", nargs=2, metavar=("ENDPOINT", "NOW"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], datetime.fromisoformat(args.measure[1]))))
        return
    result = run(args.size)
    for night in result["nights"]:
        print(f"night {night['night']}: {night['total']} calls ({night['total_per_1000']}/1000): "
              f"{night['phases']}, {night['boxes_acted_on']} boxes acted on; {night['actions']}", flush=True)
    write_results(args.out, result)


if __name__ == "__main__":
    main()
