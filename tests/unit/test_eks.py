"""EKS GPU waste: each node group, node, namespace and cluster verdict with its action and dollars, the re-check
before a scale-down, and the absence table (a missing series is never idle), without any AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.eks import (
    CLUSTER_TYPE,
    NAMESPACE_TYPE,
    NODE_TYPE,
    NODEGROUP_TYPE,
    Cluster,
    ClusterSignals,
    Node,
    NodeGroup,
    NodeUsage,
    PodUsage,
    classify_cluster,
    recheck_nodegroup,
    scale_target,
)
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Series, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW

POINTS = 7 * 24
FULL = (1 << POINTS) - 1
OPT_IN = Policy.model_validate({"eks": {"scale_idle_dev_nodegroups": True}})
MARK = {"cost-janitor:idle-since": (NOW - timedelta(days=2)).isoformat()}
CLUSTER = Cluster(name="ml", arn="arn:aws:eks:us-east-1:123456789012:cluster/ml", region="us-east-1",
                  account="123456789012", tags={"team": "vision", "owner": "ana@example.com"}, insights=True)


def flat(value: float, points: int = POINTS) -> Series:
    return Series(mask=(1 << points) - 1, total=value * points, maximum=value)


def group(env: str = "dev", **overrides: Any) -> NodeGroup:
    return NodeGroup(**{"cluster": "ml", "name": "gpu", "region": "us-east-1", "account": "123456789012",
                        "arn": "arn:aws:eks:us-east-1:123456789012:nodegroup/ml/gpu/1f2e",
                        "instance_types": ("g5.12xlarge",), "min_size": 1, "max_size": 4, "desired_size": 2,
                        "asg_names": ("eks-gpu-1f2e",), "tags": {"environment": env}, **overrides})


def node(instance_id: str, **overrides: Any) -> Node:
    return Node(**{"instance_id": instance_id, "instance_type": "g5.12xlarge", "cluster": "ml", "nodegroup": "gpu",
                   "launch_time": NOW - timedelta(days=10), **overrides})


def usage(requested: float = 0.0, util: float | None = 3.0, limit: float = 4.0, **overrides: Any) -> NodeUsage:
    return NodeUsage(**{"gpu_limit": flat(limit), "gpu_requested": flat(requested),
                        "gpu_utilization": None if util is None else flat(util), "recent_requested": flat(requested,
                                                                                                          4),
                        **overrides})


def world(g: NodeGroup | None = None, nodes: list[Node] | None = None, use: dict[str, NodeUsage] | None = None,
          policy: Policy = OPT_IN, pods: tuple[PodUsage, ...] = (), desired: Series | None = None,
          cluster: Cluster = CLUSTER) -> tuple[Cluster, list[NodeGroup], list[Node], ClusterSignals, Policy]:
    g = g or group()
    nodes = [node("i-1"), node("i-2")] if nodes is None else nodes
    use = {n.instance_id: usage() for n in nodes} if use is None else use
    return cluster, [g], nodes, ClusterSignals(nodes=use, pods=pods, desired={g.name: desired}, points=POINTS), policy


def judge(**kwargs: Any) -> list[Finding]:
    return classify_cluster(*world(**kwargs), now=NOW)


def the(findings: list[Finding], resource_type: str) -> Finding:
    [f] = [f for f in findings if f.resource_type == resource_type]
    return f


NODEGROUP_CASES: list[tuple[str, dict[str, Any], Verdict, ActionKind | Ask | None]] = [
    ("a_dev_group_no_pod_asked_a_gpu_of_is_marked_with_the_opt_in", {}, Verdict.IDLE, ActionKind.MARK_IDLE),
    ("a_marked_dev_group_past_the_grace_is_scaled_to_zero", {"g": group(tags={"environment": "dev", **MARK})},
     Verdict.IDLE, ActionKind.SCALE_NODEGROUP),
    ("without_the_opt_in_a_dev_group_is_asked", {"policy": Policy()}, Verdict.IDLE, Ask.JUSTIFY),
    ("a_prod_group_is_asked_never_scaled", {"g": group("prod")}, Verdict.IDLE, Ask.JUSTIFY),
    ("gpus_requested_and_used_under_the_threshold_is_underused",
     {"use": {"i-1": usage(2.0, 4.0), "i-2": usage(0.0)}}, Verdict.UNDERUSED, Ask.REVIEW),
    ("gpus_requested_and_used_is_busy", {"use": {"i-1": usage(4.0, 80.0), "i-2": usage(3.0, 60.0)}},
     Verdict.BUSY, None),
    ("a_busy_group_loses_its_mark", {"g": group(tags={"environment": "dev", **MARK}),
                                     "use": {"i-1": usage(4.0, 80.0), "i-2": usage(3.0, 60.0)}},
     Verdict.BUSY, ActionKind.UNMARK_IDLE),
    ("desired_never_below_its_peak_with_gpus_mostly_free_scales_down_reluctantly",
     {"use": {"i-1": usage(1.0, 70.0), "i-2": usage(0.0, 0.0)}, "desired": flat(2.0)},
     Verdict.NEVER_SCALED_DOWN, Ask.REVIEW),
    ("a_dev_group_at_min_with_nothing_asking_at_night_is_held_at_min",
     {"use": {n: usage(2.0, 70.0, recent_requested=flat(0.0, 4)) for n in ("i-1", "i-2")}},
     Verdict.HELD_AT_MIN, Ask.REVIEW),
    ("a_kept_group_is_exempt", {"g": group(tags={"environment": "dev", "cost-janitor:keep-until": "2026-12-31"})},
     Verdict.EXEMPT, None),
    ("a_group_scaled_to_zero_is_fine", {"g": group(desired_size=0, min_size=0), "nodes": []}, Verdict.COMPLIANT,
     None),
    ("a_node_younger_than_a_day_is_not_judged", {"nodes": [node("i-1", launch_time=NOW - timedelta(hours=3))]},
     Verdict.STARTED_RECENTLY, None),
]


@pytest.mark.parametrize("kwargs, verdict, action", [c[1:] for c in NODEGROUP_CASES],
                         ids=[c[0] for c in NODEGROUP_CASES])
def test_each_gpu_node_group_gets_its_verdict_and_action(kwargs: dict[str, Any], verdict: Verdict,
                                                        action: ActionKind | Ask | None) -> None:
    f = the(judge(**kwargs), NODEGROUP_TYPE)
    assert (f.verdict, f.action) == (verdict, action), f.reason
    assert f.kind == FindingKind.EKS_GPU and f.resource_id == "ml/gpu"
    if verdict in (Verdict.IDLE, Verdict.UNDERUSED, Verdict.NEVER_SCALED_DOWN, Verdict.HELD_AT_MIN):
        assert f.monthly_usd == round(2 * 5.672 * 730, 2)  # two g5.12xlarge at the offline us-east-1 price


def test_a_cpu_node_group_is_not_this_familys_concern() -> None:
    assert not [f for f in judge(g=group(instance_types=("m5.xlarge",)), nodes=[node("i-1",
                instance_type="m5.xlarge")]) if f.resource_type == NODEGROUP_TYPE]


def test_the_scale_down_keeps_max_size_and_says_the_way_back() -> None:
    f = the(judge(g=group(tags={"environment": "dev", **MARK})), NODEGROUP_TYPE)
    assert scale_target(f) == {"minSize": 0, "desiredSize": 0, "maxSize": 4}
    assert any("update-nodegroup-config" in n and "minSize=1,maxSize=4,desiredSize=2" in n for n in f.notes)


def test_karpenter_and_self_managed_gpu_nodes_are_reported_never_acted_on() -> None:
    nodes = [node("i-k", nodegroup=None, nodepool="gpu-pool"), node("i-s", nodegroup=None)]
    found = judge(nodes=nodes, use={"i-k": usage(), "i-s": usage()})
    karpenter, self_managed = sorted((f for f in found if f.resource_type == NODE_TYPE), key=lambda f: f.resource_id)
    assert (karpenter.verdict, karpenter.action, karpenter.action_status) == (Verdict.IDLE, Ask.REVIEW, None)
    assert "consolidationPolicy" in karpenter.reason and karpenter.monthly_usd == round(5.672 * 730, 2)
    assert self_managed.verdict == Verdict.IDLE and not isinstance(self_managed.action, ActionKind)


def _pod(namespace: str, pod: str, gpus: float = 0.0, util: float | None = None, cpu: tuple[float, float] = (2, 1),
         memory: tuple[float, float] = (4e9, 3e9)) -> PodUsage:
    return PodUsage(namespace=namespace, pod=pod, gpu_request=flat(gpus) if gpus else None,
                    gpu_utilization=None if util is None else flat(util), cpu_request=flat(cpu[0]),
                    cpu_used=flat(cpu[1]), memory_request=flat(memory[0]), memory_used=flat(memory[1]))


def test_a_namespace_over_requesting_gpus_is_reported_with_the_dollars_of_the_difference() -> None:
    pods = (_pod("research", "train-0", gpus=4, util=5.0), _pod("research", "train-1", gpus=4, util=15.0))
    f = the(judge(use={"i-1": usage(4.0, 80.0), "i-2": usage(4.0, 80.0)}, pods=pods), NAMESPACE_TYPE)
    assert (f.verdict, f.action) == (Verdict.OVER_REQUESTED, Ask.RIGHT_SIZE)
    # 8 GPUs requested all window, 0.8 used on average: 7.2 GPUs idle at a g5.12xlarge's price per GPU
    assert f.monthly_usd == round(7.2 * 5.672 / 4 * 730, 2)
    assert f.evidence["gpu_hours_requested"] == 8 * POINTS and "per GPU of g5.12xlarge" in str(f.price_source)
    assert f.team == "vision"


def test_a_namespace_is_its_teams_when_the_policy_maps_it() -> None:
    policy = Policy.model_validate({"eks": {"namespace_teams": {"research": "nlp"}}})
    f = the(judge(policy=policy, pods=(_pod("research", "p", cpu=(8, 1)),)), NAMESPACE_TYPE)
    assert (f.verdict, f.team, f.monthly_usd) == (Verdict.OVER_REQUESTED, "nlp", None)
    assert "CPU: requests 8.0× use" in f.reason and "not priced" in f.reason


def test_a_namespace_using_what_it_asks_is_not_reported() -> None:
    assert not [f for f in judge(pods=(_pod("web", "p"),)) if f.resource_type == NAMESPACE_TYPE]


def test_a_cluster_without_container_insights_gets_one_finding_and_no_verdict_on_its_nodes() -> None:
    found = judge(cluster=CLUSTER.model_copy(update={"insights": False}))
    [f] = found
    assert (f.resource_type, f.verdict, f.action) == (CLUSTER_TYPE, Verdict.NO_CONTAINER_INSIGHTS, None)
    assert "amazon-cloudwatch-observability" in f.reason.lower().replace(" ", "-") or "Observability" in f.reason
    assert "billed per observation" in f.reason and f.evidence["gpus"] == 8


# An absent signal is never idle: nothing is marked or scaled, and no dollars are claimed.
ABSENT: list[tuple[str, dict[str, Any]]] = [
    ("a_node_publishes_no_gpu_series", {"use": {"i-1": usage(), "i-2": NodeUsage()}}),
    ("a_node_has_no_series_at_all", {"use": {"i-1": usage()}}),
    ("gpu_requests_cover_too_few_periods", {"use": {"i-1": usage(), "i-2": usage(gpu_requested=flat(0.0, 20))}}),
    ("gpus_requested_and_no_utilisation_published", {"use": {"i-1": usage(2.0, None), "i-2": usage()}}),
    ("a_neuron_node_group", {"g": group(instance_types=("inf2.xlarge",)),
                             "nodes": [node("i-1", instance_type="inf2.xlarge")]}),
    ("desired_size_above_zero_and_no_node_found", {"nodes": []}),
    ("marked_and_then_blind_the_mark_is_withdrawn", {"g": group(tags={"environment": "dev", **MARK}),
                                                     "use": {"i-1": usage(), "i-2": NodeUsage()}}),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_a_node_group_without_its_signal_cannot_be_judged(kwargs: dict[str, Any]) -> None:
    f = the(classify_cluster(*world(**kwargs), now=NOW), NODEGROUP_TYPE)
    assert f.verdict in (Verdict.CANNOT_JUDGE, Verdict.ACCELERATOR_NOT_MEASURED), f.reason
    marked = "cost-janitor:idle-since" in (kwargs.get("g") or group()).tags
    assert f.action == (ActionKind.UNMARK_IDLE if marked else None)
    assert f.monthly_usd is None and f.severity == "info"


def test_a_namespace_whose_gpu_pods_publish_no_utilisation_cannot_be_judged_absent() -> None:
    f = the(judge(pods=(_pod("research", "train-0", gpus=4, util=None),)), NAMESPACE_TYPE)
    assert (f.verdict, f.action, f.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None)


def test_a_node_outside_node_groups_without_series_is_absent_not_idle() -> None:
    f = the(judge(nodes=[node("i-k", nodegroup=None, nodepool="p")], use={}), NODE_TYPE)
    assert (f.verdict, f.action, f.monthly_usd) == (Verdict.CANNOT_JUDGE, None, None)


def test_a_missing_desired_size_history_is_not_reluctance_and_says_how_to_collect_it() -> None:
    f = the(judge(use={"i-1": usage(1.0, 70.0), "i-2": usage(0.0, 0.0)}, desired=None), NODEGROUP_TYPE)
    assert f.verdict != Verdict.NEVER_SCALED_DOWN
    assert any("GroupDesiredCapacity is not collected" in n for n in f.notes)


RECHECK: list[tuple[str, Any, float | None, str | None]] = [
    ("unchanged_and_nothing_requested_it_is_scaled", group(tags={"environment": "dev", **MARK}), 0.0, None),
    ("gone", None, 0.0, "the node group is gone"),
    ("updating", group(status="UPDATING", tags={"environment": "dev", **MARK}), 0.0, "UPDATING"),
    ("kept", group(tags={"environment": "dev", **MARK, "cost-janitor:keep-until": "2026-12-31"}), 0.0, "kept"),
    ("retagged_prod", group(tags={"environment": "prod", **MARK}), 0.0, "no longer tagged dev"),
    ("a_pod_asks_a_gpu_now", group(tags={"environment": "dev", **MARK}), 1.0, "request 1 GPU"),
    ("requests_cannot_be_read_absent", group(tags={"environment": "dev", **MARK}), None, "never idle"),
]


@pytest.mark.parametrize("current, requested, why", [c[1:] for c in RECHECK], ids=[c[0] for c in RECHECK])
def test_the_scale_down_is_checked_again_just_before(current: NodeGroup | None, requested: float | None,
                                                     why: str | None) -> None:
    planned = the(judge(g=group(tags={"environment": "dev", **MARK})), NODEGROUP_TYPE)
    assert planned.action == ActionKind.SCALE_NODEGROUP
    again = recheck_nodegroup(planned, current, requested, OPT_IN, now=NOW)
    if why is None:
        assert again == planned
    else:
        assert again.action is None and why in again.notes[-1]


def test_the_owner_reads_in_slack_what_happens_to_a_marked_node_group() -> None:
    import json

    from cost_janitor.slack_blocks import finding_blocks

    f = the(judge(), NODEGROUP_TYPE)
    blocks = json.dumps([b.to_dict() for b in finding_blocks(f, OPT_IN, outcome=None)])
    assert "minSize and desiredSize are set to 0" in blocks and "maxSize stays" in blocks
    assert '"keep"' in blocks and '"not_mine"' in blocks and "stop_now" not in blocks
    insights = the(judge(cluster=CLUSTER.model_copy(update={"insights": False})), CLUSTER_TYPE)
    assert "until Container Insights is on" in json.dumps([b.to_dict() for b in finding_blocks(
        insights, OPT_IN, outcome=None)])


def test_the_digest_has_one_line_per_cluster_with_its_dollars_at_stake_and_its_scale_downs() -> None:
    import json

    from cost_janitor.core.eks import digest_by_cluster
    from cost_janitor.core.models import LedgerRecord

    def record(resource: str, verdict: str, usd: float | None, action: str = "review", status: str = "planned",
               days: float = 1) -> LedgerRecord:
        return LedgerRecord(resource_id=resource, action=action, status=status, at=NOW - timedelta(days=days),
                            monthly_usd=usd, kind="eks-gpu", verdict=verdict,
                            evidence=json.dumps({"cluster": resource.split("/")[0]}))

    lines = digest_by_cluster([
        record("ml/gpu-dev", "idle", 8281.12, "mark-idle", "done", days=3),
        record("ml/gpu-dev", "idle", 8281.12, "scale-nodegroup", "done", days=2),
        record("ml/research", "over-requested", 5287.54, "right-size"),
        record("ml/old", "idle", 999.0, days=9),  # older than the week: not counted
        record("legacy", "no-container-insights", None),
        LedgerRecord(resource_id="i-0abc", action="stop", status="done", at=NOW, monthly_usd=50.0,
                     kind="idle-instance", verdict="idle"),
    ], now=NOW)
    assert lines == ["*EKS ml:* $13,569/month at stake (idle $8,281, over-requested $5,288); 1 node group(s) scaled "
                     "to zero"]


def test_findings_no_answer_could_tag_get_no_buttons() -> None:
    """Keep / Snooze / Not mine write tags on the resource: a namespace is no AWS resource and a Karpenter node is
    reported only, so their messages carry no buttons (a click would fail in the answers Lambda, then the DLQ)."""
    from cost_janitor.slack_blocks import buttons_for

    pods = (_pod("research", "train-0", gpus=4, util=5.0),)
    found = judge(nodes=[node("i-1"), node("i-k", nodegroup=None, nodepool="p")],
                  use={"i-1": usage(4.0, 80.0), "i-k": usage()}, pods=pods)
    namespace, karpenter = the(found, NAMESPACE_TYPE), the(found, NODE_TYPE)
    assert (namespace.action, karpenter.action) == (Ask.RIGHT_SIZE, Ask.REVIEW)
    assert buttons_for(namespace, OPT_IN) == [] and buttons_for(karpenter, OPT_IN) == []
    idle = the(judge(policy=Policy()), NODEGROUP_TYPE)
    assert [b.action_id for b in buttons_for(idle, OPT_IN)] == ["keep", "snooze", "not_mine"]


def test_only_node_groups_the_janitor_may_have_scaled_to_zero_are_checked_against_the_ledger() -> None:
    from cost_janitor.families import Night
    from cost_janitor.families.eks import STARTED_WITHIN, _running_again

    night = Night(policy=OPT_IN, now=NOW, run_id="r", ledger=None)
    changed = group(modified_at=NOW - timedelta(hours=3))
    autoscaled = group(min_size=0, modified_at=NOW - timedelta(days=5))
    assert _running_again(changed, "us-east-1", night).at == NOW - timedelta(hours=3)  # type: ignore[union-attr]
    assert _running_again(autoscaled, "us-east-1", night).at == NOW - STARTED_WITHIN  # type: ignore[union-attr]
    assert _running_again(group(modified_at=NOW - timedelta(days=5)), "us-east-1", night) is None  # minSize 1
    assert _running_again(group(desired_size=0, min_size=0), "us-east-1", night) is None  # no nodes
