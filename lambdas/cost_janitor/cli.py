"""`cost-janitor`: run the janitor's handlers and capabilities from a laptop, against AWS or the emulator.

Dry-run unless --apply. Everything honours AWS_ENDPOINT_URL / AWS_PROFILE like the Lambdas do.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cost_janitor.core.errors import AUTHORIZATION_ERRORS
from cost_janitor.core.models import Finding, Verdict
from cost_janitor.core.policy import Policy, load_policy
from cost_janitor.local.context import FakeContext

CAPABILITIES = {
    "idle_sweep": "cost_janitor.handlers.idle_sweep",
    "spot_interruption": "cost_janitor.handlers.spot_interruption",
    "storage_lifecycle": "cost_janitor.handlers.storage_lifecycle",
    "tag_compliance": "cost_janitor.handlers.tag_compliance",
    "report": "cost_janitor.handlers.report",
    "notifier": "cost_janitor.handlers.notifier",
    "slack_interactivity": "cost_janitor.handlers.slack_interactivity",
    "answers": "cost_janitor.handlers.answers",
}


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


def _quiet_powertools(verbose: bool) -> None:
    """Structured logs go to stderr (stdout is for results), warnings only unless --verbose."""
    from cost_janitor.observability import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        handler.setStream(sys.stderr)
    logger.setLevel("INFO" if verbose else "WARNING")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def _capability(name: str) -> str:
    key = name.replace("-", "_")
    if key not in CAPABILITIES:
        raise SystemExit(f"cost-janitor: unknown capability {name!r}; known: {', '.join(sorted(CAPABILITIES))}")
    return key


def cmd_invoke(args: argparse.Namespace) -> int:
    capability = _capability(args.capability)
    event = json.loads(Path(args.event_file).read_text())
    os.environ["POWERTOOLS_SERVICE_NAME"] = capability.replace("_", "-")
    os.environ["COST_JANITOR_DRY_RUN"] = "false" if args.apply else "true"
    _quiet_powertools(args.verbose)
    os.environ["AWS_REGION"] = aws_settings(args).region  # the handler reads it, as in Lambda
    module = importlib.import_module(CAPABILITIES[capability])
    sink = sys.stderr if args.verbose else io.StringIO()
    with contextlib.redirect_stdout(sink):  # EMF metrics are printed; keep stdout for the result
        result = module.lambda_handler(event, FakeContext(capability))
    print(json.dumps(result, indent=2, default=str) if args.json else _plain(result))
    return 0


def load_policy_file(path: str) -> Policy:
    """A policy JSON file, or a cdk.json whose context.policy is the policy."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and "context" in data:
        data = data["context"].get("policy", {})
    return load_policy(data)


def cmd_sweep(args: argparse.Namespace) -> int:
    from cost_janitor.capabilities import idle_sweep

    os.environ["POWERTOOLS_SERVICE_NAME"] = "idle-sweep"
    _quiet_powertools(args.verbose)
    settings = aws_settings(args)
    policy = _policy(args, settings)
    for missing, what in ((settings.findings_topic_arn, "FINDINGS_TOPIC_ARN: findings are not published"),
                          (settings.ledger_table, "LEDGER_TABLE: actions are not recorded in the ledger")):
        if not missing:
            print(f"cost-janitor: no {what}", file=sys.stderr)
    now = datetime.now(UTC)
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        report = idle_sweep.run(policy, settings, now=now, run_id=f"cli-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
                                dry_run=not args.apply, regions=args.region or None, services=args.services,
                                families=args.families)
    if denied := report.denied_everywhere():
        from cost_janitor.core.errors import AwsSetupError

        raise AwsSetupError(f"access denied in every region swept ({', '.join(f'{r}: {c}' for r, c in denied.items())})"
                            ": the credentials in use may not read EC2 instances; see the README's 'Run it from a "
                            "laptop' for the read-only permissions the CLI needs")
    if args.json:
        print(json.dumps({"summary": report.summary(),
                          "findings": [f.model_dump(mode="json", by_alias=True) for f in report.findings]}, indent=2))
    else:
        print(format_findings(report.findings))
        print()
        print(_plain(report.summary()))
    return 0


