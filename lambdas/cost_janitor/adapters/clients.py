"""The only place that builds boto3 clients: standard retries made adaptive, cached per service and region."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from cost_janitor import __version__
from cost_janitor.core.models import partition

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
    _assumed.cache_clear()
    own_account.cache_clear()


@lru_cache(maxsize=1)
def own_account() -> str:
    """The account these credentials are in (STS, once per container)."""
    account: str = client("sts").get_caller_identity()["Account"]
    return account


def assumed(account: str, role_name: str, region: str, *, session_name: str = "cost-janitor-hub") -> Any:
    """client(service, region) in another account, through one narrow role there (STS AssumeRole, one call per
    account and Lambda container: the session lasts an hour, far longer than an answer)."""
    return _assumed(account, role_name, partition(region), session_name)


@lru_cache(maxsize=32)
def _assumed(account: str, role_name: str, partition: str, session_name: str) -> Any:
    got = client("sts").assume_role(RoleArn=f"arn:{partition}:iam::{account}:role/{role_name}",
                                    RoleSessionName=session_name, DurationSeconds=3600)["Credentials"]
    session = boto3.session.Session(aws_access_key_id=got["AccessKeyId"], aws_secret_access_key=got["SecretAccessKey"],
                                    aws_session_token=got["SessionToken"])

    @lru_cache(maxsize=32)
    def client_in(service: str, region: str | None = None) -> Any:
        return session.client(service, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]

    return client_in
