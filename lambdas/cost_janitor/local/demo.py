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
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from cost_janitor.core.policy import Policy
from cost_janitor.observability import logger

ACCOUNT = "123456789012"
DEV = {"environment": "dev", "team": "vision", "project": "detector", "cost-center": "cc-1001"}
PROD = {"environment": "prod", "team": "search", "project": "ranker", "cost-center": "cc-2002"}


def _title(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 100 - len(text)))


def seed_account(aws: Any, end: datetime) -> dict[str, str]:
    """A small but realistic ML account; returns instance ids by name."""
    from cost_janitor.local.emulator import MetricSeeder, launch, seed_instance_metrics

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
        # a GPU node Karpenter launched for the EKS cluster: idle or not, the EC2 sweep never marks or stops it
        ("karpenter-gpu-node", "g5.xlarge", {**DEV, "owner": "cy@example.com", "kubernetes.io/cluster/ml-platform":
                                             "owned", "eks:eks-cluster-name": "ml-platform",
                                             "karpenter.sh/nodepool": "gpu"}, {"cpu": 0.5, "gpus": [(0.0, 0.0)]}),
    ]
    ids = {}
    for name, instance_type, tags, usage in fleet:
        ids[name] = launch(ec2, instance_type, {"Name": name, **tags})
        seed_instance_metrics(seeder, ids[name], end=end, hours=usage.pop("hours", week), **usage)
    seeder.flush()
    s3 = aws.client("s3")
    cloudwatch = aws.client("cloudwatch")
    day = end.replace(hour=0) - timedelta(hours=12)
    for bucket, terabytes in (("acme-ml-training-data", 10), ("acme-ml-experiments", 2)):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
            {"Key": "cost-janitor:lifecycle-profile", "Value": "ml"}, {"Key": "owner", "Value": "ana@example.com"},
            *({"Key": k, "Value": v} for k, v in DEV.items())]})
        dims = [{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": "StandardStorage"}]
        cloudwatch.put_metric_data(Namespace="AWS/S3", MetricData=[{
            "MetricName": "BucketSizeBytes", "Value": terabytes * 1024 ** 4, "Unit": "Bytes", "Timestamp": day,
            "Dimensions": dims}])
    s3.put_bucket_versioning(Bucket="acme-ml-training-data", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket="acme-ml-training-data", LifecycleConfiguration={"Rules": [
        {"ID": "team-logs-30d", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
        {"ID": "team-experiments", "Filter": {"Prefix": "experiments/"}, "Status": "Enabled",
         "Expiration": {"Days": 365}}]})
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=2000, VolumeType="gp3", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "old-dataset-cache"},
                                            {"Key": "environment", "Value": "dev"}]}])
    aws.client("logs").create_log_group(logGroupName="/ml/training-jobs")
    return ids


def main() -> int:
    from cost_janitor.cli.aws import quiet_powertools
    from cost_janitor.cli.output import format_findings
    from cost_janitor.local.context import FakeContext
    from cost_janitor.local.emulator import deploy_janitor_resources, pointed_at, start_moto, subscribe_queue

    policy = Policy()
    print("cost-janitor demo — an embedded AWS emulator (moto server) seeded with a small ML account.")
    print("Nothing here touches a real AWS account.")
    aws = start_moto()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with pointed_at(aws):
        os.environ.update(deploy_janitor_resources(aws, policy))
        os.environ["POWERTOOLS_SERVICE_NAME"] = "idle-sweep"
        quiet_powertools(verbose=False)
        logger.setLevel("ERROR")  # the demo prints what people see; rejected requests are shown, not logged
        warnings.filterwarnings("ignore", category=UserWarning, module="aws_lambda_powertools")
        from cost_janitor.capabilities import idle_sweep
        from cost_janitor.handlers.idle_sweep import lambda_handler
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
                report = idle_sweep.run(policy, settings, now=now, run_id=f"demo-night-{n + 1}", dry_run=False)
            print(format_findings(report.findings, names=names))
            print(f"estimated savings from idle instances: ${report.summary()['estimated_monthly_usd']:,.2f}/month "
                  f"(on-demand list prices; table date in each finding)")

        _title("3. Slack: the notifier sends one message per owner (local Slack stand-in)")
        _slack_scene(aws, tap, policy, names=names, ids=ids)

        _title("4. What an email subscriber of the findings topic received (first message, from step 1)")
        body = _first_message
        assert body is not None
        print(f"{len(body['findings'])} finding(s) in schema {body['schema']}; the email rendering of the same "
              "message reads:")
        from cost_janitor.adapters.sns import render_messages
        from cost_janitor.core.models import Finding
        [(_, _subject, text)] = render_messages([Finding.model_validate(f) for f in body["findings"]][:3],
                                               run_id=body["run_id"])
        print(json.loads(text)["email"])

        _title("5. Instance states after two nights and the Slack answers")
        ec2 = aws.client("ec2")
        for r in ec2.describe_instances()["Reservations"]:
            for i in r["Instances"]:
                tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                note = " ".join(f"{k.split(':')[1]}={v}" for k, v in sorted(tags.items())
                                if k.startswith("cost-janitor:") and "reason" not in k)
                print(f"  {names[i['InstanceId']]:<22} {i['State']['Name']:<8} {note}")
        print("\nProd is never stopped (its owner is asked to justify it); GPU boxes without agent data are never "
              "called idle.")

        _title("6. Spot: the 2-minute interruption warning for a fine-tuning run")
        _spot_scene(aws, policy, settings)

        _title("7. Storage: lifecycle profiles merged into the ML buckets (dry-run, then applied)")
        _storage_scene(aws, policy, settings)

        _title("8. Tag compliance: a GPU box launched with only a team tag, checked minutes later")
        _tags_scene(aws, policy, settings)

        _title("9. The weekly digest for this account (cost-janitor report)")
        from cost_janitor.capabilities.report import build
        from cost_janitor.core.models import dashboard_url
        from cost_janitor.slack_blocks import digest_message, plain_text

        _bill_fixture(aws, end)
        with contextlib.redirect_stdout(io.StringIO()):
            digest = build(policy, settings, now=end + timedelta(days=3))
            quarter = build(policy, settings, now=end + timedelta(days=3), weeks=12)
        print(plain_text(digest_message(digest.document(), team=None,
                                        dashboard=dashboard_url(settings.region, str(settings.dashboard_name)))))

        _title("10. The same digest as a picture (cost-janitor report --html) and what the janitor costs")
        from pathlib import Path

        from cost_janitor.core.own_cost import Fleet, estimate, total
        from cost_janitor.report_html import render

        page = Path(os.environ.get("COST_JANITOR_DEMO_REPORT", "build/demo-report.html")).resolve()
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(render(quarter.document(), title="cost-janitor weekly report — demo account"))
        print(f"report: {page}  (one self-contained HTML file: open it in a browser)")
        types = [i["InstanceType"] for r in aws.client("ec2").describe_instances()["Reservations"]
                 for i in r["Instances"]]
        gpu_boxes = sum(1 for t in types if t.split(".")[0] in policy.idle.gpu_families)
        for label, fleet in (("this demo account", Fleet(instances=len(types), gpu_instances=gpu_boxes,
                                                         gpus_per_box=2)),
                             ("a 1,000-instance account", Fleet(instances=1000, gpu_instances=333, gpus_per_box=4))):
            items = estimate(fleet, policy)
            print(f"own cost, {label}: ${total(items):,.2f}/month — biggest: " + ", ".join(
                f"{i.name} ${i.monthly_usd:,.2f}" for i in items[:3]))

        _title("11. SageMaker: endpoints by traffic and GPUs, a notebook left on, Studio (two nights, --apply)")
        _sagemaker_scene(aws, settings, end)

        _title("12. Many accounts: a hub and two members, one Slack app (organization mode)")
        _organization_scene(aws, end)

        _title("13. Elastic IP addresses associated with nothing (a resource family: families/addresses.py)")
        _addresses_scene(aws, settings, end)

        _title("14. EKS: GPU nodes no pod asks for, namespaces that over-request (families/eks.py, two nights)")
        _eks_scene(aws, settings, end)

        _title("15. Network egress: S3 through NAT, an idle NAT gateway, regions crossed (families/network.py)")
        _network_scene(aws, settings, end)

        _title("16. EFS: an idle file system, lifecycle merged into the team's (families/efs.py, two nights)")
        _efs_scene(aws, settings, end)

        _title("17. ECR: old untagged builds and images nobody pulls (families/ecr.py, two nights)")
        _ecr_scene(aws, settings, end)

        _title("18. FSx for Lustre: file systems left after a training run (families/fsx.py, two nights)")
        _fsx_scene(aws, settings, end)

        _title("19. AMIs nobody launches, and their snapshots (families/amis.py; the Recycle Bin is the way back)")
        _amis_scene(aws, settings, end)

        _title("20. Dollars that hold: every region priced (the Price List API), savings after a Savings Plan")
        _prices_scene(aws, settings, end)
    aws.stop()
    return 0


