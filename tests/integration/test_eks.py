"""The EKS family against a real moto server (EKS node groups, their EC2 nodes, Container Insights series seeded as
the CloudWatch agent publishes them): an idle dev GPU node group is marked, then scaled to zero after the grace; a
prod one is asked; a Karpenter node running only CPU pods is reported and never acted on; a namespace over-requesting
GPUs is reported with dollars; a cluster without Container Insights gets the how-to-enable finding and nothing else;
the EC2 sweep never stops a node. Each call is held to the sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.eks import CLUSTER_TYPE, NAMESPACE_TYPE, NODE_TYPE, NODEGROUP_TYPE
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import ec2, eks
from cost_janitor.local.emulator import LocalAws, launch
from cost_janitor.local.emulator.seeding import (
    MetricSeeder,
    launched_ago,
    seed_desired_capacity,
    seed_eks_nodegroup,
    seed_node_insights,
    seed_pod_insights,
)
from cost_janitor.settings import Settings

# five past the hour (the series seeded up to it fill the window's whole hours), and not after the real clock: the
# node group scaled back up in a test gets a real modifiedAt, which must come after the night that scaled it down
NOW = (datetime.now(UTC) - timedelta(minutes=5)).replace(minute=5, second=0, microsecond=0)
HOURS = 2 * 24
EKS_ON = {"idle": {"services": ["ec2", "eks"], "lookback_days": 2}}  # two days of series: same verdicts, seeded fast
OPT_IN = Policy.model_validate({**EKS_ON, "eks": {"scale_idle_dev_nodegroups": True}})
DEV = {"environment": "dev", "team": "vision", "owner": "ana@example.com"}
PROD = {"environment": "prod", "team": "search", "owner": "bo@example.com"}
MARK = "cost-janitor:idle-since"


@pytest.fixture
def world(aws: LocalAws) -> dict[str, Any]:
    """Cluster "ml" (Container Insights on): an idle dev GPU node group, an idle prod one, a busy dev one, a
    Karpenter GPU node running only CPU pods, and namespaces; cluster "legacy" without Container Insights."""
    seeder = MetricSeeder(aws.client("cloudwatch"))
    ids: dict[str, Any] = {}
    for name, tags, requested, util in (("gpu-dev", DEV, 0.0, 0.0), ("gpu-prod", PROD, 0.0, 0.0),
                                        ("train", DEV, 4.0, 85.0)):
        asg, nodes = seed_eks_nodegroup(aws, "ml", name, instance_type="g5.12xlarge", nodes=2, min_size=1,
                                        max_size=4, tags=tags)
        ids[name] = nodes
        for node in nodes:
            seed_node_insights(seeder, "ml", node, end=NOW, hours=HOURS, gpus=4, requested=requested,
                               utilization=util)
        seed_desired_capacity(seeder, asg, [2] * HOURS, end=NOW)
    karpenter = launch(aws.client("ec2"), "g5.xlarge", {"eks:eks-cluster-name": "ml", "karpenter.sh/nodepool": "gpu",
                                                        "kubernetes.io/cluster/ml": "owned", **DEV})
    launched_ago(karpenter, 48)
    seed_node_insights(seeder, "ml", karpenter, end=NOW, hours=HOURS, gpus=1, requested=0, utilization=0)
    ids["karpenter"] = karpenter
    for pod in ("train-0", "train-1"):
        seed_pod_insights(seeder, "ml", "research", pod, end=NOW, hours=HOURS, gpus=4, gpu_utilization=10)
    seed_pod_insights(seeder, "ml", "web", "api-0", end=NOW, hours=HOURS)
    _, ids["legacy"] = seed_eks_nodegroup(aws, "legacy", "gpu", instance_type="g5.xlarge", nodes=1, min_size=1,
                                          max_size=2, tags=DEV)
    seeder.flush()
    return ids


def _sweep(policy: Policy, run_id: str, *, dry_run: bool = False, families: Any = (eks.FAMILY,)) -> dict[str,
                                                                                                        Finding]:
    report = idle_sweep.run(policy, Settings.from_env(), now=NOW, run_id=run_id, dry_run=dry_run,
                            families=list(families))
    assert not report.failed_regions, report.failed_regions
    return {f.resource_id: f for f in report.findings}


def _group_tags(aws: LocalAws, cluster: str, name: str) -> dict[str, str]:
    return dict(aws.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]["tags"])


def _scaling(aws: LocalAws, cluster: str, name: str) -> dict[str, int]:
    return dict(aws.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"][
        "scalingConfig"])


def test_an_idle_dev_gpu_node_group_is_marked_then_scaled_to_zero_after_the_grace(aws: LocalAws, janitor: Any,
                                                                                  world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    found = _sweep(OPT_IN, "night-1")
    dev, prod, busy = found["ml/gpu-dev"], found["ml/gpu-prod"], found["ml/train"]
    assert (dev.verdict, dev.action, dev.action_status) == (Verdict.IDLE, ActionKind.MARK_IDLE, "done")
    assert dev.resource_type == NODEGROUP_TYPE and dev.monthly_usd == round(2 * 5.672 * 730, 2)
    assert (dev.owner, dev.team) == ("ana@example.com", "vision")
    assert (prod.verdict, prod.action) == (Verdict.IDLE, Ask.JUSTIFY) and MARK not in _group_tags(aws, "ml",
                                                                                                   "gpu-prod")
    assert busy.verdict == Verdict.BUSY
    assert MARK in _group_tags(aws, "ml", "gpu-dev")

    # the grace period passes (the mark is dated two days back), and the next night scales it to zero
    aws.client("eks").tag_resource(resourceArn=dev.resource_arn, tags={MARK: (NOW - timedelta(days=2)).isoformat()})
    again = _sweep(OPT_IN, "night-2")["ml/gpu-dev"]
    assert (again.action, again.action_status) == (ActionKind.SCALE_NODEGROUP, "done"), again.notes
    assert _scaling(aws, "ml", "gpu-dev") == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    assert _scaling(aws, "ml", "gpu-prod") == {"minSize": 1, "maxSize": 4, "desiredSize": 2}  # prod: only asked

    # its owner scales it back up: the next night ends the savings the ledger counts for it (once)
    aws.client("eks").update_nodegroup_config(clusterName="ml", nodegroupName="gpu-dev",
                                              scalingConfig={"minSize": 1, "desiredSize": 1})
    report = idle_sweep.run(OPT_IN, Settings.from_env(), now=NOW, run_id="night-3", dry_run=False,
                            families=[eks.FAMILY])
    assert report.restarted == 1
    assert idle_sweep.run(OPT_IN, Settings.from_env(), now=NOW, run_id="night-4", dry_run=True,
                          families=[eks.FAMILY]).restarted == 0  # once


def test_a_pod_asking_for_a_gpu_between_the_read_and_the_act_stops_the_scale_down(
        aws: LocalAws, janitor: Any, world: dict[str, Any]) -> None:
    """The re-check reads the node group and its nodes' GPU requests again, from the emulator: a training job that
    landed after the night's read stops the scale-down (the family's recheck, called as the sweep calls it)."""
    from cost_janitor.families import Night

    janitor(OPT_IN)
    aws.client("eks").tag_resource(resourceArn=_sweep(OPT_IN, "night-1")["ml/gpu-dev"].resource_arn,
                                   tags={MARK: (NOW - timedelta(days=2)).isoformat()})
    planned = _sweep(OPT_IN, "night-2", dry_run=True)["ml/gpu-dev"]
    assert (planned.action, planned.action_status) == (ActionKind.SCALE_NODEGROUP, "dry-run")
    planned = planned.model_copy(update={"action_status": "planned"})
    night = Night(policy=OPT_IN, now=NOW, run_id="night-2", ledger=None)
    assert eks.FAMILY.recheck("us-east-1", [planned], night) == [planned]  # nothing asks yet: it would be scaled

    seeder = MetricSeeder(aws.client("cloudwatch"))
    for node in world["gpu-dev"]:  # a training job lands on the node group in the last hours
        seeder.series("ContainerInsights", "node_gpu_usage_total", {
            "ClusterName": "ml", "InstanceId": node, "NodeName": f"ip-{node[-8:]}.ec2.internal"}, [2.0], end=NOW)
    seeder.flush()
    [again] = eks.FAMILY.recheck("us-east-1", [planned], night)
    assert again.action is None and "pods request 4 GPU(s) on it now" in again.notes[-1]
    assert night.calls["eks:GetMetricData (re-check)"] == 2 and night.calls["eks:DescribeNodegroup (re-check)"] == 2
    assert _scaling(aws, "ml", "gpu-dev")["desiredSize"] == 2


def test_karpenter_nodes_namespaces_and_a_cluster_without_insights_are_reported_and_nothing_else_acted_on(
        aws: LocalAws, janitor: Any, world: dict[str, Any]) -> None:
    janitor(OPT_IN)
    # a dry run marks and scales nothing
    dry = _sweep(OPT_IN, "dry", dry_run=True)["ml/gpu-dev"]
    assert (dry.action, dry.action_status) == (ActionKind.MARK_IDLE, "dry-run")
    assert MARK not in _group_tags(aws, "ml", "gpu-dev")

    # the EC2 sweep never marks or stops a node; it points to this family's finding
    instances = _sweep(OPT_IN, "night-ec2", families=(ec2.FAMILY,))
    for node in [*world["gpu-dev"], world["karpenter"], *world["legacy"]]:
        assert (instances[node].verdict, instances[node].action) == (Verdict.CLUSTER_NODE, None)
        assert "EKS family" in instances[node].reason

    found = _sweep(OPT_IN, "night")
    node = found[world["karpenter"]]
    assert (node.resource_type, node.verdict, node.action, node.action_status) == (
        NODE_TYPE, Verdict.IDLE, Ask.REVIEW, None)
    assert "consolidationPolicy" in node.reason and node.monthly_usd == round(1.006 * 730, 2)

    research = found["ml/research"]
    assert (research.resource_type, research.verdict, research.action) == (
        NAMESPACE_TYPE, Verdict.OVER_REQUESTED, Ask.RIGHT_SIZE)
    # 8 GPUs requested all window, 10% used: 7.2 GPUs' worth at the cheapest GPU node type's price per GPU (g5.xlarge)
    assert research.monthly_usd == round(7.2 * 1.006 * 730, 2)
    assert "ml/web" not in found  # it uses what it asks for

    # cluster "legacy" publishes no Container Insights: the how-to-enable finding, and no verdict on its nodes
    legacy = [f for f in found.values() if f.resource_id == "legacy" or f.resource_id.startswith("legacy/")
              or f.resource_id in world["legacy"]]
    assert [(f.resource_type, f.verdict) for f in legacy] == [(CLUSTER_TYPE, Verdict.NO_CONTAINER_INSIGHTS)]
    assert "CloudWatch Observability EKS add-on" in legacy[0].reason and legacy[0].action is None

    reservations = aws.client("ec2").describe_instances()["Reservations"]
    instances_now = [i for r in reservations for i in r["Instances"]]
    assert {i["State"]["Name"] for i in instances_now} == {"running"}
    assert not [i for i in instances_now if MARK in {t["Key"] for t in i.get("Tags", [])}]


def test_the_emulator_refuses_a_scaling_config_out_of_order_as_eks_does(aws: LocalAws) -> None:
    from botocore.exceptions import ClientError

    seed_eks_nodegroup(aws, "ml", "gpu-dev", instance_type="g5.xlarge", nodes=2, min_size=1, max_size=4, tags=DEV)
    with pytest.raises(ClientError, match="InvalidParameterException"):
        aws.client("eks").update_nodegroup_config(clusterName="ml", nodegroupName="gpu-dev",
                                                  scalingConfig={"minSize": 3, "desiredSize": 2})


def test_keep_on_a_prod_node_group_writes_the_answer_tags(aws: LocalAws, janitor: Any,
                                                           world: dict[str, Any]) -> None:
    """The owner's Keep (the answers Lambda's executor, held to its role): the tagging API's TagResources reaches
    an EKS node group (the emulator now serves EKS there, as AWS does), and the next night honours it."""
    from cost_janitor.capabilities import answers

    janitor(OPT_IN)
    prod = _sweep(OPT_IN, "night")["ml/gpu-prod"]
    ctx = answers.Ctx(settings=Settings.from_env(), policy=OPT_IN, slack=None, state=None, now=NOW)  # type: ignore[arg-type]
    kept = ctx.act(prod, ActionKind.KEEP, {"cost-janitor:keep-until": "2026-12-31", "cost-janitor:keep-by": "U1",
                                           "cost-janitor:keep-reason": "nightly retraining"})
    assert kept.action_status == "done"
    assert _group_tags(aws, "ml", "gpu-prod")["cost-janitor:keep-until"] == "2026-12-31"
    again = _sweep(OPT_IN, "night-2")["ml/gpu-prod"]
    assert (again.verdict, again.action) == (Verdict.EXEMPT, None)


def test_the_cli_sweeps_eks_when_asked_even_if_the_policy_leaves_it_off(aws: LocalAws, world: dict[str, Any],
                                                                        tmp_path: Any) -> None:
    """`cost-janitor sweep --services eks` from a laptop: dry-run, a policy without eks in idle.services (the
    world's two days of series as its window), the emulator."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"idle": {"lookback_days": 2}}))
    cli = str(Path(sys.executable).parent / "cost-janitor")
    result = subprocess.run([cli, "sweep", "--services", "eks", "--policy", str(policy), "--json"],
                            capture_output=True, text=True, timeout=120, env={**os.environ})
    assert result.returncode == 0, result.stderr
    found = {f["resource_id"]: f for f in json.loads(result.stdout)["findings"]}
    assert (found["ml/gpu-dev"]["verdict"], found["ml/gpu-dev"]["action"]) == ("idle", "ask-justification")
    assert found["legacy"]["verdict"] == "no-container-insights"
    assert not [i for i in found if i.startswith("i-") and found[i]["resource_type"] == "ec2:instance"]
    assert MARK not in _group_tags(aws, "ml", "gpu-dev")  # dry-run


def test_container_insights_that_cannot_be_read_is_never_read_as_no_gpu_requested(aws: LocalAws, janitor: Any,
                                                                                    world: dict[str, Any]) -> None:
    """GetMetricData refused (a role without it, throttled to the end): the clusters that publish Container Insights
    cannot be judged tonight, and nothing is marked or scaled."""
    from cost_janitor.local import iam_guard

    janitor(OPT_IN)
    with iam_guard.withholding("cloudwatch:GetMetricData") as refused:
        found = _sweep(OPT_IN, "night")
    assert refused and all(r.action == "cloudwatch:GetMetricData" for r in refused)
    assert (found["ml"].resource_type, found["ml"].verdict, found["ml"].action) == (
        CLUSTER_TYPE, Verdict.CANNOT_JUDGE, None)
    assert "ml/gpu-dev" not in found and found["legacy"].verdict == Verdict.NO_CONTAINER_INSIGHTS
    assert MARK not in _group_tags(aws, "ml", "gpu-dev")
