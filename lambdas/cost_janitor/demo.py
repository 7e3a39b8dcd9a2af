"""`make demo`: the janitor against an embedded AWS emulator seeded with a small ML account.

Starts a moto server, creates the janitor's own resources the way the stack does, seeds instances, buckets
and a week of metrics, then runs the nightly Lambda and two nights of the sweep, printing what people see.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from cost_janitor.core.policy import Policy

DEV = {"environment": "dev", "team": "vision", "project": "detector", "cost-center": "cc-1001"}
PROD = {"environment": "prod", "team": "search", "project": "ranker", "cost-center": "cc-2002"}


def _title(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 100 - len(text)))


def seed_account(aws: Any, end: datetime) -> dict[str, str]:
    """A small but realistic ML account; returns instance ids by name."""
    from cost_janitor.emulator import MetricSeeder, launch, seed_instance_metrics

    ec2 = aws.client("ec2")
    seeder = MetricSeeder(aws.client("cloudwatch"))
    week = 9 * 24
    fleet: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
        ("gpu-dev-idle-week", "g5.2xlarge", {**DEV, "owner": "ana@example.com"},
         {"cpu": 1.2, "gpus": [(0.0, 0.0)]}),
        ("gpu-training-run", "p4d.24xlarge", {**DEV, "owner": "cy@example.com", "team": "llm"},
         {"cpu": 3.5, "gpus": [(96.0, 71.0)] * 8}),
        ("cpu-notebook-idle", "m5.2xlarge", {**DEV, "owner": "ana@example.com"}, {"cpu": 0.9}),
        ("prod-inference-idle", "g5.xlarge", {**PROD, "owner": "bo@example.com"},
         {"cpu": 0.6, "gpus": [(1.5, 2.0)]}),
        ("brand-new-box", "g6.xlarge", {**DEV, "owner": "di@example.com"},
         {"cpu": 30.0, "gpus": [(40.0, 20.0)], "hours": 2}),
        ("gpu-without-agent", "g4dn.xlarge", {**DEV, "owner": "ed@example.com"}, {"cpu": 0.4}),
        ("kept-for-demo-day", "g5.xlarge", {**DEV, "owner": "fa@example.com",
                                            "cost-janitor:keep-until": (end + timedelta(days=10)).date().isoformat(),
                                            "cost-janitor:keep-reason": "customer demo on Friday"},
         {"cpu": 0.3, "gpus": [(0.0, 0.0)]}),
        ("web-frontend", "c5.xlarge", {**PROD, "owner": "gi@example.com", "team": "web"}, {"cpu": 38.0}),
    ]
    ids = {}
    for name, instance_type, tags, usage in fleet:
        ids[name] = launch(ec2, instance_type, {"Name": name, **tags})
        seed_instance_metrics(seeder, ids[name], end=end, hours=usage.pop("hours", week), **usage)
    seeder.flush()
    s3 = aws.client("s3")
    for bucket, profile in (("acme-ml-training-data", "ml"), ("acme-ml-experiments", "ml")):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
            {"Key": "cost-janitor:lifecycle-profile", "Value": profile}, *({"Key": k, "Value": v}
                                                                            for k, v in DEV.items())]})
    return ids


def main() -> int:
    from cost_janitor.cli import FakeContext, _quiet_powertools, format_findings
    from cost_janitor.emulator import deploy_janitor_resources, pointed_at, start_moto, subscribe_queue

    policy = Policy()
    print("cost-janitor demo — an embedded AWS emulator (moto server) seeded with a small ML account.")
    print("Nothing here touches a real AWS account.")
    aws = start_moto()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with pointed_at(aws):
        os.environ.update(deploy_janitor_resources(aws, policy))
        os.environ["POWERTOOLS_SERVICE_NAME"] = "idle-sweep"
        _quiet_powertools(verbose=False)
        from cost_janitor.handlers.idle_sweep import lambda_handler, sweep
        from cost_janitor.settings import Settings

        ids = seed_account(aws, end)
        names = {v: k for k, v in ids.items()}
        tap = subscribe_queue(aws, os.environ["FINDINGS_TOPIC_ARN"])
        _title(f"Account seeded at {aws.endpoint}")
        print(f"{len(ids)} running instances with 9 days of hourly CloudWatch metrics (GPU series from the "
              "CloudWatch agent where installed), 2 ML buckets.")
        for name, iid in ids.items():
            print(f"  {iid}  {name}")

        _title("1. The nightly Lambda, as deployed (policy dry_run=true): cost_janitor.handlers.idle_sweep")
        event = json.loads(_event_text())
        with contextlib.redirect_stdout(io.StringIO()):
            summary = lambda_handler(event, FakeContext("idle_sweep"))
        print(json.dumps({k: summary[k] for k in ("dry_run", "instances", "verdicts", "actions",
                                                  "estimated_monthly_usd", "api_calls")}, indent=2))

        settings = Settings.from_env()
        for n, label in ((0, "first night: idle dev boxes are tagged and their owners told"),
                         (1, "second night: metrics read again, still idle past the 24 h grace → stopped")):
            now = end - timedelta(days=1 - n, minutes=-5)
            _title(f"2.{n + 1} Sweep with --apply, {label} ({now:%Y-%m-%d %H:%M} UTC)")
            with contextlib.redirect_stdout(io.StringIO()):
                report = sweep(policy, settings, now=now, run_id=f"demo-night-{n + 1}", dry_run=False)
            print(format_findings(report.findings, names=names))
            print(f"estimated savings from idle instances: ${report.summary()['estimated_monthly_usd']:,.2f}/month "
                  f"(on-demand list prices; table date in each finding)")

        _title("3. What an email subscriber of the findings topic received (first message, from step 1)")
        messages = aws.client("sqs").receive_message(QueueUrl=tap, MaxNumberOfMessages=10)["Messages"]
        body = json.loads(messages[0]["Body"])
        print(f"{len(body['findings'])} finding(s) in schema {body['schema']}; the email rendering of the same "
              "message reads:")
        from cost_janitor.adapters.sns import render_messages
        from cost_janitor.core.models import Finding
        [(_, _subject, text)] = render_messages([Finding.model_validate(f) for f in body["findings"]][:3],
                                               run_id=body["run_id"])
        print(json.loads(text)["email"])

        _title("4. Instance states after two nights")
        ec2 = aws.client("ec2")
        for r in ec2.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                mark = tags.get("cost-janitor:idle-since", "")
                print(f"  {names[i['InstanceId']]:<22} {i['State']['Name']:<8} {mark and 'idle-since ' + mark}")
        print("\nProd is never stopped (its owner is asked to justify it); GPU boxes without agent data are never "
              "called idle.")
    aws.stop()
    return 0


def _event_text() -> str:
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "events" / "eventbridge" / "scheduled_nightly_sweep.json"
    return sample.read_text()


if __name__ == "__main__":
    sys.exit(main())