@contextlib.contextmanager
def _as_account(aws: Any, account: str, env: dict[str, str]) -> Any:
    """Run as that account's Lambdas: its credentials (the emulator keeps each account apart) and its wiring."""
    from cost_janitor.adapters import clients

    saved = dict(os.environ)
    os.environ.update({**aws.credentials(account), **env})
    clients.reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clients.reset()


def _bill_fixture(aws: Any, end: datetime) -> None:
    """Cost Explorer's resource-level data for the demo's boxes (a fixture: 80 % of list a day until the stop, as a
    Savings Plan would bill it, nothing after), so the digest shows the bill's figure beside each stop's estimate."""
    from cost_janitor.core.pricing import instance_price
    from cost_janitor.local.emulator.seeding import seed_resource_costs

    days = [(end + timedelta(days=n)).date() for n in range(-13, 3)]
    boxes = [i for r in aws.client("ec2").describe_instances()["Reservations"] for i in r["Instances"]]
    seed_resource_costs({i["InstanceId"]: {d.isoformat(): 0.0 if d >= end.date() else round(
        0.8 * 24 * (instance_price(i["InstanceType"], "us-east-1").hourly_usd or 0.0), 2) for d in days}
        for i in boxes})


def _organization_scene(aws: Any, end: datetime) -> None:
    """Member A (two regions) and member B sweep their own accounts; their findings reach the hub's bus; the hub's
    one Slack app tells the owners; answers act in the member, through its narrow role; a member the hub's bus
    refuses keeps its findings in its hub outbox."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.delivery import deliver
    from cost_janitor.handlers import answers, notifier, slack_interactivity
    from cost_janitor.local.context import FakeContext
    from cost_janitor.local.emulator import (
        HUB_BUS,
        MetricSeeder,
        deploy_hub_bus,
        deploy_janitor_resources,
        deploy_member_bus,
        launch,
        seed_instance_metrics,
    )
    from cost_janitor.local.slack_standin import SlackStandIn
    from cost_janitor.settings import Settings

    a, b = "210987654321", "310987654321"
    hub_bus, hub_queue = deploy_hub_bus(aws, [a, b])
    envs = {ACCOUNT: {"MEMBER_ACCOUNTS": f"{a},{b}"}}
    policies = {a: Policy.model_validate({"regions": ["us-east-1", "us-west-2"]}), b: Policy()}
    boxes = {}
    for account, region, owner in ((a, "us-west-2", "ana@example.com"), (b, "us-east-1", "bo@example.com")):
        envs[account] = {**deploy_janitor_resources(aws, policies[account], account=account),
                         **deploy_member_bus(aws, account, hub_bus)}
        seeder = MetricSeeder(aws.client("cloudwatch", region, account=account))
        boxes[account] = launch(aws.client("ec2", region, account=account), "g5.xlarge",
                                {**DEV, "owner": owner, "Name": f"notebook-{owner.split('@')[0]}"})
        seed_instance_metrics(seeder, boxes[account], end=end, hours=9 * 24, cpu=0.6, network_mb_per_hour=0.4,
                              gpus=[(0.0, 1.0)])
        seeder.flush()
    print(f"hub {ACCOUNT} (Slack, notifier, answers, digest; bus {HUB_BUS} admits {a} and {b})")
    print(f"member A {a}: sweeps us-east-1 and us-west-2 — Ana's idle GPU box {boxes[a]} is in us-west-2")
    print(f"member B {b}: sweeps us-east-1 — Bo's idle GPU box {boxes[b]}")
    now = end - timedelta(minutes=55)
    for account, label in ((a, "A"), (b, "B")):
        with _as_account(aws, account, envs[account]), contextlib.redirect_stdout(io.StringIO()):
            report = idle_sweep.run(policies[account], Settings.from_env(), now=now, run_id=f"org-{label}",
                                    dry_run=False)
        idle = [f for f in report.findings if f.verdict == "idle"]
        print(f"  member {label} sweep: {len(report.findings)} instance(s), {len(idle)} idle → "
              f"{', '.join(f'{f.resource_id} ({f.region}) {f.action}' for f in idle)}; findings put on its bus")
    slack = SlackStandIn(users={"ana@example.com": "U0ANA0001", "bo@example.com": "U0BO00001"})
    hub_env = {**envs[ACCOUNT], "SLACK_API_URL": slack.api_url, "COST_JANITOR_DRY_RUN": "false"}
    sqs = aws.client("sqs")
    with _as_account(aws, ACCOUNT, hub_env), contextlib.redirect_stdout(io.StringIO()):
        records = []
        while got := sqs.receive_message(QueueUrl=hub_queue, MaxNumberOfMessages=10).get("Messages", []):
            records += [_sqs_record(m) for m in got]
            for m in got:
                sqs.delete_message(QueueUrl=hub_queue, ReceiptHandle=m["ReceiptHandle"])
        senders = sorted(json.loads(r["body"])["account"] for r in records)
        notifier.lambda_handler({"Records": records}, FakeContext("notifier"))
    print(f"\nthe hub's bus handed the notifier {len(records)} event(s) from {', '.join(senders)} "
          "(EventBridge stamps the sender's account; a member is heard only about its own)")
    posts = slack.of("chat.postMessage")
    for call in posts:
        print(f"→ to {call.args['channel']}: {call.args['text']}")

    def answer(payload: dict[str, Any]) -> None:
        with _as_account(aws, ACCOUNT, hub_env), contextlib.redirect_stdout(io.StringIO()):
            slack_interactivity.lambda_handler(SlackStandIn.function_url_event(payload, "local-signing-secret"),
                                               FakeContext("slack_interactivity"))
            queue = os.environ["ANSWERS_QUEUE_URL"]
            while queued := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                answers.lambda_handler({"Records": [_sqs_record(m) for m in queued]}, FakeContext("answers"))
                for m in queued:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

    where = {user: ("D" + user[1:], f"1764300000.{n + 1:06d}") for n, c in enumerate(posts)
             for user in [str(c.args["channel"])]}
    channel, ts = where["U0ANA0001"]
    answer({"type": "view_submission", "user": {"id": "U0ANA0001"}, "view": {
        "id": "V-org-1", "callback_id": "keep", "private_metadata": json.dumps(
            {"resource": boxes[a], "region": "us-west-2", "channel": channel, "ts": ts}),
        "state": {"values": {"reason": {"reason": {"value": "Eval runs for the A/B test until Friday."}},
                             "days": {"days": {"selected_option": {"value": "3"}}}}}}})
    [r] = aws.client("ec2", "us-west-2", account=a).describe_instances(InstanceIds=[boxes[a]])["Reservations"]
    kept = {t["Key"]: t["Value"] for t in r["Instances"][0]["Tags"]}
    print(f"\nAna keeps her box from Slack → the hub assumed member A's narrow role: in {a}/us-west-2 the box has "
          f"keep-until={kept.get('cost-janitor:keep-until')}, by {kept.get('cost-janitor:keep-by')}")
    channel, ts = where["U0BO00001"]
    answer({"type": "block_actions", "user": {"id": "U0BO00001"}, "trigger_id": "t-org",
            "response_url": slack.response_url(), "container": {"channel_id": channel, "message_ts": ts},
            "actions": [{"action_id": "stop_now", "action_ts": "1764300200.000001",
                         "value": json.dumps({"resource": boxes[b], "region": "us-east-1"})}]})
    [r] = aws.client("ec2", account=b).describe_instances(InstanceIds=[boxes[b]])["Reservations"]
    print(f"Bo clicks Stop now → in {b}/us-east-1 his box is {r['Instances'][0]['State']['Name']}")
    aws.client("events").remove_permission(EventBusName=HUB_BUS, StatementId=f"member-{b}")
    seeder = MetricSeeder(aws.client("cloudwatch", account=b))  # another idle box in B, for the next night
    spare = launch(aws.client("ec2", account=b), "m5.large", {**DEV, "owner": "bo@example.com"})
    seed_instance_metrics(seeder, spare, end=end, hours=9 * 24, cpu=0.4, network_mb_per_hour=0.2)
    seeder.flush()
    with _as_account(aws, b, envs[b]), contextlib.redirect_stdout(io.StringIO()):
        idle_sweep.run(policies[b], Settings.from_env(), now=now + timedelta(days=1), run_id="org-B-2",
                       dry_run=True)
    outbox = aws.client("sqs", account=b).get_queue_attributes(
        QueueUrl=envs[b]["HUB_OUTBOX_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    print(f"\nthe hub's bus stops admitting B: B's next batch (a new idle box, {spare}) waits in B's hub outbox "
          f"({outbox['ApproximateNumberOfMessages']} event) — nothing is lost")
    aws.client("events").put_permission(EventBusName=HUB_BUS, StatementId=f"member-{b}", Action="events:PutEvents",
                                        Principal=b)
    with _as_account(aws, b, envs[b]), contextlib.redirect_stdout(io.StringIO()):
        sent = deliver([], Settings.from_env(), run_id="org-B-3")
    waiting = sqs.get_queue_attributes(QueueUrl=hub_queue, AttributeNames=["ApproximateNumberOfMessages"])
    print(f"admitted again: B's next run (of any capability) sends it ({sent} event); the hub's queue now has "
          f"{waiting['Attributes']['ApproximateNumberOfMessages']}")
    slack.stop()


def _sagemaker_scene(aws: Any, settings: Any, end: datetime) -> None:
    """An idle dev endpoint deleted (config and model kept) and restored; an underused prod endpoint asked to
    justify; a busy one left alone; a dev notebook left on overnight stopped the next night; a Studio domain
    without idle shutdown and a GPU app running for a day (reported: those two actions are opt-ins, off here)."""
    from cost_janitor.capabilities import idle_sweep, restore
    from cost_janitor.cli.output import format_findings
    from cost_janitor.local.emulator import (
        MetricSeeder,
        seed_endpoint,
        seed_endpoint_metrics,
        seed_notebook,
        seed_studio_app,
        seed_studio_domain,
    )

    policy = Policy.model_validate({"idle": {"services": ["sagemaker"]},
                                    "sagemaker": {"delete_idle_dev_endpoints": True}})
    seeder = MetricSeeder(aws.client("cloudwatch"))
    month_ago = end - timedelta(days=30)
    for name, tags, instance_type, count, calls, gpus in (
            ("detector-dev", {**DEV, "owner": "ana@example.com"}, "ml.g5.xlarge", 1, 0.0, [0.0]),
            ("ranker-prod", {**PROD, "owner": "bo@example.com"}, "ml.g5.12xlarge", 2, 60.0, [3.0] * 4),
            ("search-prod", {**PROD, "owner": "gi@example.com"}, "ml.g5.xlarge", 1, 5000.0, [85.0])):
        seed_endpoint(aws, name, variants=[("AllTraffic", instance_type, count)], tags={"Name": name, **tags},
                      created=month_ago)
        seed_endpoint_metrics(seeder, name, "AllTraffic", end=end, hours=9 * 24, invocations_per_hour=calls,
                              gpus=gpus)
    # an asynchronous endpoint publishes no Invocations (its backlog and processed requests show it busy), and one
    # hosting inference components publishes traffic per component: neither absent series reads as zero traffic
    for name, kind in (("transcribe-async", "async"), ("llm-components", "inference-components")):
        seed_endpoint(aws, name, variants=[("AllTraffic", "ml.g5.xlarge", 1)], created=month_ago, kind=kind,
                      tags={"Name": name, **DEV, "owner": "cy@example.com"})
        seed_endpoint_metrics(seeder, name, "AllTraffic", end=end, hours=9 * 24, invocations_per_hour=None,
                              gpus=[0.0])
    seeder.series("AWS/SageMaker", "ApproximateBacklogSize", {"EndpointName": "transcribe-async"}, [3.0] * 9 * 24,
                  end=end)
    seeder.series("AWS/SageMaker", "InvocationsProcessed", {"EndpointName": "transcribe-async"}, [40.0] * 9 * 24,
                  end=end)
    seeder.flush()
    night1, night2 = end - timedelta(days=1) + timedelta(minutes=5), end + timedelta(minutes=5)
    seed_notebook(aws, "ana-exploration", instance_type="ml.g4dn.xlarge",
                  tags={"Name": "ana-exploration", **DEV, "owner": "ana@example.com"},
                  started=night1 - timedelta(hours=14))
    studio = seed_studio_domain(aws, "vision-research", tags=DEV, idle_shutdown=False)
    seed_studio_app(aws, studio, user_profile="di", app_type="JupyterLab", instance_type="ml.g5.2xlarge",
                    tags={**DEV, "owner": "di@example.com"}, created=night1 - timedelta(hours=30))
    for n, now in enumerate((night1, night2), start=1):
        with contextlib.redirect_stdout(io.StringIO()):
            report = idle_sweep.run(policy, settings, now=now, run_id=f"demo-ml-{n}", dry_run=False)
        print(f"night {n} ({now:%Y-%m-%d %H:%M} UTC):")
        print(format_findings(report.findings, show_busy=True))
    sm = aws.client("sagemaker")
    print("endpoints now:", ", ".join(sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"])),
          "— detector-dev's config and model are kept:",
          sm.describe_endpoint_config(EndpointConfigName="detector-dev-config")["EndpointConfigName"],
          sm.describe_model(ModelName="detector-dev-model")["ModelName"])
    with contextlib.redirect_stdout(io.StringIO()):
        done = restore.run("detector-dev", policy, settings, actor="ana@example.com",
                           now=night2 + timedelta(hours=9))
    back = sm.describe_endpoint(EndpointName="detector-dev")
    print(f"Ana clicks Restore (or runs `cost-janitor restore detector-dev`): {done.action} {done.action_status} → "
          f"{back['EndpointName']} {back['EndpointStatus']} from {back['EndpointConfigName']}")
    notebook = sm.describe_notebook_instance(NotebookInstanceName="ana-exploration")
    print(f"ana-exploration: {notebook['NotebookInstanceStatus']} (its ML storage volume is kept; no utilisation "
          "metric exists for notebook instances, so the janitor judges time in service, never a made-up metric)")


def _addresses_scene(aws: Any, settings: Any, end: datetime) -> None:
    """Three addresses: a dev one left behind (marked; its owner asked to release it), a prod one (reported), one in
    use. The janitor never releases an address: a released one cannot always be had back."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import addresses
    from cost_janitor.local.emulator import launch

    ec2 = aws.client("ec2")

    def allocate(tags: dict[str, str]) -> str:
        allocation: str = ec2.allocate_address(Domain="vpc", TagSpecifications=[{
            "ResourceType": "elastic-ip", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])["AllocationId"]
        return allocation

    allocate({"Name": "old-demo-ip", **DEV, "owner": "ana@example.com"})
    allocate({"Name": "partner-allowlist", **PROD, "owner": "bo@example.com"})
    ec2.associate_address(AllocationId=allocate({"Name": "bastion", **DEV}),
                          InstanceId=launch(ec2, "t3.micro", {"Name": "bastion", **DEV}))
    with contextlib.redirect_stdout(io.StringIO()):
        report = idle_sweep.run(Policy(), settings, now=end + timedelta(minutes=5), run_id="demo-addresses",
                                dry_run=False, families=[addresses.FAMILY])
    print(format_findings(report.findings, show_busy=True))
    print("the same from a laptop: cost-janitor sweep --families addresses   (dry-run unless --apply)")


def _eks_scene(aws: Any, settings: Any, end: datetime) -> None:
    """Cluster "ml-training" with Container Insights: a dev GPU node group no pod asked a GPU of all week (marked,
    then — the grace over, nothing asking just before — scaled to zero with the opt-in), a prod one (asked), a busy
    one, a Karpenter node with only CPU pods (reported), a namespace requesting 8 GPUs and using 10 % of them;
    cluster "legacy" without Container Insights (told how to turn it on, nothing judged)."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import eks
    from cost_janitor.local.emulator import launch
    from cost_janitor.local.emulator.seeding import (
        MetricSeeder,
        launched_ago,
        seed_desired_capacity,
        seed_eks_nodegroup,
        seed_node_insights,
        seed_pod_insights,
    )

    hours, cluster = 7 * 24, "ml-training"
    seeder = MetricSeeder(aws.client("cloudwatch"))
    for name, tags, requested, util in (("gpu-dev", {**DEV, "owner": "ana@example.com"}, 0.0, 0.0),
                                        ("gpu-prod", {**PROD, "owner": "bo@example.com"}, 0.0, 0.0),
                                        ("train", {**DEV, "owner": "ana@example.com"}, 4.0, 85.0)):
        asg, nodes = seed_eks_nodegroup(aws, cluster, name, instance_type="g5.12xlarge", nodes=2, min_size=1,
                                        max_size=4, tags=tags)
        for node in nodes:
            seed_node_insights(seeder, cluster, node, end=end, hours=hours, gpus=4, requested=requested,
                               utilization=util)
        seed_desired_capacity(seeder, asg, [2] * hours, end=end)
    karpenter = launch(aws.client("ec2"), "g5.xlarge", {"Name": "karpenter-gpu", "eks:eks-cluster-name": cluster,
                                                        "karpenter.sh/nodepool": "gpu", **DEV})
    launched_ago(karpenter, 36)
    seed_node_insights(seeder, cluster, karpenter, end=end, hours=hours, gpus=1, requested=0, utilization=0)
    for pod in ("finetune-0", "finetune-1"):
        seed_pod_insights(seeder, cluster, "research", pod, end=end, hours=hours, gpus=4, gpu_utilization=10)
    seed_pod_insights(seeder, cluster, "web", "api-0", end=end, hours=hours)
    seed_eks_nodegroup(aws, "legacy", "gpu", instance_type="g5.xlarge", nodes=1, min_size=1, max_size=2,
                       tags={**DEV, "owner": "cy@example.com"})
    seeder.flush()
    policy = Policy.model_validate({"idle": {"services": ["eks"]}, "eks": {"scale_idle_dev_nodegroups": True,
                                                                          "namespace_teams": {"research": "nlp"}}})
    nights = []
    for night in ("demo-eks-1", "demo-eks-2"):
        with contextlib.redirect_stdout(io.StringIO()):
            report = idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id=night, dry_run=False,
                                    families=[eks.FAMILY])
        nights.append(report)
        group = next(f for f in report.findings if f.resource_id == f"{cluster}/gpu-dev")
        if night == "demo-eks-1":  # a day later: the grace period is over (the mark is dated back, as time would)
            aws.client("eks").tag_resource(resourceArn=group.resource_arn, tags={
                "cost-janitor:idle-since": (end - timedelta(days=2)).isoformat()})
    print(format_findings(nights[0].findings, show_busy=True))
    scaled = next(f for f in nights[1].findings if f.resource_id == f"{cluster}/gpu-dev")
    sizes = aws.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName="gpu-dev")["nodegroup"][
        "scalingConfig"]
    print(f"next night, the grace over: {scaled.resource_id} {scaled.action} {scaled.action_status} → {sizes}")
    print(f"EKS calls a night: {dict(nights[0].api_calls)}")
    print("the same from a laptop: cost-janitor sweep --services eks   (dry-run unless --apply)")


def _network_scene(aws: Any, settings: Any, end: datetime) -> None:
    """us-east-2: VPC "ml-dev" pulls training data from S3 through its NAT gateway, 40 GB an hour (marked, then — the
    grace over — given its free gateway endpoints, with the opt-in); "ml-prod" does the same (asked); "features" has a
    bucket that admits only its NAT's IP (the endpoint would break it: named, never created); "sandbox" has a NAT
    gateway that carries nothing. Cost Explorer shows data sent from us-east-1 to eu-west-1, where a GPU box reads an
    ML bucket replicated there."""
    import json

    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import network
    from cost_janitor.local.emulator import launch
    from cost_janitor.local.emulator.seeding import (
        MetricSeeder,
        canned_cost_explorer,
        nat_created_ago,
        seed_nat_bytes,
        seed_vpc_with_nat,
        usage_types,
    )

    region, hours = "us-east-2", 7 * 24
    seeder = MetricSeeder(aws.client("cloudwatch", region))
    vpcs = {}
    for n, (name, tags, gb) in enumerate((("ml-dev", {**DEV, "owner": "ana@example.com"}, 40.0),
                                          ("ml-prod", {**PROD, "owner": "bo@example.com"}, 60.0),
                                          ("features", {**DEV, "owner": "cy@example.com"}, 5.0),
                                          ("sandbox", {**DEV, "owner": "cy@example.com"}, 0.0))):
        vpcs[name] = seed_vpc_with_nat(aws, tags={**tags, "Name": name}, region=region, cidr=f"10.{40 + n}.0.0/16")
        nat_created_ago(vpcs[name]["nat"], 90, region=region)
        seed_nat_bytes(seeder, vpcs[name]["nat"], end=end, hours=hours, gb_per_hour=gb)
    seeder.flush()
    s3 = aws.client("s3", region)
    s3.create_bucket(Bucket="features-store-demo", CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_policy(Bucket="features-store-demo", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::features-store-demo/*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": f"{vpcs['features']['nat_ip']}/32"}}}]}))
    east = aws.client("s3", "us-east-1")
    east.create_bucket(Bucket="imagenet-shards-demo")
    east.put_bucket_tagging(Bucket="imagenet-shards-demo", Tagging={"TagSet": [
        {"Key": "cost-janitor:lifecycle-profile", "Value": "ml"}, {"Key": "team", "Value": "vision"}]})
    gpu = launch(aws.client("ec2", "eu-west-1"), "p4d.24xlarge", {"team": "vision", "Name": "trainer-eu"})
    month = {"start": f"{end - timedelta(days=30):%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"}
    policy = Policy.model_validate({"regions": [region], "idle": {"services": ["network"]},
                                    "network": {"create_gateway_endpoints": True}})
    nights = []
    for night in ("demo-network-1", "demo-network-2"):
        canned_cost_explorer(aws, [usage_types({"USE1-EU-AWS-Out-Bytes": (2_310.0, 115_500.0),
                                                "USE2-DataTransfer-Regional-Bytes": (96.0, 9_600.0)}, **month)])
        with contextlib.redirect_stdout(io.StringIO()):
            report = idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id=night, dry_run=False,
                                    families=[network.FAMILY])
        nights.append(report)
        if night == "demo-network-1":  # a day later: the grace period is over (the mark is dated back, as time would)
            aws.client("ec2", region).create_tags(Resources=[vpcs["ml-dev"]["vpc"]], Tags=[
                {"Key": "cost-janitor:idle-since", "Value": (end - timedelta(days=2)).isoformat()}])
    print(format_findings(nights[0].findings, show_busy=False))
    made = next(f for f in nights[1].findings if f.resource_id == vpcs["ml-dev"]["vpc"])
    endpoints = aws.client("ec2", region).describe_vpc_endpoints(Filters=[
        {"Name": "vpc-id", "Values": [vpcs["ml-dev"]["vpc"]]}])["VpcEndpoints"]
    print(f"next night, the grace over: {made.resource_id} {made.action} {made.action_status} → " + ", ".join(
        f"{e['ServiceName']} on {', '.join(e['RouteTableIds'])}" for e in endpoints))
    print(f"the GPU box {gpu} in eu-west-1 is named as the likely reader of imagenet-shards-demo (us-east-1)")
    print(f"network calls a night: {dict(nights[0].api_calls)}")
    print("the same from a laptop: cost-janitor sweep --services network   (dry-run unless --apply)")


def _efs_scene(aws: Any, settings: Any, end: datetime) -> None:
    """"home-dirs" (dev, busy, the team's own TransitionToPrimaryStorageClass and no transition to IA: marked, then —
    the grace over — the policy's transitions added beside the team's, with the opt-in), "datasets" (prod: asked),
    "run-0412" (800 GB nobody has touched for a week: reported with its dollars, never deleted)."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import efs
    from cost_janitor.local.emulator.seeding import MetricSeeder, seed_efs_metrics, seed_file_system

    hours, seeder = 7 * 24, MetricSeeder(aws.client("cloudwatch"))
    team = [{"TransitionToPrimaryStorageClass": "AFTER_1_ACCESS"}]
    ids = {"home-dirs": seed_file_system(aws, tags={**DEV, "Name": "home-dirs", "owner": "dee@example.com"},
                                         size_gb=1200, lifecycle=team),
           "datasets": seed_file_system(aws, tags={**PROD, "Name": "datasets"}, size_gb=4000),
           "run-0412": seed_file_system(aws, tags={**DEV, "Name": "run-0412", "owner": "ana@example.com"},
                                        size_gb=800, lifecycle=[{"TransitionToIA": "AFTER_30_DAYS"}])}
    for name, (connections, io_bytes) in {"home-dirs": (6, 4e9), "datasets": (20, 9e10), "run-0412": (0, 0)}.items():
        seed_efs_metrics(seeder, ids[name], end=end, hours=hours, connections=connections, io_bytes=io_bytes)
    seeder.flush()
    policy = Policy.model_validate({"idle": {"services": ["efs"]}, "efs": {"set_lifecycle": True}})
    nights = []
    for night in ("demo-efs-1", "demo-efs-2"):
        with contextlib.redirect_stdout(io.StringIO()):
            nights.append(idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id=night,
                                         dry_run=False, families=[efs.FAMILY]))
        if night == "demo-efs-1":  # a day later: the grace period is over (the mark is dated back, as time would)
            aws.client("efs").tag_resource(ResourceId=ids["home-dirs"], Tags=[
                {"Key": "cost-janitor:idle-since", "Value": (end - timedelta(days=2)).isoformat()}])
    print(format_findings(nights[0].findings, show_busy=True))
    done = next(f for f in nights[1].findings if f.resource_id == ids["home-dirs"])
    after = aws.client("efs").describe_lifecycle_configuration(FileSystemId=ids["home-dirs"])["LifecyclePolicies"]
    print(f"next night, the grace over: home-dirs {done.action} {done.action_status} → {after} (the team's first, "
          "unchanged)")
    print(f"EFS calls a night: {dict(nights[0].api_calls)}")
    print("the same from a laptop: cost-janitor sweep --services efs   (dry-run unless --apply)")


