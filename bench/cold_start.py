"""Cold-start and package budget: each handler module's import time in a fresh interpreter (median of 10)
against `import boto3` alone, the Lambda code asset's size and the dependency layer's size.

    .venv/bin/python bench/cold_start.py            (needs `make synth` for the asset size)

Targets (issue #9): each handler imports in ≤ 1.5× the time of `import boto3`; the code asset ≤ 1 MB.

The interpreter gets the environment the Lambda runtime sets (LAMBDA_TASK_ROOT, function name, region): outside
Lambda the X-Ray SDK builds a botocore X-Ray client for its sampling rules at import (~100 ms) that it never
builds in Lambda, so measuring without it overstates every handler. `floor` is what the libraries every handler
needs cost together (boto3, pydantic, Powertools logger/metrics/tracer and its parser models), for comparison.
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
FLOOR = ("import boto3, pydantic; from aws_lambda_powertools import Logger, Metrics, Tracer; "
         "from aws_lambda_powertools.utilities.parser.models import EventBridgeModel; "
         "Logger(); Metrics(namespace='x'); Tracer(patch_modules=('botocore', 'httplib'))")
LAMBDA_ENV = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "cost-janitor-bench",
              "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
              "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13", "POWERTOOLS_TRACE_DISABLED": "false",
              "POWERTOOLS_SERVICE_NAME": "bench"}


def import_ms(module: str) -> float:
    statement = module if " " in module else f"import {module}"
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    times = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                                  env={**os.environ, **LAMBDA_ENV}).stdout.splitlines()[-1])
             for _ in range(RUNS)]
    return round(statistics.median(times), 1)


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    boto3 = import_ms("boto3")
    floor = import_ms(FLOOR)
    rows = {h: import_ms(f"cost_janitor.handlers.{h}") for h in HANDLERS}
    assets = [p for p in (ROOT / "cdk.out").glob("asset.*") if (p / "cost_janitor").is_dir()]
    result = {"import_boto3_ms": boto3, "floor_ms": floor, "floor_ratio": round(floor / boto3, 2),
              "handlers_ms": rows,
              "ratio_to_boto3": {h: round(ms / boto3, 2) for h, ms in rows.items()},
              "code_asset_bytes": size(assets[0]) if assets else None,
              "deps_layer_bytes": size(ROOT / "build" / "deps-layer")}
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results" / "cold_start.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