def _services(value: str) -> list[str]:
    wanted = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SERVICES))
    if not wanted or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SERVICES)} (got {', '.join(unknown) or 'none'})")
    return wanted


SERVICES = ("ec2", "sagemaker")


def _families(value: str) -> list[Any]:
    """Resource families by name (families/: every module there is one)."""
    from cost_janitor.families import every

    known = {f.name: f for f in every()}
    wanted = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(known))
    if not wanted or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(known)} (got {', '.join(unknown) or 'none'})")
    return [known[w] for w in wanted]


def cmd_restore(args: argparse.Namespace) -> int:
    """Recreate an endpoint the janitor deleted, from the EndpointConfig and tags its deletion recorded."""
    from cost_janitor.capabilities import restore

    os.environ["POWERTOOLS_SERVICE_NAME"] = "restore"
    _quiet_powertools(args.verbose)
    settings = aws_settings(args, require=("ledger_table",))
    policy = _policy(args, settings)
    actor = os.environ.get("USER") or "cli"
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        done = restore.run(args.endpoint, policy, settings, actor=f"{actor} (cli)", now=datetime.now(UTC))
    print(f"restored {args.endpoint} in {done.region} from EndpointConfig {done.evidence.get('endpoint_config')} "
          "(it takes a few minutes to come into service)")
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    """Before the first `cdk deploy`: what in this account would make the deploy fail, and what to change."""
    from cost_janitor.adapters.account import lambda_concurrency
    from cost_janitor.adapters.clients import client
    from cost_janitor.core.deploy import reservation_problem

    settings = aws_settings(args)
    limit, unreserved = lambda_concurrency(client("lambda", settings.region))
    problem = reservation_problem(args.slack_reserved_concurrency, limit=limit, unreserved=unreserved)
    if problem:
        print(f"cost-janitor: {problem}", file=sys.stderr)
        return 1
    print(f"ok: Lambda concurrency {limit} ({unreserved} unreserved) leaves room for the Slack endpoint's "
          f"{args.slack_reserved_concurrency} reserved in {settings.region}")
    return 0


def cmd_slack_manifest(args: argparse.Namespace) -> int:
    """The Slack app manifest, its Request URL read from the hub (or single-account) stack's output."""
    from cost_janitor.adapters.clients import client
    from cost_janitor.core.errors import JanitorError
    from cost_janitor.slack_manifest import OUTPUT_NAME, ManifestError, manifest

    url = args.url
    if not url:
        from cost_janitor.adapters.cloudformation import stack_outputs

        settings = aws_settings(args)
        outputs = stack_outputs(client("cloudformation", settings.region), args.stack)
        if outputs is None:
            raise JanitorError(f"no stack {args.stack!r} in {settings.region}: pass --stack (the hub's name) and "
                               "--region (where the hub is deployed)")
        url = outputs.get(OUTPUT_NAME)
        if not url:
            raise JanitorError(f"stack {args.stack!r} has no {OUTPUT_NAME} output: only a hub or single-account "
                               "stack talks to Slack; pass the hub's --stack")
    try:
        document = manifest(url, name=args.name)
    except ManifestError as exc:
        raise JanitorError(str(exc)) from None
    text = json.dumps(document, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}: api.slack.com/apps → Create New App → From an app manifest → paste it → "
              "Install; then put the bot token and signing secret in the hub's secret", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    if args.reference and args.update_readme:
        readme = Path(args.update_readme)
        start, end = "<!-- policy-reference:start -->\n", "\n<!-- policy-reference:end -->"
        text = readme.read_text()
        head, rest = text.split(start, 1)
        readme.write_text(head + start + policy_reference() + end + rest.split(end, 1)[1])
        print(f"updated the configuration reference in {readme}")
        return 0
    if args.reference:
        print(policy_reference())
        return 0
    policy = load_policy_file(args.file) if args.file else Policy()
    print(json.dumps(policy.model_dump(mode="json"), indent=2))
    return 0


