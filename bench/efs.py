"""Benchmark the EFS family's nightly read: API calls per 100 file systems, and the metrics requested (GetMetricData's
billing unit). A night is the file system pages, one DescribeLifecycleConfiguration per file system (EFS has no
batch form; it is free), and one GetMetricData call per 250 file systems.

    .venv/bin/python bench/efs.py                 # 100 file systems, then 200
    .venv/bin/python bench/efs.py --file-systems 50

The account (fixed shape): a third idle, a third busy without lifecycle management, a third busy with it; a day of
hourly AWS/EFS series. Counts, not seconds: wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

from family_night import one_night  # noqa: E402 (bench/, beside this script)

HOURS = 24


def seed(aws: Any, count: int, end: datetime) -> float:
    from cost_janitor.local.emulator.seeding import MetricSeeder, seed_efs_metrics, seed_file_system

    started = time.perf_counter()
    seeder = MetricSeeder(aws.client("cloudwatch"))
    for n in range(count):
        kind = ("idle", "no-lifecycle", "managed")[n % 3]
        fs_id = seed_file_system(aws, tags={"environment": "dev" if n % 2 else "prod", "team": "ml"}, size_gb=100,
                                 lifecycle=[{"TransitionToIA": "AFTER_30_DAYS"}] if kind == "managed" else None)
        seed_efs_metrics(seeder, fs_id, end=end, hours=HOURS, connections=0 if kind == "idle" else 3,
                         io_bytes=0 if kind == "idle" else 1e9)
    seeder.flush()
    return round(time.perf_counter() - started, 1)


def measure(count: int) -> dict[str, Any]:
    seeding_s, wall, report, calls = one_night("efs", {"idle": {"services": ["efs"], "lookback_days": 1}},
                                               lambda aws, end: seed(aws, count, end))
    total = sum(calls.values())
    return {"file_systems": count, "seeding_s": seeding_s, "wall_s": wall, "api_calls": calls,
            "api_calls_total": total, "calls_per_100_file_systems": round(total * 100 / count, 1),
            "get_metric_data": calls.get("GetMetricData", 0), "metrics_requested": report.metrics_requested,
            "verdicts": dict(Counter(str(f.verdict) for f in report.findings))}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--file-systems", type=int, default=None)
    a = args.parse_args()
    results = [measure(n) for n in ([a.file_systems] if a.file_systems else [100, 200])]
    out = ROOT / "bench" / "results" / "efs.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['file_systems']} file systems: {r['api_calls_total']} calls ({r['calls_per_100_file_systems']} per "
              f"100), {r['get_metric_data']} GetMetricData, {r['metrics_requested']} metrics requested: "
              f"{r['api_calls']}")
    print(f"verdicts: {results[0]['verdicts']}  → {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
