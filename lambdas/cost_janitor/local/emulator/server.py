"""The moto server on a free loopback port (patched: strict.py), and boto3 pointed at it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from cost_janitor.local import iam_guard
from cost_janitor.local.emulator.strict import patch_all

FAKE_ACCOUNT = "123456789012"


FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class LocalAws:
    """A running moto server; `env` holds what a process needs to talk to it."""

    def __init__(self, server: Any, endpoint: str) -> None:
        self.server = server
        self.endpoint = endpoint
        self.env = {**FAKE_ENV, "AWS_ENDPOINT_URL": endpoint}
        self._credentials: dict[str, dict[str, str]] = {}
        # one botocore session for every client the test world makes: its service models are loaded once (a new
        # session per client loaded them each time: ~70 ms a client, most of an integration test's setup). A new
        # client each call, as before; a Session is not thread-safe, so making one is serialised.
        self._session = boto3.session.Session()
        self._session_lock = threading.Lock()

    def client(self, service: str, region: str = "us-east-1", *, account: str | None = None) -> Any:
        """A client in the emulator's default account, or in `account` (credentials assumed into it)."""
        keys = self.credentials(account or FAKE_ACCOUNT)
        with self._session_lock:
            made = self._session.client(  # type: ignore[call-overload]
                service, region_name=region, endpoint_url=self.endpoint, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], aws_session_token=keys["AWS_SESSION_TOKEN"])
        setattr(made, iam_guard.HARNESS, True)  # the test world acting: the IAM guard holds only the Lambdas
        return made

    def credentials(self, account: str) -> dict[str, str]:
        """Credentials (as AWS_* variables) in an account: the default account's fixed keys, or a role assumed in
        another (the emulator keeps separate state per account, chosen by the caller's access key, as AWS does)."""
        if account == FAKE_ACCOUNT:
            return {k: v for k, v in FAKE_ENV.items() if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                                "AWS_SESSION_TOKEN")}
        if account not in self._credentials:
            got = self.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/cost-janitor-emulator",
                                                 RoleSessionName="emulator")["Credentials"]
            self._credentials[account] = {"AWS_ACCESS_KEY_ID": got["AccessKeyId"],
                                          "AWS_SECRET_ACCESS_KEY": got["SecretAccessKey"],
                                          "AWS_SESSION_TOKEN": got["SessionToken"]}
        return self._credentials[account]

    def throttle(self, on: bool = True, *, services: tuple[str, ...] = ("ec2",)) -> None:
        """Request throttling on or off (strict.THROTTLING): EC2's Describe* token buckets per API, account and
        region; CloudWatch's TPS and GetMetricData data-point quotas per account and region. The server runs in this
        process, so the switch is a module flag; every bucket starts full."""
        from cost_janitor.local.emulator.strict import _CW_BUCKETS, _EC2_BUCKETS, THROTTLING

        for service in services:
            THROTTLING[service] = on
        _EC2_BUCKETS.clear()
        _CW_BUCKETS.clear()

    def reset(self) -> None:
        """Drop every resource (moto's reset API), keeping the server up."""
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")).close()
        self._credentials.clear()  # the reset forgets assumed-role keys too

    def stop(self) -> None:
        self.server.stop()


def start_moto() -> LocalAws:
    """A moto server on a free loopback port, patched to CloudWatch's real semantics."""
    from moto.server import ThreadedMotoServer

    patch_all()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return LocalAws(server, f"http://{host}:{port}")


@contextmanager
def pointed_at(aws: LocalAws) -> Iterator[None]:
    """Point boto3 (and the janitor's cached clients) at the emulator for the duration."""
    from cost_janitor.adapters import clients

    saved = {k: os.environ.get(k) for k in aws.env}
    os.environ.update(aws.env)
    clients.reset()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        clients.reset()
