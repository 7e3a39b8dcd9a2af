"""Benchmark the ECR family's nightly read: API calls per 1,000 images. A night is the repository pages, three calls
per repository (its tags, its lifecycle policy, its image pages: up to 1,000 images a page), and no CloudWatch at all.

    .venv/bin/python bench/ecr.py                  # 1,000 images (10 repositories of 100), then 2,000
    .venv/bin/python bench/ecr.py --images 500

Each repository (fixed shape): 60 % untagged CI builds a month old, 30 % tagged and pulled yesterday, 10 % tagged and
not pulled for 200 days. Counts, not seconds: wall time is the emulator's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

from family_night import one_night  # noqa: E402 (bench/, beside this script)

PER_REPOSITORY = 100


def seed(aws: Any, images: int) -> float:
    from cost_janitor.local.emulator.seeding import seed_repository

    started = time.perf_counter()
    for r in range(max(1, images // PER_REPOSITORY)):
        shape = [((), 1.0, 30, None)] * 60 + [((f"v{n}",), 1.0, 10, 1) for n in range(30)] + [
            ((f"old{n}",), 1.0, 300, 200) for n in range(10)]
        seed_repository(aws, f"repo-{r:03d}", tags={"environment": "dev" if r % 2 else "prod", "team": "ml"},
                        images=shape[:PER_REPOSITORY])
    return round(time.perf_counter() - started, 1)


def measure(images: int) -> dict[str, Any]:
    seeding_s, wall, report, calls = one_night("ecr", {"idle": {"services": ["ecr"]}},
                                               lambda aws, _end: seed(aws, images))
    total = sum(calls.values())
    return {"images": images, "repositories": max(1, images // PER_REPOSITORY), "seeding_s": seeding_s,
            "wall_s": wall, "api_calls": calls, "api_calls_total": total,
            "calls_per_1000_images": round(total * 1000 / images, 1),
            "verdicts": dict(Counter(str(f.verdict) for f in report.findings))}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--images", type=int, default=None)
    a = args.parse_args()
    results = [measure(n) for n in ([a.images] if a.images else [1000, 2000])]
    out = ROOT / "bench" / "results" / "ecr.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['images']} images in {r['repositories']} repositories: {r['api_calls_total']} calls "
              f"({r['calls_per_1000_images']} per 1,000 images): {r['api_calls']}")
    print(f"verdicts: {results[0]['verdicts']}  → {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
