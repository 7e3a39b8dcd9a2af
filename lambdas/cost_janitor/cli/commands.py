"""The CLI's commands: each runs a handler or a capability the way its Lambda does, dry-run unless --apply."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from cost_janitor.cli.aws import aws_settings, quiet_powertools
from cost_janitor.cli.output import format_findings, plain
from cost_janitor.cli.policy import load_policy_file, policy_for
from cost_janitor.core.policy import Policy, Service
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


def capability_module(name: str) -> str:
    key = name.replace("-", "_")
    if key not in CAPABILITIES:
        raise SystemExit(f"cost-janitor: unknown capability {name!r}; known: {', '.join(sorted(CAPABILITIES))}")
    return key


def cmd_invoke(args: argparse.Namespace) -> int:
    capability = capability_module(args.capability)
    event = json.loads(Path(args.event_file).read_text())
    os.environ["POWERTOOLS_SERVICE_NAME"] = capability.replace("_", "-")
    os.environ["COST_JANITOR_DRY_RUN"] = "false" if args.apply else "true"
    quiet_powertools(args.verbose)
    os.environ["AWS_REGION"] = aws_settings(args).region  # the handler reads it, as in Lambda
    module = importlib.import_module(CAPABILITIES[capability])
    sink = sys.stderr if args.verbose else io.StringIO()
    with contextlib.redirect_stdout(sink):  # EMF metrics are printed; keep stdout for the result
        result = module.lambda_handler(event, FakeContext(capability))
    print(json.dumps(result, indent=2, default=str) if args.json else plain(result))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from cost_janitor.capabilities import idle_sweep

    os.environ["POWERTOOLS_SERVICE_NAME"] = "idle-sweep"
    quiet_powertools(args.verbose)
    settings = aws_settings(args)
    policy = policy_for(args, settings)
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
        print(plain(report.summary()))
    return 0


def services_arg(value: str) -> list[str]:
    wanted = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SERVICES))
    if not wanted or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SERVICES)} (got {', '.join(unknown) or 'none'})")
    return wanted


SERVICES: tuple[str, ...] = get_args(Service)  # the policy's idle.services values


def families_arg(value: str) -> list[Any]:
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
    quiet_powertools(args.verbose)
    settings = aws_settings(args, require=("ledger_table",))
    policy = policy_for(args, settings)
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


STORAGE_FAMILIES: tuple[str, ...] = ("efs", "ecr", "fsx", "amis")  # the storage services swept as families
STORAGE_SERVICES: tuple[str, ...] = ("lifecycle", *STORAGE_FAMILIES)  # lifecycle: buckets, volumes, snapshots, logs


def storage_services_arg(value: str) -> list[str]:
    wanted = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(STORAGE_SERVICES))
    if not wanted or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(STORAGE_SERVICES)} "
                                         f"(got {', '.join(unknown) or 'none'})")
    return wanted


def cmd_storage(args: argparse.Namespace) -> int:
    """The weekly storage run (S3 lifecycle, volumes, snapshots, logs) and, with --services, the storage families
    (EFS, ECR, FSx, AMIs), which the deployed stack runs in its nightly sweep when idle.services names them."""
    services = args.services or ["lifecycle"]
    families = [s for s in services if s in STORAGE_FAMILIES]
    settings = aws_settings(args)
    policy = policy_for(args, settings)
    quiet_powertools(args.verbose)
    out: dict[str, Any] = {}
    if "lifecycle" in services:
        out.update(_lifecycle(args, settings, policy))
    if families:
        out.update(_storage_families(args, settings, policy, families))
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


def _lifecycle(args: argparse.Namespace, settings: Any, policy: Policy) -> dict[str, Any]:
    from cost_janitor.adapters.clients import client
    from cost_janitor.capabilities import storage_lifecycle

    os.environ["POWERTOOLS_SERVICE_NAME"] = "storage-lifecycle"
    account = client("sts", settings.region).get_caller_identity()["Account"]
    now = datetime.now(UTC)
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        report = storage_lifecycle.run(policy, settings, now=now, run_id=f"cli-{now:%Y%m%dT%H%M%SZ}",
                                       dry_run=not args.apply, account=account, buckets=args.bucket or None,
                                       regions=args.region or None)
    if args.json:
        return {"summary": report.summary(), "diffs": report.diffs,
                "findings": [f.model_dump(mode="json", by_alias=True) for f in report.findings]}
    for bucket, text in report.diffs.items():
        print(f"--- {bucket}: lifecycle configuration {'(dry-run: not written)' if not args.apply else ''}")
        print(text)
        print()
    print(format_findings(report.findings))
    print()
    print(plain(report.summary()))
    return {}


def _storage_families(args: argparse.Namespace, settings: Any, policy: Policy, services: list[str]) -> dict[str, Any]:
    """The storage families, as the nightly sweep runs them (dry-run unless --apply): the JSON's "families" key."""
    from cost_janitor.capabilities import idle_sweep

    os.environ["POWERTOOLS_SERVICE_NAME"] = "idle-sweep"
    now = datetime.now(UTC)
    with contextlib.redirect_stdout(sys.stderr if args.verbose else io.StringIO()):
        report = idle_sweep.run(policy, settings, now=now, run_id=f"cli-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
                                dry_run=not args.apply, regions=args.region or None, services=services)
    if args.json:
        return {"families": {"summary": report.summary(),
                             "findings": [f.model_dump(mode="json", by_alias=True) for f in report.findings]}}
    print(f"--- storage families: {', '.join(report.families)}")
    print(format_findings(report.findings))
    print()
    print(plain(report.summary()))
    return {}