def _ecr_scene(aws: Any, settings: Any, end: datetime) -> None:
    """"detector-train" (dev: the team's release rule, 40 untagged CI builds of 3 GB: marked, then — the grace over —
    the janitor's untagged rule merged after the team's, with the opt-in), "ranker-serve" (prod: asked), "old-models"
    (tagged images nobody pulled since spring: reported, never expired by the janitor)."""
    import json

    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import ecr
    from cost_janitor.local.emulator.seeding import seed_repository

    team = {"rulePriority": 10, "description": "keep the last 20 releases", "action": {"type": "expire"},
            "selection": {"tagStatus": "tagged", "tagPrefixList": ["release"], "countType": "imageCountMoreThan",
                          "countNumber": 20}}
    arn = seed_repository(aws, "detector-train", tags={**DEV, "owner": "ana@example.com"},
                          policy_text=json.dumps({"rules": [team]}),
                          images=[((), 3.0, 20 + n, None) for n in range(40)] + [(("release-9",), 3.0, 2, 1)])
    seed_repository(aws, "ranker-serve", tags={**PROD, "owner": "bo@example.com"},
                    images=[((), 1.5, 30 + n, None) for n in range(10)] + [(("v12",), 1.5, 1, 1)])
    seed_repository(aws, "old-models", tags={**DEV, "owner": "cy@example.com"},
                    images=[((f"exp-{n}",), 8.0, 300, 200) for n in range(6)])
    policy = Policy.model_validate({"idle": {"services": ["ecr"]}, "ecr": {"put_lifecycle_policies": True}})
    nights = []
    for night in ("demo-ecr-1", "demo-ecr-2"):
        with contextlib.redirect_stdout(io.StringIO()):
            nights.append(idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id=night,
                                         dry_run=False, families=[ecr.FAMILY]))
        if night == "demo-ecr-1":  # a day later: the grace period is over (the mark is dated back, as time would)
            aws.client("ecr").tag_resource(resourceArn=arn, tags=[
                {"Key": "cost-janitor:idle-since", "Value": (end - timedelta(days=2)).isoformat()}])
    print(format_findings(nights[0].findings, show_busy=True))
    done = next(f for f in nights[1].findings if f.resource_id == "detector-train")
    rules = json.loads(aws.client("ecr").get_lifecycle_policy(repositoryName="detector-train")[
        "lifecyclePolicyText"])["rules"]
    print(f"next night, the grace over: detector-train {done.action} {done.action_status} → rules "
          + ", ".join(f"{r['rulePriority']} {r['description']!r}" for r in rules) + " (the team's first, unchanged)")
    print(f"ECR calls a night: {dict(nights[0].api_calls)}")
    print("the same from a laptop: cost-janitor sweep --services ecr   (dry-run unless --apply)")


