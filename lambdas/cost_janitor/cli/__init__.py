"""`cost-janitor`: run the janitor's handlers and capabilities from a laptop, against AWS or the emulator.

Dry-run unless --apply. Everything honours AWS_ENDPOINT_URL / AWS_PROFILE like the Lambdas do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cost_janitor.cli.aws import aws_problem
from cost_janitor.cli.commands import (
    CAPABILITIES,
    cmd_cost,
    cmd_invoke,
    cmd_preflight,
    cmd_prices,
    cmd_report,
    cmd_restore,
    cmd_slack_manifest,
    cmd_spot,
    cmd_storage,
    cmd_sweep,
    cmd_tags,
    families_arg,
    services_arg,
    storage_services_arg,
)
from cost_janitor.cli.policy import cmd_policy


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
    sweep.add_argument("--services", type=services_arg, default=None, metavar="ec2,sagemaker,eks,network",
                       help="what to sweep, in place of the policy's idle.services (default: those)")
    sweep.add_argument("--families", type=families_arg, default=None, metavar="ec2-instances,addresses,...",
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
    storage.add_argument("--services", type=storage_services_arg, default=None, metavar="lifecycle,efs,ecr,fsx,amis",
                         help="what to run (default: lifecycle, the weekly run); efs, ecr, fsx and amis run those "
                              "families as the nightly sweep does")
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
    cost.add_argument("--eks-nodes", type=int, default=0, help="EKS GPU nodes the EKS family judges")
    cost.add_argument("--eks-pods", type=int, default=0, help="pods of those clusters")
    cost.add_argument("--nat-gateways", type=int, default=0, help="NAT gateways the network family reads")
    cost.add_argument("--neuron-cores-per-box", type=float, default=2)
    cost.add_argument("--policy", help="policy JSON or cdk.json (its schedules; default: the defaults)")
    cost.add_argument("--json", action="store_true")
    cost.set_defaults(func=cmd_cost)

    prices = sub.add_parser("prices", help="the price the janitor uses for an instance type in a region, with its "
                            "source and date (or why it has none)")
    prices.add_argument("--region", required=True)
    prices.add_argument("--type", required=True, dest="instance_type", help="an EC2 type (g5.xlarge), a SageMaker "
                        "one (ml.g5.xlarge), or a storage/network rate: ebs:gp3, ebs:snapshot, efs:standard, "
                        "ecr:storage, nat:hours, nat:bytes")
    prices.add_argument("--price-list", action="store_true", help="where the offline table has none, ask the AWS "
                        "Price List API (pricing:GetProducts) as the sweep does")
    prices.add_argument("--profile", help="AWS profile for --price-list (default: AWS_PROFILE, else 'default')")
    prices.add_argument("--json", action="store_true")
    prices.set_defaults(func=cmd_prices)

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