def cmd_tags(args: argparse.Namespace) -> int:
    from cost_janitor.capabilities import tag_compliance
    from cost_janitor.events import CloudTrailApiCall, parse_event

    os.environ["POWERTOOLS_SERVICE_NAME"] = "tag-compliance"
    quiet_powertools(args.verbose)
    settings = aws_settings(args)
    policy = policy_for(args, settings)
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
    quiet_powertools(args.verbose)
    settings = aws_settings(args, require=("ledger_table",))
    policy = policy_for(args, settings)
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


def cmd_prices(args: argparse.Namespace) -> int:
    """The price the findings use, with its source and date: the offline table (no AWS call), and with --price-list
    the AWS Price List API where the table has none, as the sweep asks it. An unknown one says why. Exit 1 when
    there is none, so a script can tell."""
    from cost_janitor.adapters.pricing import RATES
    from cost_janitor.core.pricing import Price, PriceBook, instance_price, ml_price

    ml, rate = args.instance_type.startswith("ml."), args.instance_type in RATES
    lookup: Callable[[str, str, PriceBook | None], Price] = (
        _offline_rate if rate else ml_price if ml else instance_price)
    price = lookup(args.instance_type, args.region, None)
    unit = RATES[args.instance_type].unit if rate else "hour"
    if price.hourly_usd is None and args.price_list:
        from cost_janitor.adapters.clients import client, reset
        from cost_janitor.adapters.pricing import PriceList

        if args.profile:
            os.environ["AWS_PROFILE"] = args.profile
            reset()
        reader = PriceList(client("pricing", "us-east-1"))  # the Price List API's endpoint for every region's prices
        pair = (args.instance_type, args.region)
        book = reader.rates([pair]) if rate else reader.sagemaker_hosting([pair]) if ml else reader.ec2([pair])
        price = lookup(args.instance_type, args.region, book)
        if price.hourly_usd is None:
            price = type(price)(None, f"{price.source}; the Price List API has no single on-demand price for it")
    if args.json:
        print(json.dumps({"region": args.region, "type": args.instance_type, "hourly_usd": price.hourly_usd,
                          "monthly_usd": price.monthly_usd, "source": price.source}, indent=2))
    elif price.hourly_usd is None:
        print(f"{args.instance_type} in {args.region}: no price — {price.source}")
    elif rate:
        print(f"{args.instance_type} in {args.region}: ${price.hourly_usd:g} per {unit} — {price.source}")
    else:
        print(f"{args.instance_type} in {args.region}: ${price.hourly_usd:g}/hour, ${price.monthly_usd:,.2f}/month "
              f"— {price.source}")
    return 0 if price.hourly_usd is not None else 1


def _offline_rate(name: str, region: str, book: Mapping[tuple[str, str], Any] | None) -> Any:
    """A unit rate of adapters/pricing.RATES as the family that uses it reads it: its offline table, then `book`."""
    from cost_janitor.core.ecr import storage_rate
    from cost_janitor.core.efs import standard_rate
    from cost_janitor.core.network import nat_rate
    from cost_janitor.core.storage import ebs_rate, logs_rate, s3_rate

    kind = name.split(":", 1)[0]
    if kind in ("ebs", "nat"):
        return (ebs_rate if kind == "ebs" else nat_rate)(name, region, book)
    if kind == "s3":
        return s3_rate(name.split(":", 1)[1], region, book)
    return {"efs": standard_rate, "ecr": storage_rate, "logs": logs_rate}[kind](region, book)


def cmd_cost(args: argparse.Namespace) -> int:
    """The janitor's own monthly bill for a fleet of this size (a model: no AWS call)."""
    from cost_janitor.core.own_cost import PRICE_DATE, Fleet, estimate, total, unpriced

    policy = load_policy_file(args.policy) if args.policy else Policy()
    gpu = args.gpu_instances if args.gpu_instances is not None else args.instances // 3
    fleet = Fleet(instances=args.instances, gpu_instances=gpu, gpus_per_box=args.gpus_per_box,
                  regions=args.regions, endpoints=args.endpoints, neuron_instances=args.neuron_instances,
                  neuron_cores_per_box=args.neuron_cores_per_box, eks_nodes=args.eks_nodes, eks_pods=args.eks_pods,
                  nat_gateways=args.nat_gateways)
    items = estimate(fleet, policy)
    if args.json:
        print(json.dumps({"fleet": fleet.__dict__, "price_date": PRICE_DATE, "monthly_usd": total(items),
                          "items": [i.__dict__ for i in items], "unpriced": unpriced(fleet)}, indent=2))
        return 0
    print(f"cost-janitor's own cost for {fleet.instances:,} instances ({gpu:,} with {args.gpus_per_box:g} GPUs), "
          f"{fleet.regions} region(s) — list prices of {PRICE_DATE}, free tiers left out")
    for i in items:
        print(f"  {i.name:<32} ${i.monthly_usd:>10,.2f}/month   {i.basis}")
    print(f"  {'total':<32} ${total(items):>10,.2f}/month")
    for note in unpriced(fleet):
        print(f"  unpriced: {note}")
    return 0