def _fsx_scene(aws: Any, settings: Any, end: datetime) -> None:
    """"run-0412-lustre" (persistent, dev, untouched all week: marked, then — the grace over, still quiet in the last
    hours — deleted with its final backup, with the opt-in), "scratch-ablation" (scratch, dev, untouched: asked, never
    deleted — it cannot be backed up), "shared-datasets" (prod, busy)."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import fsx
    from cost_janitor.local.emulator.seeding import MetricSeeder, seed_fsx_metrics, seed_lustre

    hours, seeder = 7 * 24, MetricSeeder(aws.client("cloudwatch"))
    ids = {"run": seed_lustre(aws, tags={**DEV, "Name": "run-0412-lustre", "owner": "ana@example.com"},
                              storage_gib=4800),
           "scratch": seed_lustre(aws, tags={**DEV, "Name": "scratch-ablation", "owner": "ana@example.com"},
                                  deployment_type="SCRATCH_2", storage_gib=2400),
           "shared": seed_lustre(aws, tags={**PROD, "Name": "shared-datasets"}, storage_gib=9600)}
    for name, gb in (("run", 0.0), ("scratch", 0.0), ("shared", 120.0)):
        seed_fsx_metrics(seeder, ids[name], end=end, hours=hours, read_gb_per_hour=gb, write_gb_per_hour=gb / 10)
    seeder.flush()
    policy = Policy.model_validate({"idle": {"services": ["fsx"]}, "fsx": {"delete_idle_dev_file_systems": True}})
    nights = []
    for night in ("demo-fsx-1", "demo-fsx-2"):
        with contextlib.redirect_stdout(io.StringIO()):
            nights.append(idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id=night,
                                         dry_run=False, families=[fsx.FAMILY]))
        if night == "demo-fsx-1":  # a day later: the grace period is over (the mark is dated back, as time would)
            aws.client("fsx").tag_resource(ResourceARN=f"arn:aws:fsx:us-east-1:123456789012:file-system/{ids['run']}",
                                           Tags=[{"Key": "cost-janitor:idle-since",
                                                  "Value": (end - timedelta(days=2)).isoformat()}])
    print(format_findings(nights[0].findings, show_busy=True))
    done = next(f for f in nights[1].findings if f.resource_id == ids["run"])
    backups = aws.client("fsx").describe_backups()["Backups"]
    print(f"next night, the grace over: run-0412-lustre {done.action} {done.action_status} → final backup "
          + ", ".join(b["BackupId"] for b in backups if b["FileSystem"]["FileSystemId"] == ids["run"])
          + " (restore a file system from it); scratch-ablation still there")
    print(f"FSx calls a night: {dict(nights[0].api_calls)}")
    print("the same from a laptop: cost-janitor sweep --services fsx   (dry-run unless --apply)")


def _amis_scene(aws: Any, settings: Any, end: datetime) -> None:
    """"exp-resnet-0317" (dev, last launched in spring: asked until the team keeps deleted snapshots in the Recycle
    Bin, then marked, then — the grace over — deregistered with its snapshot, with the opt-in), "serving-base" (as
    old, but a launch template uses it: never touched), "golden-2024" (prod: asked)."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import amis
    from cost_janitor.local.emulator.seeding import seed_image

    ids = {name: seed_image(aws, name, tags={**tags, "Name": name}, created_days_ago=300, launched_days_ago=200)
           for name, tags in (("exp-resnet-0317", {**DEV, "owner": "ana@example.com"}),
                              ("serving-base", {**DEV, "owner": "bo@example.com"}), ("golden-2024", PROD))}
    aws.client("ec2").create_launch_template(LaunchTemplateName="serving", LaunchTemplateData={
        "ImageId": ids["serving-base"]})
    policy = Policy.model_validate({"idle": {"services": ["amis"]}, "amis": {"deregister_unused_dev_images": True}})

    def night(run_id: str) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id=run_id, dry_run=False,
                                  families=[amis.FAMILY])

    first = night("demo-amis-1")
    print(format_findings(first.findings, show_busy=True))
    aws.client("rbin").create_rule(ResourceType="EBS_SNAPSHOT", Description="keep deleted snapshots a week",
                                   RetentionPeriod={"RetentionPeriodValue": 7, "RetentionPeriodUnit": "DAYS"})
    marked = next(f for f in night("demo-amis-2").findings if f.resource_id == ids["exp-resnet-0317"])
    print(f"the team adds a Recycle Bin rule for snapshots; next night: exp-resnet-0317 {marked.action} "
          f"{marked.action_status} (the image and its snapshot {marked.evidence['snapshots']})")
    aws.client("ec2").create_tags(Resources=[ids["exp-resnet-0317"], str(marked.evidence["snapshots"])], Tags=[
        {"Key": "cost-janitor:idle-since", "Value": (end - timedelta(days=2)).isoformat()}])  # a day later: grace over
    done = next(f for f in night("demo-amis-3").findings if f.resource_id == ids["exp-resnet-0317"])
    left = sorted(i["Name"] for i in aws.client("ec2").describe_images(Owners=["self"])["Images"])
    print(f"the grace over: exp-resnet-0317 {done.action} {done.action_status} → images left: {', '.join(left)}")
    print(f"AMI calls a night: {dict(first.api_calls)}")
    print("the same from a laptop: cost-janitor sweep --services amis   (dry-run unless --apply)")