def policy_reference() -> str:
    """The README's configuration reference, generated from the policy model (a test keeps them equal)."""
    from pydantic import BaseModel

    rows = ["| key | default | meaning |", "|---|---|---|"]

    def walk(model: type[BaseModel], instance: BaseModel, prefix: str) -> None:
        for name, field in model.model_fields.items():
            value = getattr(instance, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel) and name not in ("classes",):
                walk(type(value), value, key + ".")
                continue
            shown = json.dumps(value.model_dump(mode="json") if isinstance(value, BaseModel) else
                               {k: (v.model_dump(mode="json") if isinstance(v, BaseModel) else v)
                                for k, v in value.items()} if isinstance(value, dict) else value)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            rows.append(f"| `{key}` | `{shown}` | {(field.description or '').replace('|', '/')} |")

    walk(Policy, Policy(), "")
    return "\n".join(rows)


def _policy(args: argparse.Namespace, settings: Any) -> Policy:
    """--policy FILE, else the deployed parameter (POLICY_PARAMETER), else the defaults (said on stderr)."""
    from cost_janitor.runtime import load_policy_for

    if args.policy:
        return load_policy_file(args.policy)
    if settings.policy_parameter:
        return load_policy_for(settings)
    print("cost-janitor: no --policy and no POLICY_PARAMETER: using the default policy", file=sys.stderr)
    return Policy()


def cmd_storage(args: argparse.Namespace) -> int:
    from cost_janitor.adapters.clients import client
    from cost_janitor.capabilities import storage_lifecycle

    os.environ["POWERTOOLS_SERVICE_NAME"] = "storage-lifecycle"
    _quiet_powertools(args.verbose)
    settings = aws_settings(args)
    policy = _policy(args, settings)
    account = client("sts", settings.region).get_caller_identity()["Account"]
    now = datetime.now(UTC)
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        report = storage_lifecycle.run(policy, settings, now=now, run_id=f"cli-{now:%Y%m%dT%H%M%SZ}",
                                       dry_run=not args.apply, account=account, buckets=args.bucket or None,
                                       regions=args.region or None)
    if args.json:
        print(json.dumps({"summary": report.summary(), "diffs": report.diffs,
                          "findings": [f.model_dump(mode="json", by_alias=True) for f in report.findings]}, indent=2))
        return 0
    for bucket, text in report.diffs.items():
        print(f"--- {bucket}: lifecycle configuration {'(dry-run: not written)' if not args.apply else ''}")
        print(text)
        print()
    print(format_findings(report.findings))
    print()
    print(_plain(report.summary()))
    return 0


def cmd_tags(args: argparse.Namespace) -> int:
    from cost_janitor.capabilities import tag_compliance
    from cost_janitor.events import CloudTrailApiCall, parse_event

    os.environ["POWERTOOLS_SERVICE_NAME"] = "tag-compliance"
    _quiet_powertools(args.verbose)
    settings = aws_settings(args)
    policy = _policy(args, settings)
    if args.report:
        with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
            result = tag_compliance.coverage_report(policy, settings, regions=args.region or None)
        if args.json:
            print(json.dumps(result.__dict__, indent=2))
            return 0
        print(f"tag coverage over {result.resources} resources")
        for title, table in (("by required key", result.by_key), ("by team (all keys)", result.by_team),
                             ("by resource type (all keys)", result.by_type)):
            print(f"  {title}: " + ", ".join(f"{k} {v}%" for k, v in table.items()))
        for arn, missing, usd in result.top_untagged:
            print(f"  {arn}  missing {missing}" + (f"  ≈ ${usd:,.2f}/month" if usd else ""))
        return 0
    if not args.event:
        raise SystemExit("cost-janitor tags: give --event FILE or --report")
    event = parse_event(CloudTrailApiCall, json.loads(Path(args.event).read_text()))
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        findings = tag_compliance.run(event, policy, settings, dry_run=not args.apply, now=datetime.now(UTC))
    if args.json:
        print(json.dumps([f.model_dump(mode="json", by_alias=True) for f in findings], indent=2))
    else:
        print(format_findings(findings, show_busy=True) if findings else "nothing created, or nothing to check")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from cost_janitor.capabilities.report import build
    from cost_janitor.core.models import dashboard_url
    from cost_janitor.slack_blocks import digest_message, plain_text

    os.environ["POWERTOOLS_SERVICE_NAME"] = "report"
    _quiet_powertools(args.verbose)
    settings = aws_settings(args, require=("ledger_table",))
    policy = _policy(args, settings)
    weeks = args.weeks or (12 if args.html else None)  # the picture shows a quarter unless told otherwise
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        digest = build(policy, settings, now=datetime.now(UTC), weeks=weeks)
    if args.html:
        from cost_janitor.report_html import render

        Path(args.html).write_text(render(digest.document()))
        print(f"wrote {args.html}")
        return 0
    if args.json:
        print(json.dumps(digest.document(), indent=2, default=str))
        return 0
    dashboard = dashboard_url(settings.region, settings.dashboard_name) if settings.dashboard_name else None
    print(plain_text(digest_message(digest.document(), team=None, dashboard=dashboard)))
    return 0


