"""The only place that builds boto3 clients: standard retries made adaptive, cached per service and region."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from cost_janitor import __version__

RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=30,
    user_agent_appid=f"cost-janitor/{__version__}",  # type: ignore[call-arg]  # botocore has it; stubs lag
)


@lru_cache(maxsize=64)
def client(service: str, region: str | None = None) -> Any:
    """A boto3 client honouring AWS_ENDPOINT_URL (so the emulator and AWS take the same path)."""
    return boto3.session.Session().client(service, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]


def reset() -> None:
    """Forget cached clients (tests that switch endpoints or credentials)."""
    client.cache_clear()