def _prices_scene(aws: Any, settings: Any, end: datetime) -> None:
    """A dev g5 box in ap-southeast-2 and a dev ml.g6e endpoint in eu-central-1, both idle, neither in the offline
    tables: priced through the Price List API (the emulator answers from fixtures, not AWS's prices). A Savings Plan
    covers g5 in ap-southeast-2 and is fully used, with other usage on-demand: the stop counts at its effective rate,
    the list price beside it."""
    from cost_janitor.capabilities import idle_sweep
    from cost_janitor.cli.output import format_findings
    from cost_janitor.families import ec2, efs, endpoints
    from cost_janitor.local.emulator import (
        MetricSeeder,
        launch,
        seed_endpoint,
        seed_endpoint_metrics,
        seed_instance_metrics,
    )
    from cost_janitor.local.emulator.seeding import (
        ec2_price_product,
        rate_price_product,
        sagemaker_price_product,
        seed_efs_metrics,
        seed_file_system,
        seed_price_list,
        seed_savings_plans,
    )

    sydney, frankfurt = "ap-southeast-2", "eu-central-1"
    box = launch(aws.client("ec2", sydney), "g5.xlarge", {"Name": "train-sydney", **DEV, "owner": "ana@example.com"})
    seeder = MetricSeeder(aws.client("cloudwatch", sydney))
    seed_instance_metrics(seeder, box, end=end, hours=9 * 24, cpu=0.5, gpus=[(0.0, 1.0)])
    seeder.flush()
    seed_endpoint(aws, "rerank-g6e", variants=[("AllTraffic", "ml.g6e.xlarge", 1)],
                  tags={"Name": "rerank-g6e", **DEV, "owner": "bo@example.com"}, created=end - timedelta(days=30),
                  region=frankfurt)
    seeder = MetricSeeder(aws.client("cloudwatch", frankfurt))
    seed_endpoint_metrics(seeder, "rerank-g6e", "AllTraffic", end=end, hours=9 * 24, invocations_per_hour=0,
                          gpus=[0.0])
    seeder.flush()
    shared = seed_file_system(aws, tags={"Name": "datasets-sydney", **DEV, "owner": "ana@example.com"}, size_gb=1200,
                              region=sydney)
    seeder = MetricSeeder(aws.client("cloudwatch", sydney))
    seed_efs_metrics(seeder, shared, end=end, hours=9 * 24, connections=0, io_bytes=0)
    seeder.flush()
    seed_price_list([ec2_price_product("g5.xlarge", sydney, 1.3, published="2026-11-20T00:00:00Z"),
                     sagemaker_price_product("ml.g6e.xlarge", frankfurt, 2.6, published="2026-11-20T00:00:00Z"),
                     rate_price_product("efs:standard", sydney, 0.36, published="2026-11-20T00:00:00Z")])
    seed_savings_plans(total=2000.0, used=2000.0, on_demand_equivalent=3200.0, account_coverage=70.0,
                       coverage={(sydney, "g5"): 100.0})
    policy = Policy.model_validate({"regions": [sydney, frankfurt]})
    with contextlib.redirect_stdout(io.StringIO()):
        report = idle_sweep.run(policy, settings, now=end + timedelta(minutes=5), run_id="demo-prices",
                                dry_run=True, families=[ec2.FAMILY, endpoints.FAMILY, efs.FAMILY])
    print(format_findings(report.findings, show_busy=True))
    for f in report.findings:
        listed = f.evidence.get("list_monthly_usd")
        dollars = "unpriced" if f.monthly_usd is None else f"${f.monthly_usd:,.2f}/month"
        print(f"{f.name or f.resource_id}: {dollars}" + (f" (list ${listed:,.2f})" if listed is not None else "")
              + f" — {f.price_source}")
    pricing = {k: v for k, v in report.api_calls.items() if k.startswith(("pricing:", "ce:"))}
    print(f"pricing calls this night: {pricing} (one per type, rate and region, never per resource)")
    print("the same from a laptop: cost-janitor prices --region ap-southeast-2 --type g5.xlarge --price-list "
          "(or --type efs:standard, ebs:gp3, nat:bytes, ...)")


