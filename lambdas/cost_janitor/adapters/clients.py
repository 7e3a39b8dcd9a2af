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


@lru_cache(maxsize=1)
def _session() -> boto3.session.Session:
    """One session for every client: service models are loaded once per process (a session per client loaded them
    for each: ~70 ms a client, on every cold start), credentials resolved once. No thread makes clients."""
    return boto3.session.Session()


@lru_cache(maxsize=64)
def client(service: str, region: str | None = None) -> Any:
    """A boto3 client honouring AWS_ENDPOINT_URL (so the emulator and AWS take the same path)."""
    return _session().client(service, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]


def reset() -> None:
    """Forget cached clients and the session (tests that switch endpoints or credentials)."""
    _session.cache_clear()
    client.cache_clear()
    _assumed.cache_clear()
    own_account.cache_clear()


@lru_cache(maxsize=1)
def own_account() -> str:
    """The account these credentials are in (STS, once per container)."""
    account: str = client("sts").get_caller_identity()["Account"]
    return account


SESSION_SECONDS = 3600


def assumed(account: str, role_name: str, region: str, *, session_name: str = "cost-janitor-hub") -> Any:
    """client(service, region) in another account, through one narrow role there (STS AssumeRole). The credentials
    refresh themselves before they expire (botocore's RefreshableCredentials), so a warm container that outlives
    the session keeps working instead of failing with ExpiredToken."""
    return _assumed(account, role_name, partition(region), session_name)


@lru_cache(maxsize=32)
def _assumed(account: str, role_name: str, partition: str, session_name: str) -> Any:
    from botocore.credentials import RefreshableCredentials
    from botocore.session import get_session

    role_arn = f"arn:{partition}:iam::{account}:role/{role_name}"

    def fetch() -> dict[str, str]:
        got = client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name,
                                        DurationSeconds=SESSION_SECONDS)["Credentials"]
        return {"access_key": got["AccessKeyId"], "secret_key": got["SecretAccessKey"],
                "token": got["SessionToken"], "expiry_time": got["Expiration"].isoformat()}

    credentials = RefreshableCredentials.create_from_metadata(metadata=fetch(), refresh_using=fetch,
                                                             method="sts-assume-role")
    core = get_session()
    core._credentials = credentials  # type: ignore[attr-defined]  # botocore has no public setter; its own assume-role provider does the same
    session = boto3.session.Session(botocore_session=core)

    @lru_cache(maxsize=32)
    def client_in(service: str, region: str | None = None) -> Any:
        return session.client(service, region_name=region, config=RETRY_CONFIG)  # type: ignore[call-overload]

    return client_in
