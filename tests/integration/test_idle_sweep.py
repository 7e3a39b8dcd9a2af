"""The idle sweep against a real moto server: every verdict, the mark → re-check → stop cycle over two nights,
dry-run changing nothing, prod never stopped, a failure mid-batch, and the Lambda handler end to end."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.errors import PermissionMissing
from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.handlers.idle_sweep import lambda_handler
from cost_janitor.local import iam_guard
from cost_janitor.local.context import FakeContext
from cost_janitor.local.emulator import LocalAws, subscribe_queue
from cost_janitor.settings import Settings
from tests.conftest import load_event
from tests.integration.fleet import DEV, PROD, Fleet, night

END = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
NIGHT1, NIGHT2 = night(END, 0), night(END, 1)


def _run(now: datetime, *, dry_run: bool, policy: Policy | None = None) -> Any:
    return idle_sweep.run(policy or Policy(), Settings.from_env(), now=now, run_id=f"run-{now:%d%H%M}", dry_run=dry_run)


def _by_name(fleet: Fleet, report: Any) -> dict[str, Any]:
    names = {v: k for k, v in fleet.ids.items()}
    return {names[f.resource_id]: f for f in report.findings}


@pytest.fixture
def fleet(aws: LocalAws, janitor: Any) -> Fleet:
    janitor()
    f = Fleet(aws, END)
    f.add("gpu-dev-idle", "g5.xlarge", DEV, cpu=1.5, gpus=[(0.5, 0.2)])
    f.add("gpu-training", "p4d.24xlarge", {**DEV, "owner": "cy@example.com"}, cpu=3.0,
          gpus=[(95.0, 60.0)] * 8)
    f.add("gpu-dataloader", "g5.2xlarge", DEV, cpu=4.5, gpus=[(2.0, 1.0)])
    f.add("cpu-dev-idle", "m5.xlarge", DEV, cpu=1.0)
    f.add("prod-inference", "g5.xlarge", PROD, cpu=0.8, gpus=[(1.0, 1.0)])
    f.add("new-box", "m5.large", DEV, cpu=1.0, hours=2)
    f.add("gpu-no-agent", "g4dn.xlarge", DEV, cpu=0.5)
    f.add("kept", "m5.large", {**DEV, "cost-janitor:keep-until": "2026-12-31", "cost-janitor:keep-reason": "demo"},
          cpu=0.1)
    f.add("web", "c5.large", PROD, cpu=35.0)
    return f.done()


def test_every_verdict_on_a_realistic_fleet(fleet: Fleet) -> None:
    report = _run(NIGHT1, dry_run=True)
    got = {name: (f.verdict, f.action) for name, f in _by_name(fleet, report).items()}
    assert got == {
        "gpu-dev-idle": (Verdict.IDLE, ActionKind.MARK_IDLE),
        "gpu-training": (Verdict.BUSY, None),
        "gpu-dataloader": (Verdict.IDLE, ActionKind.MARK_IDLE),
        "cpu-dev-idle": (Verdict.IDLE, ActionKind.MARK_IDLE),
        "prod-inference": (Verdict.IDLE, Ask.JUSTIFY),
        "new-box": (Verdict.INSUFFICIENT_DATA, None),
        "gpu-no-agent": (Verdict.GPU_METRICS_MISSING, Ask.INSTALL_GPU_AGENT),
        "kept": (Verdict.EXEMPT, None),
        "web": (Verdict.BUSY, None),
    }
    idle = _by_name(fleet, report)["gpu-dev-idle"]
    assert idle.evidence["gpu_max_pct"] == 0.5 and idle.evidence["cpu_points"] == 168
    assert idle.monthly_usd == 734.38


def test_gpu_metrics_are_read_only_for_instances_cpu_could_not_rule_out(fleet: Fleet) -> None:
    report = _run(NIGHT1, dry_run=True)
    # 1 DescribeInstances; GetMetricData: CPU for the 8 non-exempt instances, then network + GPU utilisation for
    # the 6 CPU could not rule out, then GPU memory for the 3 whose GPUs were idle; 1 ListMetrics page; stop
    # protection for the 3 dev boxes about to be marked (not for the fleet). SageMaker (in the default services)
    # costs an account without endpoints its three lists and two tag pages, and no metric reads; the addresses
    # family (on with ec2) one DescribeAddresses. The idle boxes' dollars after commitments: one Cost Explorer call
    # each for Savings Plans and Reserved Instances, which say this account has none (DataUnavailableException), so
    # no coverage is read.
    assert report.api_calls == {"DescribeInstances+Spot": 1, "GetMetricData": 3, "ListMetrics": 1,
                                "DescribeInstanceAttribute": 3, "DescribeAddresses": 1, "sagemaker:ListEndpoints": 1,
                                "sagemaker:ListNotebookInstances": 1, "sagemaker:GetResources": 2,
                                "sagemaker:ListDomains": 1, "ce:commitments": 2}


def test_a_stop_protected_idle_dev_box_is_not_stoppable_and_never_marked(aws: LocalAws, janitor: Any) -> None:
    janitor()
    f = Fleet(aws, END)
    f.add("protected", "m5.large", DEV, cpu=1.0, DisableApiStop=True)
    f.add("plain", "m5.large", DEV, cpu=1.0)
    f.add("prod", "m5.large", PROD, cpu=1.0)
    f.add("busy", "m5.large", DEV, cpu=60.0)
    f.done()
    report = _run(NIGHT1, dry_run=False)
    found = _by_name(f, report)
    assert (found["protected"].verdict, found["protected"].action) == (Verdict.NOT_STOPPABLE, Ask.REVIEW)
    assert "DisableApiStop" in found["protected"].reason
    assert "cost-janitor:idle-since" not in f.tags("protected")
    assert (found["plain"].action, found["plain"].action_status) == (ActionKind.MARK_IDLE, "done")
    assert report.api_calls["DescribeInstanceAttribute"] == 2  # the two dev candidates, never prod or busy boxes
    second = _run(NIGHT2, dry_run=False)
    assert (f.state("protected"), f.state("plain")) == ("running", "stopped")
    # the protected box was remembered in the ledger: only the box about to be stopped is read again
    assert second.api_calls["DescribeInstanceAttribute"] == 1
    assert _by_name(f, second)["protected"].verdict == Verdict.NOT_STOPPABLE


def test_a_sweep_whose_role_cannot_read_stop_protection_fails_loudly_and_marks_nothing(aws: LocalAws,
                                                                                      janitor: Any) -> None:
    janitor()
    f = Fleet(aws, END)
    f.add("protected", "m5.large", DEV, cpu=1.0, DisableApiStop=True)
    f.done()
    with iam_guard.withholding("ec2:DescribeInstanceAttribute") as refused, pytest.raises(PermissionMissing):
        _run(NIGHT1, dry_run=False)
    assert [r.action for r in refused] == ["ec2:DescribeInstanceAttribute"]
    assert "cost-janitor:idle-since" not in f.tags("protected")


def test_accelerators_the_agent_cannot_measure_are_never_idle_and_never_nagged(aws: LocalAws, janitor: Any) -> None:
    janitor()
    f = Fleet(aws, END)
    f.add("neuron", "inf2.xlarge", DEV, cpu=0.5)
    f.add("amd", "g4ad.xlarge", DEV, cpu=0.5)
    f.done()
    found = _by_name(f, _run(NIGHT1, dry_run=False))
    for name in ("neuron", "amd"):
        assert (found[name].verdict, found[name].action) == (Verdict.ACCELERATOR_NOT_MEASURED, None)
        assert "cost-janitor:idle-since" not in f.tags(name)


def test_dry_run_plans_through_the_real_calls_and_changes_nothing(fleet: Fleet) -> None:
    report = _run(NIGHT1, dry_run=True)
    marked = [f for f in report.findings if f.action == ActionKind.MARK_IDLE]
    assert marked and {f.action_status for f in marked} == {"dry-run"}
    assert "cost-janitor:idle-since" not in fleet.tags("cpu-dev-idle")
    report = _run(NIGHT2, dry_run=True)
    assert {fleet.state(n) for n in fleet.ids} == {"running"}


def test_dev_box_is_marked_then_rechecked_and_stopped_the_next_night(fleet: Fleet) -> None:
    first = _by_name(fleet, _run(NIGHT1, dry_run=False))
    assert first["cpu-dev-idle"].action_status == "done"
    assert first["cpu-dev-idle"].act_after == NIGHT1 + timedelta(hours=24)
    assert fleet.tags("cpu-dev-idle")["cost-janitor:idle-since"] == NIGHT1.isoformat(timespec="seconds")
    assert fleet.state("cpu-dev-idle") == "running"

    second = _by_name(fleet, _run(NIGHT2, dry_run=False))
    assert (second["cpu-dev-idle"].action, second["cpu-dev-idle"].action_status) == (ActionKind.STOP, "done")
    assert second["cpu-dev-idle"].evidence["cpu_points"] == 168  # the metrics were read again before stopping
    assert {n for n in fleet.ids if fleet.state(n) == "stopped"} == {"gpu-dev-idle", "gpu-dataloader",
                                                                     "cpu-dev-idle"}
    # the mark goes with the stop, so a box its owner restarts is announced afresh before any later stop
    assert "cost-janitor:idle-since" not in fleet.tags("cpu-dev-idle")


def test_prod_is_never_stopped_even_when_idle_for_weeks(fleet: Fleet) -> None:
    for n in range(3):
        found = _by_name(fleet, _run(night(END, 0) + timedelta(hours=n), dry_run=False))
        assert found["prod-inference"].action == Ask.JUSTIFY
    assert fleet.state("prod-inference") == "running"
    assert "cost-janitor:idle-since" not in fleet.tags("prod-inference")


def test_a_box_that_became_busy_loses_its_mark(aws: LocalAws, janitor: Any) -> None:
    janitor()
    fleet = Fleet(aws, END)
    fleet.add("flip", "m5.large", {**DEV, "cost-janitor:idle-since": "2026-11-26T02:05:00+00:00"}, cpu=60.0)
    fleet.done()
    found = _by_name(fleet, _run(NIGHT1, dry_run=False))
    assert (found["flip"].verdict, found["flip"].action, found["flip"].action_status) == (
        Verdict.BUSY, ActionKind.UNMARK_IDLE, "done")
    assert "cost-janitor:idle-since" not in fleet.tags("flip")


def test_one_failure_in_a_batch_of_stops_never_stops_the_rest(aws: LocalAws, janitor: Any) -> None:
    janitor()
    fleet = Fleet(aws, END)
    marked = {**DEV, "cost-janitor:idle-since": "2026-11-25T02:05:00+00:00"}
    fleet.add("a", "m5.large", marked, cpu=1.0)
    fleet.add("protected", "m5.large", marked, cpu=1.0, DisableApiStop=True)
    fleet.add("c", "m5.large", marked, cpu=1.0)
    fleet.done()
    # Stop protection is read before acting, so for the stop to fail the read must miss it: protection is turned
    # on after the janitor looked (the read still says off). (A refused read is no longer a way to get here: it
    # raises PermissionMissing — tested above.)
    original = botocore.client.BaseClient._make_api_call

    def protection_unreadable(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "DescribeInstanceAttribute" and params["InstanceId"] == fleet.ids["protected"]:
            return {"InstanceId": params["InstanceId"], "DisableApiStop": {"Value": False}}
        return original(self, operation, params)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(botocore.client.BaseClient, "_make_api_call", protection_unreadable)
        found = _by_name(fleet, _run(NIGHT1, dry_run=False))
    assert {n: (f.action_status, f.action_error) for n, f in found.items()} == {
        "a": ("done", None), "protected": ("failed", "OperationNotPermitted"), "c": ("done", None)}
    assert (fleet.state("a"), fleet.state("protected"), fleet.state("c")) == ("stopped", "running", "stopped")


def test_idle_asg_member_and_spot_are_reported_not_stopped(aws: LocalAws, janitor: Any) -> None:
    janitor()
    ec2, autoscaling = aws.client("ec2"), aws.client("autoscaling")
    ec2.create_launch_template(LaunchTemplateName="batch-workers", LaunchTemplateData={
        "ImageId": "ami-0c55b159cbfafe1f0", "InstanceType": "m5.large",
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "environment", "Value": "dev"}]}]})
    autoscaling.create_auto_scaling_group(AutoScalingGroupName="batch", MinSize=1, MaxSize=1, DesiredCapacity=1,
                                          LaunchTemplate={"LaunchTemplateName": "batch-workers"},
                                          AvailabilityZones=["us-east-1a"])
    fleet = Fleet(aws, END)
    [asg_member] = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    fleet.ids["asg"] = asg_member
    from cost_janitor.local.emulator import seed_instance_metrics
    seed_instance_metrics(fleet.seeder, asg_member, end=END, hours=200, cpu=1.0)
    fleet.add("spot", "m5.large", DEV, cpu=1.0, InstanceMarketOptions={"MarketType": "spot"})
    fleet.done()
    found = _by_name(fleet, _run(NIGHT1, dry_run=False))
    assert (found["asg"].verdict, found["asg"].action) == (Verdict.NOT_STOPPABLE, Ask.REVIEW)
    assert "Auto Scaling group batch" in found["asg"].reason
    assert (found["spot"].verdict, found["spot"].action) == (Verdict.NOT_STOPPABLE, Ask.REVIEW)
    assert fleet.state("asg") == fleet.state("spot") == "running"


def test_findings_reach_subscribers_with_filterable_attributes_and_the_ledger(fleet: Fleet, aws: LocalAws) -> None:
    settings = Settings.from_env()
    queue = subscribe_queue(aws, str(settings.findings_topic_arn))
    report = _run(NIGHT1, dry_run=False)
    sqs = aws.client("sqs")
    bodies = []
    for _ in range(5):
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            bodies.append(json.loads(m["Body"]))
    published = sorted(f["resource_id"] for b in bodies for f in b["findings"])
    assert published == sorted(f.resource_id for f in report.findings if f.publishable)
    assert report.messages_published == len(bodies)
    assert all(b["schema"] == "cost-janitor/finding/v2" for b in bodies)

    from cost_janitor.adapters.ledger import Ledger
    ledger = Ledger(aws.client("dynamodb"), str(settings.ledger_table))
    [entry] = ledger.history(fleet.ids["cpu-dev-idle"])
    assert (entry.action, entry.status, entry.verdict, entry.actor) == (
        "mark-idle", "done", "idle", "cost-janitor")
    assert json.loads(entry.evidence)["cpu_avg_pct"] == 1.0
    assert ledger.history(fleet.ids["web"]) == []


def test_lambda_handler_runs_once_per_event_and_uses_the_deployed_policy(fleet: Fleet, aws: LocalAws) -> None:
    event = load_event("eventbridge/scheduled_nightly_sweep.json")
    first = lambda_handler(event, FakeContext())
    assert first["dry_run"] is True and first["instances"] == len(fleet.ids)
    again = lambda_handler(event, FakeContext())
    assert again == first  # a duplicate delivery returns the first result; nothing runs twice
    assert {fleet.state(n) for n in fleet.ids} == {"running"}


def test_bad_event_is_parked_in_the_dead_letter_queue_not_retried(fleet: Fleet, aws: LocalAws) -> None:
    result = lambda_handler(load_event("eventbridge/invalid/scheduled_wrong_detail_type.json"), FakeContext())
    assert result["status"] == "rejected" and "detail-type" in result["reason"]
    import os
    [message] = aws.client("sqs").receive_message(QueueUrl=os.environ["DLQ_URL"],
                                                  MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["source"] == "aws.ec2"
    assert "detail-type" in message["MessageAttributes"]["reason"]["StringValue"]


def test_invalid_deployed_policy_fails_loudly_naming_the_parameter(fleet: Fleet, aws: LocalAws) -> None:
    aws.client("ssm").put_parameter(Name="/cost-janitor/policy", Value='{"idle": {"cpu_avg_pct": -3}}',
                                    Type="String", Overwrite=True)
    from cost_janitor.core.errors import ConfigError
    with pytest.raises(ConfigError, match=r"(?s)/cost-janitor/policy is invalid.*policy.idle.cpu_avg_pct"):
        lambda_handler(load_event("eventbridge/scheduled_sweep_one_region.json"), FakeContext())


def test_idle_kubernetes_nodes_are_never_marked_or_stopped_by_the_ec2_sweep(aws: LocalAws, janitor: Any) -> None:
    """An EKS cluster whose GPU nodes Karpenter launched, plus a managed node group: idle or not, marked by an older
    version or not, the EC2 sweep leaves every node to the cluster (stopping one breaks its pods and its controller
    replaces it) — no stop-protection read, no GPU agent tag, no mark, no stop."""
    janitor()
    f = Fleet(aws, END)
    karpenter = {"kubernetes.io/cluster/ml": "owned", "eks:eks-cluster-name": "ml", "karpenter.sh/nodepool": "gpu"}
    f.add("karpenter-gpu", "g5.xlarge", {**DEV, **karpenter}, cpu=0.5, gpus=[(0.0, 0.0)])
    f.add("karpenter-gpu-no-agent", "g5.xlarge", {**DEV, **karpenter}, cpu=0.5)
    f.add("karpenter-cpu", "m5.large", {**DEV, **karpenter, "karpenter.sh/nodepool": "default",
                                        "cost-janitor:idle-since": (NIGHT1 - timedelta(days=2)).isoformat()}, cpu=0.5)
    f.add("managed-ng", "g5.xlarge", {**DEV, "eks:cluster-name": "ml", "eks:nodegroup-name": "gpu-ng"}, cpu=0.5,
          gpus=[(0.0, 0.0)])
    f.done()
    for night_ in (NIGHT1, NIGHT2):
        report = _run(night_, dry_run=False)
        found = _by_name(f, report)
        assert {n: fd.verdict for n, fd in found.items()} == dict.fromkeys(found, Verdict.CLUSTER_NODE)
        assert "node group's scaling" in found["managed-ng"].reason and "cluster ml" in found["karpenter-gpu"].reason
        assert "DescribeInstanceAttribute" not in report.api_calls
    for name in f.ids:
        assert f.state(name) == "running"
        assert not {"cost-janitor:idle-since", "cost-janitor:gpu-agent"} & set(f.tags(name)), name


def test_a_box_started_again_in_another_region_ends_its_savings(aws: LocalAws, janitor: Any) -> None:
    """EC2 delivers state-change events only in the instance's own region, so the stack's rule never hears a box in
    us-west-2 start again: the next sweep of us-west-2 sees it running and ends its savings (one ledger read)."""
    from cost_janitor.adapters.ledger import Ledger

    policy = Policy.model_validate({"regions": ["us-east-1", "us-west-2"]})
    janitor(policy)
    west = Fleet(aws, END, region="us-west-2")
    west.add("west-dev", "m5.large", {**DEV, "cost-janitor:idle-since": "2026-11-25T02:05:00+00:00"}, cpu=1.0)
    west.done()
    first = _by_name(west, _run(NIGHT1, dry_run=False, policy=policy))
    assert (first["west-dev"].action, first["west-dev"].action_status) == (ActionKind.STOP, "done")
    west.ec2.start_instances(InstanceIds=[west.ids["west-dev"]])  # its owner wants it back
    second = _run(NIGHT2, dry_run=False, policy=policy)
    assert second.restarted == 1
    ledger = Ledger(aws.client("dynamodb"), Settings.from_env().ledger_table or "")
    assert any(e.action == "started" for e in ledger.history(west.ids["west-dev"]))
    assert _run(NIGHT2 + timedelta(hours=1), dry_run=True, policy=policy).restarted == 0  # once


def test_a_regions_watch_list_keeps_the_newest_entries_under_dynamodbs_item_limit(aws: LocalAws,
                                                                                  janitor: Any) -> None:
    from cost_janitor.adapters.ledger import Ledger

    janitor()
    ledger = Ledger(aws.client("dynamodb"), Settings.from_env().ledger_table or "")
    base = datetime(2026, 6, 1, tzinfo=UTC)
    many = {f"i-{n:017x}": base + timedelta(minutes=n) for n in range(Ledger.REGION_SET_MAX + 2)}
    ledger.save_janitor_stopped("us-east-1", many)
    kept = ledger.janitor_stopped("us-east-1")
    assert len(kept) == Ledger.REGION_SET_MAX and "i-00000000000000000" not in kept and f"i-{5001:017x}" in kept