_first_message: dict[str, Any] | None = None


def _slack_scene(aws: Any, tap: str, policy: Policy, *, names: dict[str, str], ids: dict[str, str]) -> None:
    """Hand what the topic delivered to the notifier, print the messages, then answer one as its owner would."""
    global _first_message
    from cost_janitor.adapters.ledger import SlackState
    from cost_janitor.adapters.slack import SlackGateway
    from cost_janitor.capabilities import notifier
    from cost_janitor.core.models import Finding
    from cost_janitor.local.slack_standin import SlackStandIn

    sqs = aws.client("sqs")
    findings: list[Finding] = []
    while messages := sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            body = json.loads(m["Body"])
            _first_message = _first_message or body
            findings += [Finding.model_validate(f) for f in body["findings"]]
            sqs.delete_message(QueueUrl=tap, ReceiptHandle=m["ReceiptHandle"])
    last_run = max(f.run_id for f in findings)
    findings = [f for f in findings if f.run_id == last_run]
    slack = SlackStandIn(users={"ana@example.com": "U0ANA0001", "bo@example.com": "U0BO00001",
                                "ed@example.com": "U0ED00001"})
    gateway = SlackGateway("xoxb-local", base_url=slack.api_url)
    state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    report = notifier.run(findings, policy, gateway, state)
    print(f"run {last_run}: {len(findings)} findings → {report.messages_posted} messages "
          f"({report.skipped} not worth a message tonight); Slack calls: {gateway.calls}")
    for call in slack.of("chat.postMessage"):
        print(f"\n→ to {call.args['channel']}: {call.args['text']}")
        _print_blocks(call.args["blocks"])
        print(f"   preview: {SlackStandIn.block_kit_builder_link(call.args['blocks'])[:110]}…")

    print("\nBo answers for the prod box in Slack: a signed click on [Keep — justify], then the modal:")
    from cost_janitor.handlers import answers, slack_interactivity
    from cost_janitor.local.context import FakeContext

    os.environ["SLACK_API_URL"] = slack.api_url
    secret = "local-signing-secret"
    [to_bo] = [c for c in slack.of("chat.postMessage") if c.args["channel"] == "U0BO00001"]
    channel, ts = "D0BO00001", f"1764300000.{slack.of('chat.postMessage').index(to_bo) + 1:06d}"
    resource = ids["prod-inference-idle"]
    [value] = [e["value"] for b in to_bo.args["blocks"] if b.get("block_id") == f"actions:{resource}"
               for e in b["elements"] if e.get("action_id") == "keep"]  # what Slack hands back on the click
    click = {"type": "block_actions", "user": {"id": "U0BO00001"}, "trigger_id": "t-1", "response_url":
             slack.response_url(), "container": {"channel_id": channel, "message_ts": ts},
             "actions": [{"action_id": "keep", "action_ts": "1764300100.000001", "value": value}]}
    def handle(event: dict[str, Any]) -> dict[str, Any]:
        """The endpoint answers Slack; what it queued goes to the answers Lambda (SQS → Lambda, as deployed)."""
        with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics
            result: dict[str, Any] = slack_interactivity.lambda_handler(event, FakeContext("slack_interactivity"))
            queue = os.environ["ANSWERS_QUEUE_URL"]
            while queued := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                answers.lambda_handler({"Records": [_sqs_record(m) for m in queued]}, FakeContext("answers"))
                for m in queued:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return result

    status = handle(SlackStandIn.function_url_event(click, secret))["statusCode"]
    title = slack.of("views.open")[0].args["view"]["title"]["text"]
    print(f"  click → HTTP {status}; Slack was asked to open the '{title}' modal")
    submit = {"type": "view_submission", "user": {"id": "U0BO00001"}, "view": {
        "id": "V-1", "callback_id": "keep", "private_metadata": json.dumps(
            {"resource": resource, "region": "us-east-1", "channel": channel, "ts": ts}),
        "state": {"values": {"reason": {"reason": {"value": "Canary for the ranker launch on Dec 3."}},
                             "days": {"days": {"selected_option": {"value": "7"}}}}}}}
    handle(SlackStandIn.function_url_event(submit, secret))
    print("  submitted → the endpoint answered Slack at once and queued it; the answers Lambda tagged the box and "
          "updated the message in place:")
    _print_blocks(slack.of("chat.update")[-1].args["blocks"])
    forged = SlackStandIn.function_url_event(click, "not-the-signing-secret")
    status = handle(forged)["statusCode"]
    print(f"  the same click with a forged signature → HTTP {status}, nothing changed")
    slack.stop()


