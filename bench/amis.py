"""Benchmark the AMIs family's nightly read: API calls per 1,000 images. A night is the image pages, the launch
templates and each one's versions, the launch configurations, the instances, and two Recycle Bin rule lists — no call
per image.

    .venv/bin/python bench/amis.py                 # 1,000 images and 20 launch templates, then 2,000 and 40
    .venv/bin/python bench/amis.py --images 500

The account (fixed shape): a tenth of the images used by a launch template, half last launched 200 days ago, the rest
launched last week; a Recycle Bin rule for snapshots. Counts, not seconds: wall time is the emulator's.
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


def seed(aws: Any, images: int) -> float:
    from cost_janitor.local.emulator.seeding import seed_image

    started = time.perf_counter()
    ec2 = aws.client("ec2")
    for n in range(images):
        image = seed_image(aws, f"img-{n:05d}", tags={"environment": "dev" if n % 2 else "prod", "team": "ml"},
                           created_days_ago=300, launched_days_ago=200 if n % 2 else 7)
        if n % 50 == 0:
            ec2.create_launch_template(LaunchTemplateName=f"lt-{n:05d}", LaunchTemplateData={"ImageId": image})
    aws.client("rbin").create_rule(ResourceType="EBS_SNAPSHOT",
                                   RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"})
    return round(time.perf_counter() - started, 1)


def measure(images: int) -> dict[str, Any]:
    seeding_s, wall, report, calls = one_night("amis", {"idle": {"services": ["amis"]}},
                                               lambda aws, _end: seed(aws, images))
    total = sum(calls.values())
    return {"images": images, "launch_templates": images // 50, "seeding_s": seeding_s, "wall_s": wall,
            "api_calls": calls, "api_calls_total": total, "calls_per_1000_images": round(total * 1000 / images, 1),
            "verdicts": dict(Counter(str(f.verdict) for f in report.findings))}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--images", type=int, default=None)
    a = args.parse_args()
    results = [measure(n) for n in ([a.images] if a.images else [1000, 2000])]
    out = ROOT / "bench" / "results" / "amis.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['images']} images, {r['launch_templates']} launch templates: {r['api_calls_total']} calls "
              f"({r['calls_per_1000_images']} per 1,000 images): {r['api_calls']}")
    print(f"verdicts: {results[0]['verdicts']}  → {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
