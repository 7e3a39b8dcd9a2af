"""Cold-start and package budget: each handler module's import time in a fresh interpreter (median of 10)
against `import boto3` alone, the Lambda code asset's size and the dependency layer's size.

    .venv/bin/python bench/cold_start.py            (needs `make synth` for the asset size)

Targets (issue #9): each handler imports in ≤ 1.5× the time of `import boto3`; the code asset ≤ 1 MB.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ["idle_sweep", "storage_lifecycle", "tag_compliance", "spot_interruption", "notifier",
            "slack_interactivity", "report"]
RUNS = 10


def import_ms(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    times = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                  env={**os.environ, "POWERTOOLS_TRACE_DISABLED": "false"}).stdout)
             for _ in range(RUNS)]
    return round(statistics.median(times), 1)


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    boto3 = import_ms("boto3")
    rows = {h: import_ms(f"cost_janitor.handlers.{h}") for h in HANDLERS}
    assets = [p for p in (ROOT / "cdk.out").glob("asset.*") if (p / "cost_janitor").is_dir()]
    result = {"import_boto3_ms": boto3, "handlers_ms": rows,
              "ratio_to_boto3": {h: round(ms / boto3, 2) for h, ms in rows.items()},
              "code_asset_bytes": size(assets[0]) if assets else None,
              "deps_layer_bytes": size(ROOT / "build" / "deps-layer")}
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "cold_start.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
