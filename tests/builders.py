"""Test builders: realistic defaults, overridden by keyword (make_instance(instance_type="p4d.24xlarge"))."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cost_janitor.core.models import Instance, Series, Usage

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HOURS = 168  # 7 days of hourly points
MB = 1024 * 1024


def make_instance(**overrides: Any) -> Instance:
    values: dict[str, Any] = {
        "instance_id": "i-0123456789abcdef0",
        "region": "us-east-1",
        "account": "123456789012",
        "instance_type": "m5.xlarge",
        "launch_time": NOW - timedelta(days=30),
        "tags": {"environment": "dev", "owner": "ana@example.com", "team": "vision"},
    }
    values.update(overrides)
    return Instance(**values)


def series(value: float | list[float], points: int = HOURS) -> Series:
    """`points` hourly values at the end of the 7-day window; a list is used as is (oldest first)."""
    values = value if isinstance(value, list) else [value] * points
    return Series.of((HOURS - len(values) + n, float(v)) for n, v in enumerate(values))


def make_usage(*, cpu: float | Series = 1.0, net_mb_per_hour: float = 0.1, gpus: list[float] | None = None,
               gpu_memory: list[float] | None = None, points: int = HOURS) -> Usage:
    """Usage with every signal read: hourly CPU %, network (split evenly in/out), and per-GPU max %."""
    cpu_series = cpu if isinstance(cpu, Series) else series(cpu, points)
    half = net_mb_per_hour * MB / 2
    gpu_list = gpus or []
    return Usage(
        cpu=cpu_series,
        network_in=series(half, points),
        network_out=series(half, points),
        gpu_util=tuple(series(g, points) for g in gpu_list),
        gpu_memory=tuple(series(m, points) for m in (gpu_memory or [0.0] * len(gpu_list))),
    )
