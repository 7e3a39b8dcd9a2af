"""One night of one resource family on an empty emulator, for the family benchmarks (bench/network.py, efs.py,
ecr.py, fsx.py, amis.py): seeded, the janitor deployed with the policy, one dry-run sweep of that family alone."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


def one_night(family_name: str, policy: dict[str, Any],
              seed: Callable[[Any, datetime], float]) -> tuple[float, float, Any, dict[str, int]]:
    """(seeding seconds, sweep seconds, the sweep's report, the family's calls without their prefix). The night runs
    five past the hour `seed` is given (the seeded series end there)."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.core.policy import Policy
    from cost_janitor.families import every
    from cost_janitor.local.emulator import deploy_janitor_resources, pointed_at, start_moto
    from cost_janitor.settings import Settings

    [family] = [f for f in every() if f.name == family_name]
    aws = start_moto()
    aws.reset()  # the emulator's state lives in the process: a second size starts from an empty account
    try:
        with pointed_at(aws):
            end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            seeding_s = seed(aws, end)
            janitor_policy = Policy.model_validate(policy)
            deploy_janitor_resources(aws, janitor_policy)
            started = time.perf_counter()
            report = idle_sweep.run(janitor_policy, Settings.from_env(), now=end + timedelta(minutes=5),
                                    run_id="bench", dry_run=True, families=[family])
            wall = round(time.perf_counter() - started, 1)
    finally:
        aws.stop()
    prefix = f"{family_name}:"
    calls = {k.removeprefix(prefix): v for k, v in sorted(report.api_calls.items()) if k.startswith(prefix)}
    return seeding_s, wall, report, calls