def _sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """An SQS message as the Lambda event source hands it over."""
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "local",
                           "ApproximateFirstReceiveTimestamp": "0"}, "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cost-janitor-answers", "awsRegion": "us-east-1"}


def _print_blocks(blocks: list[dict[str, Any]]) -> None:
    for block in blocks[1:]:
        if block["type"] == "section":
            print("   " + block["text"]["text"].replace("\n", "\n   "))
        elif block["type"] == "context":
            print("     " + " ".join(e["text"] for e in block["elements"]).replace("\n", "\n     "))
        elif block["type"] == "actions":
            print("   [" + "] [".join(e["text"]["text"] for e in block["elements"]) + "]")


def _spot_scene(aws: Any, policy: Policy, settings: Any) -> None:
    from pathlib import Path

    from cost_janitor.adapters.ledger import Ledger
    from cost_janitor.capabilities import spot_interruption
    from cost_janitor.core.spot import KIND, checkpoints, interruption_stats
    from cost_janitor.events import SpotEvent
    from cost_janitor.local.emulator import launch

    ec2 = aws.client("ec2")
    iid = launch(ec2, "g5.12xlarge", {**DEV, "Name": "llm-finetune", "owner": "ana@example.com",
                                      "cost-janitor:checkpoint-command": "systemctl kill -s USR1 finetune"},
                 InstanceMarketOptions={"MarketType": "spot"}, Placement={"AvailabilityZone": "us-east-1b"})
    sample = Path(__file__).resolve().parents[3] / "events" / "eventbridge" / "spot_interruption_warning.json"
    event = json.loads(sample.read_text())
    event["detail"]["instance-id"] = iid
    now = datetime.now(UTC)
    with contextlib.redirect_stdout(io.StringIO()):
        finding = spot_interruption.run(SpotEvent.model_validate(event), policy, settings, dry_run=False, now=now)
    print(f"EventBridge: {event['detail-type']} for {iid} (g5.12xlarge spot, us-east-1b)")
    print(f"  verdict: {finding.verdict}; {finding.reason}")
    [command] = aws.client("ssm").list_commands()["Commands"]
    print(f"  SSM Run Command {command['DocumentName']} on {command['InstanceIds']}: "
          f"{command['Parameters']['commands']} → {finding.action_status}")
    entries = Ledger(aws.client("dynamodb"), os.environ["LEDGER_TABLE"]).entries(KIND)
    stats = interruption_stats(checkpoints(entries), policy, now=now)
    print("  ledger → interruptions by type and AZ (30 days): " + ", ".join(
        f"{s.instance_type}/{s.availability_zone}: {s.interruptions}" for s in stats.by_type_and_az))
    print("  on the instance, agent/spot_watch.py wraps the training command and passes the signal on once.")