def cmd_spot(args: argparse.Namespace) -> int:
    from cost_janitor.adapters.clients import client
    from cost_janitor.adapters.ledger import Ledger
    from cost_janitor.core.spot import KIND, checkpoints, interruption_stats

    settings = aws_settings(args, require=("ledger_table",))
    policy = load_policy_file(args.policy) if args.policy else Policy()
    entries = Ledger(client("dynamodb", settings.region), str(settings.ledger_table)).entries(KIND)
    report = interruption_stats(checkpoints(entries), policy, now=datetime.now(UTC), days=args.days)
    if args.json:
        print(json.dumps({"by_type_and_az": [s.__dict__ for s in report.by_type_and_az],
                          "suggestions": report.suggestions}, indent=2))
        return 0
    print(f"spot interruption warnings in the last {args.days} days")
    for s in report.by_type_and_az:
        print(f"  {s.instance_type:<16} {s.availability_zone:<12} {s.interruptions}")
    for line in report.suggestions or ["(no instance type was interrupted often enough to suggest a change)"]:
        print(f"  → {line}")
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    """The janitor's own monthly bill for a fleet of this size (a model: no AWS call)."""
    from cost_janitor.core.own_cost import PRICE_DATE, Fleet, estimate, total

    policy = load_policy_file(args.policy) if args.policy else Policy()
    gpu = args.gpu_instances if args.gpu_instances is not None else args.instances // 3
    fleet = Fleet(instances=args.instances, gpu_instances=gpu, gpus_per_box=args.gpus_per_box,
                  regions=args.regions, endpoints=args.endpoints, neuron_instances=args.neuron_instances,
                  neuron_cores_per_box=args.neuron_cores_per_box)
    items = estimate(fleet, policy)
    if args.json:
        print(json.dumps({"fleet": fleet.__dict__, "price_date": PRICE_DATE, "monthly_usd": total(items),
                          "items": [i.__dict__ for i in items]}, indent=2))
        return 0
    print(f"cost-janitor's own cost for {fleet.instances:,} instances ({gpu:,} with {args.gpus_per_box:g} GPUs), "
          f"{fleet.regions} region(s) — list prices of {PRICE_DATE}, free tiers left out")
    for i in items:
        print(f"  {i.name:<32} ${i.monthly_usd:>10,.2f}/month   {i.basis}")
    print(f"  {'total':<32} ${total(items):>10,.2f}/month")
    return 0


def format_findings(findings: Sequence[Finding], *, show_busy: bool = False,
                    names: dict[str, str] | None = None) -> str:
    """A table a person reads: one line per instance (or its `names` entry), most expensive first."""
    rows = [f for f in findings if show_busy or f.verdict != Verdict.BUSY]
    rows.sort(key=lambda f: (-(f.monthly_usd or 0), str(f.verdict), f.resource_id))
    lines = [f"{'resource':<21} {'type':<15} {'env':<5} {'verdict':<19} {'action':<28} {'$/month':>10}  reason"]
    for f in rows:
        action = f"{f.action}" + (f" [{f.action_status}]" if f.action_status else "") if f.action else "-"
        dollars = f"{f.monthly_usd:,.2f}" if f.monthly_usd is not None else ("unknown" if f.price_source else "-")
        name = (names or {}).get(f.resource_id, f.resource_id)[:21]
        lines.append(f"{name:<21} {f.type_label:<15} {f.environment:<5} {f.verdict!s:<19} {action:<28} "
                     f"{dollars:>10}  {f.reason}")
        lines += [f"{'':<21} note: {n}" for n in f.notes]
    busy = len(findings) - len(rows)
    if busy and not show_busy:
        lines.append(f"(+ {busy} busy instance(s) not shown)")
    return "\n".join(lines)


