"""The CLI's AWS session: the profile/region/endpoint it runs with, and one clear sentence for each way AWS refuses
it (expired or missing credentials, access denied)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from cost_janitor.core.errors import AUTHORIZATION_ERRORS

EXPIRED_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
                 "UnrecognizedClientException", "InvalidToken", "TokenRefreshRequired"}


HOW_TO_SIGN_IN = ("pass --profile NAME, set AWS_PROFILE, run `aws configure` or `aws sso login`, or export "
                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


def aws_settings(args: argparse.Namespace, *, require: tuple[str, ...] = ()) -> Any:
    """Settings for a command that talks to AWS, resolved as the AWS CLI resolves them: --profile (else
    AWS_PROFILE, else the default profile); the region from --region, then AWS_REGION / AWS_DEFAULT_REGION,
    then the profile in ~/.aws/config. The credentials are checked once (STS) so a missing or expired one is one
    clear line, not a traceback half-way through a run."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    from cost_janitor.adapters.clients import client, reset
    from cost_janitor.core.errors import AwsSetupError
    from cost_janitor.settings import Settings

    if getattr(args, "profile", None):
        os.environ["AWS_PROFILE"] = args.profile
        reset()
    try:
        session = boto3.session.Session()
    except ProfileNotFound as exc:
        raise AwsSetupError(f"{exc}; profiles live in ~/.aws/config (see `aws configure list-profiles`)") from None
    region = (getattr(args, "region", None) or [None])[0] or os.environ.get("AWS_REGION") or session.region_name
    if not region:
        raise AwsSetupError("no AWS region: pass --region, set AWS_REGION, or set `region` for your profile in "
                            "~/.aws/config")
    settings = Settings.from_env(require=require, env={**os.environ, "AWS_REGION": region})
    client("sts", region).get_caller_identity()
    return settings


def aws_problem(exc: BaseException) -> str | None:
    """One line for what a user can fix in their AWS setup; None for anything else (a bug: the traceback stays)."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        SSOError,
        TokenRetrievalError,
    )

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return f"no AWS credentials found ({exc}): {HOW_TO_SIGN_IN}"
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return (f"cannot reach AWS ({exc}): check the network or proxy, the region, and AWS_ENDPOINT_URL if it is "
                "set")
    if isinstance(exc, (TokenRetrievalError, SSOError)):
        return f"your AWS SSO session has expired or is not signed in ({exc}): run `aws sso login` and try again"
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        operation = exc.operation_name
        if code in EXPIRED_CODES:
            return (f"your AWS credentials were refused ({code} on {operation}): they have expired or are not "
                    f"valid; refresh them ({HOW_TO_SIGN_IN})")
        if code in AUTHORIZATION_ERRORS:
            return (f"access denied ({code} on {operation}): the credentials in use may not do this; see the "
                    "README's 'Run it from a laptop' for the read-only permissions the CLI needs")
    return None


def quiet_powertools(verbose: bool) -> None:
    """Structured logs go to stderr (stdout is for results), warnings only unless --verbose."""
    from cost_janitor.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    logger.setLevel("INFO" if verbose else "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