def _storage_scene(aws: Any, policy: Policy, settings: Any) -> None:
    from cost_janitor.capabilities import storage_lifecycle
    from cost_janitor.cli.output import format_findings

    s3 = aws.client("s3")
    before = s3.get_bucket_lifecycle_configuration(Bucket="acme-ml-training-data")["Rules"]
    now = datetime.now(UTC)
    with contextlib.redirect_stdout(io.StringIO()):
        dry = storage_lifecycle.run(policy, settings, now=now, run_id="demo-storage-dry", dry_run=True, account=ACCOUNT)
    print("acme-ml-training-data has 2 team rules; the dry-run diff of its configuration:")
    print("   " + dry.diffs["acme-ml-training-data"].replace("\n", "\n   "))
    print()
    print(format_findings(dry.findings))
    with contextlib.redirect_stdout(io.StringIO()):
        storage_lifecycle.run(policy, settings, now=now, run_id="demo-storage", dry_run=False, account=ACCOUNT)
    after = s3.get_bucket_lifecycle_configuration(Bucket="acme-ml-training-data")["Rules"]
    kept = [r for r in after if not r["ID"].startswith("cost-janitor:")]
    print(f"\napplied: acme-ml-training-data now has {len(after)} rules; the team's {len(kept)} rules are "
          f"byte-for-byte what they were: {kept == before}")


def _tags_scene(aws: Any, policy: Policy, settings: Any) -> None:
    from pathlib import Path

    from cost_janitor.capabilities import tag_compliance
    from cost_janitor.events import CloudTrailApiCall
    from cost_janitor.local.emulator import launch

    iid = launch(aws.client("ec2"), "g5.xlarge", {"team": "vision", "Name": "ana-experiment"})
    samples = Path(__file__).resolve().parents[3] / "events" / "cloudtrail"
    event = json.loads((samples / "run_instances_assumed_role_partial_tags.json").read_text())
    event["detail"]["responseElements"]["instancesSet"]["items"][0]["instanceId"] = iid
    with contextlib.redirect_stdout(io.StringIO()):
        [finding] = tag_compliance.run(CloudTrailApiCall.model_validate(event), policy, settings, dry_run=False,
                          now=datetime.now(UTC))
    print(f"CloudTrail RunInstances by {finding.evidence['created_by']} (an SSO session) → {iid}")
    print(f"  {finding.verdict}: {finding.reason}")
    print(f"  {finding.action} → {finding.action_status}; the creator gets a Slack message with a [Fix tags] form")
    with contextlib.redirect_stdout(io.StringIO()):
        coverage = tag_compliance.coverage_report(policy, settings)
    print(f"nightly coverage over {coverage.resources} resources: "
          + ", ".join(f"{k} {v}%" for k, v in coverage.by_key.items()))
    for arn, missing, usd in coverage.top_untagged[:3]:
        print(f"  {arn.rsplit('/', 1)[-1]:<22} missing {missing}" + (f"  ≈ ${usd:,.0f}/month" if usd else ""))


def _event_text() -> str:
    from pathlib import Path

    sample = Path(__file__).resolve().parents[3] / "events" / "eventbridge" / "scheduled_nightly_sweep.json"
    return sample.read_text()


if __name__ == "__main__":
    sys.exit(main())