def _plain(result: Any) -> str:
    if not isinstance(result, dict):
        return str(result)
    return "\n".join(f"{k}: {json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}"
                     for k, v in result.items())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cost-janitor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="structured logs (INFO) and metrics on stderr")
    sub = p.add_subparsers(dest="command", required=True)
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--profile", help="AWS profile from ~/.aws/config (default: AWS_PROFILE, else 'default')")

    invoke = sub.add_parser("invoke", parents=[aws], help="run a handler in-process exactly as Lambda would")
    invoke.add_argument("capability", help=f"one of: {', '.join(sorted(CAPABILITIES))}")
    invoke.add_argument("event_file", help="an event JSON file (see events/)")
    invoke.add_argument("--apply", action="store_true", help="act for real (default: dry-run)")
    invoke.add_argument("--json", action="store_true", help="machine-readable output")
    invoke.set_defaults(func=cmd_invoke)

    sweep = sub.add_parser("sweep", parents=[aws], help="the nightly idle sweep, now")
    sweep.add_argument("--region", action="append", help="region to sweep (repeatable; default: the policy's)")
    sweep.add_argument("--policy", help="policy JSON or cdk.json (default: POLICY_PARAMETER, else defaults)")
    sweep.add_argument("--apply", action="store_true", help="act for real (default: dry-run)")
    sweep.add_argument("--json", action="store_true", help="machine-readable output")
    sweep.add_argument("--services", type=_services, default=None, metavar="ec2,sagemaker",
                       help="what to sweep (default: the policy's idle.services)")
    sweep.add_argument("--families", type=_families, default=None, metavar="ec2-instances,addresses,...",
                       help="sweep exactly these resource families (default: those the services turn on)")
    sweep.set_defaults(func=cmd_sweep)

    restore = sub.add_parser("restore", parents=[aws],
                             help="recreate a SageMaker endpoint the janitor deleted, exactly as it was")
    restore.add_argument("endpoint", help="the endpoint's name")
    restore.add_argument("--region", action="append", help="the region of the janitor's ledger (default: the "
                                                           "profile's); the endpoint comes back where it was")
    restore.add_argument("--policy", help="policy JSON or cdk.json (default: POLICY_PARAMETER, else defaults)")
    restore.set_defaults(func=cmd_restore)

    storage = sub.add_parser("storage", parents=[aws],
                             help="the weekly storage run, now: lifecycle, volumes, snapshots, logs")
    storage.add_argument("--bucket", action="append", help="only this bucket (repeatable)")
    storage.add_argument("--region", action="append", help="region for volumes, snapshots, logs (repeatable)")
    storage.add_argument("--policy", help="policy JSON or cdk.json (default: POLICY_PARAMETER, else defaults)")
    storage.add_argument("--apply", action="store_true", help="act for real (default: dry-run, diffs printed)")
    storage.add_argument("--json", action="store_true")
    storage.set_defaults(func=cmd_storage)

    tags = sub.add_parser("tags", parents=[aws], help="check a creation event's resources now, or report tag coverage")
    tags.add_argument("--event", help="an 'AWS API Call via CloudTrail' event file (see events/cloudtrail/)")
    tags.add_argument("--report", action="store_true", help="tag coverage per key, team and resource type")
    tags.add_argument("--region", action="append", help="region for --report (repeatable)")
    tags.add_argument("--policy", help="policy JSON or cdk.json (default: POLICY_PARAMETER, else defaults)")
    tags.add_argument("--apply", action="store_true", help="write the created-by tag (default: dry-run)")
    tags.add_argument("--json", action="store_true")
    tags.set_defaults(func=cmd_tags)

    report = sub.add_parser("report", parents=[aws], help="the weekly digest, now: realized savings and the rest")
    report.add_argument("--weeks", type=int, default=None, help="weeks of savings (default: the policy's)")
    report.add_argument("--region", action="append", help="the region of the janitor's ledger (default: the profile's)")
    report.add_argument("--policy", help="policy JSON or cdk.json (default: POLICY_PARAMETER, else defaults)")
    report.add_argument("--json", action="store_true")
    report.add_argument("--html", metavar="FILE", help="write the report as one self-contained HTML page, with "
                                                       "charts (12 weeks unless --weeks)")
    report.set_defaults(func=cmd_report)

    spot = sub.add_parser("spot", parents=[aws], help="spot interruption statistics from the ledger")
    spot.add_argument("--days", type=int, default=30)
    spot.add_argument("--region", action="append", help="the region of the janitor's ledger (default: the profile's)")
    spot.add_argument("--policy", help="policy JSON or cdk.json (default: the defaults)")
    spot.add_argument("--json", action="store_true")
    spot.set_defaults(func=cmd_spot)

    cost = sub.add_parser("cost", help="what cost-janitor itself costs a month for a fleet of this size")
    cost.add_argument("--instances", type=int, default=1000)
    cost.add_argument("--gpu-instances", type=int, default=None, help="default: a third of the instances")
    cost.add_argument("--gpus-per-box", type=float, default=4)
    cost.add_argument("--regions", type=int, default=1)
    cost.add_argument("--endpoints", type=int, default=0, help="SageMaker real-time endpoints swept")
    cost.add_argument("--neuron-instances", type=int, default=0, help="Inferentia/Trainium boxes with the pusher")
    cost.add_argument("--neuron-cores-per-box", type=float, default=2)
    cost.add_argument("--policy", help="policy JSON or cdk.json (its schedules; default: the defaults)")
    cost.add_argument("--json", action="store_true")
    cost.set_defaults(func=cmd_cost)

    preflight = sub.add_parser("preflight", parents=[aws],
                               help="before `cdk deploy`: would this account's limits make the deploy fail?")
    preflight.add_argument("--region", action="append", help="the region you deploy to (default: the profile's)")
    preflight.add_argument("--slack-reserved-concurrency", type=int, default=5,
                           help="cdk.json's slack_reserved_concurrency (default 5; 0: none)")
    preflight.set_defaults(func=cmd_preflight)

    slack = sub.add_parser("slack-manifest", parents=[aws],
                           help="the Slack app manifest, with the Request URL from the hub stack's output")
    slack.add_argument("--stack", default="CostJanitor",
                       help="the hub (or single-account) stack's name (default: CostJanitor)")
    slack.add_argument("--region", action="append", help="where that stack is (default: the profile's)")
    slack.add_argument("--url", help="the Request URL itself (no AWS call)")
    slack.add_argument("--name", default="cost-janitor", help="the app's and its bot's name in Slack")
    slack.add_argument("--out", metavar="FILE", help="write the manifest here (default: stdout)")
    slack.set_defaults(func=cmd_slack_manifest)

    policy = sub.add_parser("policy", help="validate and print a policy, or print its reference")
    policy.add_argument("file", nargs="?", help="policy JSON or cdk.json to validate (default: the defaults)")
    policy.add_argument("--reference", action="store_true", help="the configuration reference as Markdown")
    policy.add_argument("--update-readme", metavar="README", help="with --reference: rewrite it in README")
    policy.set_defaults(func=cmd_policy)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from cost_janitor.core.errors import JanitorError
    from cost_janitor.core.policy import PolicyError

    try:
        code: int = args.func(args)
    except (JanitorError, PolicyError) as exc:
        print(f"cost-janitor: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        problem = aws_problem(exc)
        if problem is None:
            raise
        print(f"cost-janitor: {problem}", file=sys.stderr)
        return 3
    return code


if __name__ == "__main__":
    sys.exit(main())
