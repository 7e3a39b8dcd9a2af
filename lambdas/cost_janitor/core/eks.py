"""GPU waste on EKS (a resource family: families/eks.py): GPU nodes no pod asked for, GPUs asked for and not used,
namespaces that request far more than they use, node groups that scale down reluctantly. Judged only from AWS APIs
(EKS, EC2) and Container Insights; the janitor needs no access to the Kubernetes API.

The signals, as AWS documents them ("Amazon EKS and Kubernetes Container Insights with enhanced observability
metrics", CloudWatch User Guide; namespace `ContainerInsights`; the CloudWatch agent's EMF declarations agree):
- node_gpu_limit [ClusterName, InstanceId, NodeName]: "The total number of GPU(s) available on the node";
- node_gpu_usage_total [same]: "The number of GPU(s) being used by the running pods on the node" — the GPUs the
  node's pods requested (Kubernetes allocates whole GPUs); 0 all window long: no pod asked for a GPU;
- node_gpu_utilization [same]: "The percentage utilization of the GPU(s) allocated to the node";
- pod_gpu_request, pod_cpu_request, pod_cpu_usage_total, pod_memory_request, pod_memory_working_set
  [ClusterName, Namespace, PodName]: a pod's requests and use (the agent publishes no [ClusterName, Namespace]
  set for these, so a namespace is the sum of its pods);
- pod_gpu_utilization [ClusterName, Namespace, PodName, ContainerName]: "The percentage utilization of the GPU(s)
  allocated to the pod";
- cluster_node_count [ClusterName]: present for every cluster that runs Container Insights.
The node group's desired size over the window is the EC2 Auto Scaling group metric GroupDesiredCapacity
(AWS/AutoScaling, AutoScalingGroupName), which an Auto Scaling group publishes only with group metrics collection
enabled (free of charge).

An absent signal is never idle: a cluster without Container Insights gets one finding that says how to turn it on
and no verdict on its nodes; a node without GPU series, a Neuron node (its node_neuroncore_* metrics are not read
here), a node whose GPUs were requested but whose utilisation is not published, a namespace whose pods publish
requests but no use: each cannot be judged, and nothing is marked or scaled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then, no_longer_due, withdrawn
from cost_janitor.core.models import (
    ActionKind,
    Ask,
    Finding,
    FindingKind,
    LedgerRecord,
    Series,
    Verdict,
    _Frozen,
    arn,
)
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import HOURS_PER_MONTH, NEURON_PREFIXES, accelerators, instance_price, severity

NODEGROUP_TYPE = "eks:nodegroup"
NODE_TYPE = "eks:node"  # a GPU node outside managed node groups (Karpenter, self-managed): report only
NAMESPACE_TYPE = "eks:namespace"
CLUSTER_TYPE = "eks:cluster"
NAMESPACE = "ContainerInsights"
INSIGHTS_DOCS = ("https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/"
                 "install-CloudWatch-Observability-EKS-addon.html")
INSIGHTS_PRICING = ("Container Insights with enhanced observability is billed per observation (Amazon CloudWatch "
                    "pricing page); the janitor has no offline price for it, so the cost is stated, not guessed")
KARPENTER_REMEDY = ("Karpenter: let the NodePool consolidate (disruption.consolidationPolicy: "
                    "WhenEmptyOrUnderutilized, a consolidateAfter that fits) and check its disruption budgets; the "
                    "janitor never acts on Karpenter nodes")
SCALE_DOWN_REMEDY = ("check the Cluster Autoscaler's scale-down settings (scale-down-utilization-threshold, "
                     "pods that block eviction: PodDisruptionBudgets, local storage, kube-system pods) or let "
                     "Karpenter manage these nodes")


class Cluster(_Frozen):
    name: str
    arn: str
    region: str
    account: str
    tags: dict[str, str] = {}
    insights: bool | None = None  # Container Insights metrics seen for it; None: not looked at


class NodeGroup(_Frozen):
    cluster: str
    name: str
    arn: str
    region: str
    account: str
    status: str = "ACTIVE"
    instance_types: tuple[str, ...] = ()
    min_size: int = 0
    max_size: int = 0
    desired_size: int = 0
    asg_names: tuple[str, ...] = ()
    labels: dict[str, str] = {}
    tags: dict[str, str] = {}
    modified_at: datetime | None = None  # its last change (a scale-up after the janitor's scale-down among them)


class Node(_Frozen):
    """A running EC2 instance that is a node of a cluster (EC2 tags: eks:cluster-name, eks:nodegroup-name;
    Karpenter: karpenter.sh/nodepool)."""

    instance_id: str
    instance_type: str
    cluster: str
    launch_time: datetime
    nodegroup: str | None = None
    nodepool: str | None = None
    tags: dict[str, str] = {}


class NodeUsage(_Frozen):
    """A node's Container Insights series over the window (None: not published), and the GPUs its pods requested
    in the last hours before the sweep."""

    gpu_limit: Series | None = None
    gpu_requested: Series | None = None
    gpu_utilization: Series | None = None
    recent_requested: Series | None = None


class PodUsage(_Frozen):
    namespace: str
    pod: str
    gpu_request: Series | None = None
    gpu_utilization: Series | None = None  # the busiest of its containers' series
    cpu_request: Series | None = None
    cpu_used: Series | None = None
    memory_request: Series | None = None
    memory_used: Series | None = None


class ClusterSignals(_Frozen):
    nodes: dict[str, NodeUsage] = {}  # by instance id
    pods: tuple[PodUsage, ...] = ()
    desired: dict[str, Series | None] = {}  # GroupDesiredCapacity by node group name (None: not collected)
    points: int = 0  # periods in the window
    period_seconds: int = 3600


def gpu_type(instance_type: str, policy: Policy) -> bool:
    return instance_type.split(".")[0] in policy.idle.gpu_families or accelerators(instance_type) > 0


def classify_cluster(cluster: Cluster, groups: list[NodeGroup], nodes: list[Node], signals: ClusterSignals,
                     policy: Policy, *, now: datetime, run_id: str = "") -> list[Finding]:
    """One finding per GPU node group, per GPU node outside node groups, per namespace that requests GPUs or
    over-requests; a cluster without Container Insights: one finding, and nothing about its nodes."""
    if not cluster.insights:
        return [_no_insights(cluster, nodes, policy, now, run_id)]
    states = {n.instance_id: _node_state(n, signals.nodes.get(n.instance_id), policy, now) for n in nodes
              if gpu_type(n.instance_type, policy)}
    found = [_group_finding(cluster, g, [n for n in nodes if n.nodegroup == g.name], states, signals, policy, now,
                            run_id)
             for g in groups if any(gpu_type(t, policy) for t in g.instance_types)]
    found += [_node_finding(cluster, n, states[n.instance_id], policy, now, run_id) for n in nodes
              if n.nodegroup is None and n.instance_id in states]
    found += classify_namespaces(cluster, signals, _gpu_hourly(cluster, nodes, groups), policy, now=now,
                                 run_id=run_id)
    return found


class _NodeState(_Frozen):
    state: str  # no-gpu-requested | underused | busy | young | cannot-judge | not-measured
    why: str
    requested_avg: float | None = None
    limit: float | None = None
    util_max: float | None = None


def _node_state(node: Node, usage: NodeUsage | None, policy: Policy, now: datetime) -> _NodeState:
    """A GPU node over its time in the window: no pod requested a GPU, requested and used under the threshold,
    busy, too young, or cannot be judged (a missing series is never idle)."""
    hours = (now - node.launch_time).total_seconds() / 3600
    if node.instance_type.startswith(NEURON_PREFIXES):
        return _NodeState(state="not-measured", why=f"{node.instance_id} is a Neuron node: its node_neuroncore_* "
                          "metrics are not judged by the janitor")
    if hours < policy.eks.min_node_hours:
        return _NodeState(state="young", why=f"{node.instance_id} up {hours:.1f} h (< {policy.eks.min_node_hours} h)")
    expected = min(policy.idle.lookback_days * 24, int(hours)) * 3600 // policy.idle.period_seconds
    if usage is None or usage.gpu_limit is None or not usage.gpu_limit.points:
        return _NodeState(state="cannot-judge", why=f"{node.instance_id} publishes no node_gpu_limit: Container "
                          "Insights' accelerated_compute_metrics is off or the NVIDIA device plugin is missing")
    limit = usage.gpu_limit.maximum
    requested = usage.gpu_requested
    if requested is None or requested.points < policy.idle.min_coverage * max(1, expected):
        points = 0 if requested is None else requested.points
        return _NodeState(state="cannot-judge", why=f"{node.instance_id}: node_gpu_usage_total has {points} of "
                          f"{expected} periods (policy: {policy.idle.min_coverage:.0%})", limit=limit)
    average = requested.total / requested.points
    if not requested.maximum:
        return _NodeState(state="no-gpu-requested", why=f"{node.instance_id}: no pod requested any of its "
                          f"{limit:g} GPUs in {requested.points} periods", requested_avg=0.0, limit=limit)
    util = usage.gpu_utilization
    if util is None or not util.points or util.maximum is None:
        return _NodeState(state="cannot-judge", why=f"{node.instance_id}: pods requested its GPUs and "
                          "node_gpu_utilization is not published: how much they used cannot be judged",
                          requested_avg=average, limit=limit)
    if util.maximum < policy.idle.gpu_max_pct:
        return _NodeState(state="underused", why=f"{node.instance_id}: pods requested {average:.1f} of {limit:g} "
                          f"GPUs on average and never used over {util.maximum:.1f}%", requested_avg=average,
                          limit=limit, util_max=util.maximum)
    return _NodeState(state="busy", why=f"{node.instance_id}: GPUs used up to {util.maximum:.0f}%",
                      requested_avg=average, limit=limit, util_max=util.maximum)


def _nodes_price(nodes: list[Node], region: str) -> tuple[float | None, str | None]:
    prices = [instance_price(n.instance_type, region) for n in nodes]
    if not prices:
        return None, None
    if any(p.hourly_usd is None for p in prices):
        unknown = next(p for p in prices if p.hourly_usd is None)
        return None, unknown.source
    return round(sum(p.hourly_usd or 0.0 for p in prices) * HOURS_PER_MONTH, 2), prices[0].source


def _group_finding(cluster: Cluster, g: NodeGroup, nodes: list[Node], states: dict[str, _NodeState],
                   signals: ClusterSignals, policy: Policy, now: datetime, run_id: str) -> Finding:
    tags = {**cluster.tags, **g.tags}
    who = policy.ownership(tags)
    exemption = evaluate_exemption(g.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = g.tags.get(policy.exemptions.idle_since_tag)
    mine = [states[n.instance_id] for n in nodes if n.instance_id in states]
    kinds = {s.state for s in mine}
    action: ActionKind | Ask | None = None
    act_after = None
    monthly, source = _nodes_price(nodes, g.region)
    evidence: dict[str, float | int | str | None] = {
        "cluster": g.cluster, "nodegroup": g.name, "instance_types": ",".join(g.instance_types),
        "min_size": g.min_size, "desired_size": g.desired_size, "max_size": g.max_size, "nodes": len(nodes),
        "gpus": sum(s.limit or 0 for s in mine),
        "gpus_requested_avg": round(sum(s.requested_avg or 0 for s in mine), 2),
        "node_states": "; ".join(s.why for s in mine)[:900] or None}
    desired = signals.desired.get(g.name)
    reluctant = _reluctant(g, desired, mine, signals, policy)
    if desired is None:
        notes.append(f"GroupDesiredCapacity is not collected for {', '.join(g.asg_names) or 'its Auto Scaling group'}"
                     ": whether it scales down is not judged (enable group metrics collection; it is free)")
    dev = policy.environments.classes[str(who["environment"])].on_idle == "stop"
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif not nodes:
        verdict, reason = ((Verdict.COMPLIANT, "scaled to zero: no node running") if g.desired_size == 0 else
                           (Verdict.CANNOT_JUDGE, f"desired size {g.desired_size} and no running node tagged "
                                                  f"eks:nodegroup-name={g.name} found"))
    elif "not-measured" in kinds:
        verdict, reason = Verdict.ACCELERATOR_NOT_MEASURED, "; ".join(s.why for s in mine if s.state == "not-measured")
    elif "cannot-judge" in kinds:
        verdict, reason = Verdict.CANNOT_JUDGE, "; ".join(s.why for s in mine if s.state == "cannot-judge")
    elif "young" in kinds:
        verdict, reason = Verdict.STARTED_RECENTLY, "; ".join(s.why for s in mine if s.state == "young")
    elif kinds == {"no-gpu-requested"}:
        verdict = Verdict.IDLE
        reason = (f"no pod requested a GPU on any of its {len(nodes)} node(s) for the whole window (CPU-only pods "
                  "or none): its GPUs are paid for and never asked for")
        if dev and policy.eks.scale_idle_dev_nodegroups:
            action, act_after = mark_then(ActionKind.SCALE_NODEGROUP, mark, policy, now, notes)
            notes.append(f"the way back: aws eks update-nodegroup-config --cluster-name {g.cluster} "
                         f"--nodegroup-name {g.name} --scaling-config minSize={g.min_size},"
                         f"maxSize={g.max_size},desiredSize={g.desired_size}")
        else:
            action = Ask.JUSTIFY
    elif kinds <= {"no-gpu-requested", "underused"}:
        verdict = Verdict.UNDERUSED
        reason = ("GPUs requested by its pods stayed under the idle threshold "
                  f"({policy.idle.gpu_max_pct:g}%): right-size the pods' GPU requests or share GPUs "
                  "(time-slicing, MIG)")
        action = Ask.REVIEW
    elif reluctant:
        verdict, reason, action = Verdict.NEVER_SCALED_DOWN, reluctant, Ask.REVIEW
    elif dev and g.min_size > 0 and _quiet_now(nodes, signals, policy):
        verdict = Verdict.HELD_AT_MIN
        reason = (f"held at minSize {g.min_size} and no pod requested a GPU in the {policy.eks.night_hours} h before "
                  "the nightly run: set minSize to 0 outside working hours (scheduled scaling)")
        action = Ask.REVIEW
    else:
        verdict, reason = Verdict.BUSY, "its GPUs are requested and used"
    if verdict != Verdict.IDLE and mark is not None:
        action, act_after = ActionKind.UNMARK_IDLE, None
    costly = verdict in (Verdict.IDLE, Verdict.UNDERUSED, Verdict.NEVER_SCALED_DOWN, Verdict.HELD_AT_MIN)
    return Finding(kind=FindingKind.EKS_GPU, resource_id=f"{g.cluster}/{g.name}", resource_arn=g.arn,
                   resource_type=NODEGROUP_TYPE, instance_type=",".join(g.instance_types) or None, account=g.account,
                   region=g.region, **{**who, "name": who["name"] or g.name}, verdict=verdict, reason=reason,
                   evidence=evidence, notes=tuple(notes), monthly_usd=monthly if costly else None,
                   price_source=source if costly else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity=severity(monthly) if costly else "info", run_id=run_id, observed_at=now)


def _reluctant(g: NodeGroup, desired: Series | None, states: list[_NodeState], signals: ClusterSignals,
               policy: Policy) -> str | None:
    """Desired size never below its peak over the window, above minSize, while its GPUs sat mostly unrequested."""
    if desired is None or desired.maximum is None or not desired.points:
        return None
    if desired.points < policy.idle.min_coverage * signals.points:
        return None
    floor = desired.total / desired.points
    limit = sum(s.limit or 0 for s in states)
    requested = sum(s.requested_avg or 0 for s in states)
    if not (floor >= desired.maximum > g.min_size and limit and requested / limit * 100 < policy.eks.reserved_gpu_pct):
        return None
    return (f"its desired size stayed at its peak {desired.maximum:g} all window (minSize {g.min_size}) while pods "
            f"requested {requested:.1f} of its {limit:g} GPUs on average: it scales up and does not scale down; "
            f"{SCALE_DOWN_REMEDY}")


def _quiet_now(nodes: list[Node], signals: ClusterSignals, policy: Policy) -> bool:
    """No GPU requested on any node in the hours before the run, each node having published in them."""
    recent = [signals.nodes[n.instance_id].recent_requested if n.instance_id in signals.nodes else None
              for n in nodes]
    return bool(recent) and all(r is not None and r.points and not r.maximum for r in recent)


def _node_finding(cluster: Cluster, n: Node, s: _NodeState, policy: Policy, now: datetime, run_id: str) -> Finding:
    """A GPU node outside managed node groups (Karpenter, self-managed): reported, never acted on."""
    who = policy.ownership({**cluster.tags, **n.tags})
    by = f"Karpenter node pool {n.nodepool}" if n.nodepool else "no managed node group (self-managed)"
    verdict, action = {
        "no-gpu-requested": (Verdict.IDLE, Ask.REVIEW), "underused": (Verdict.UNDERUSED, Ask.REVIEW),
        "busy": (Verdict.BUSY, None), "young": (Verdict.STARTED_RECENTLY, None),
        "not-measured": (Verdict.ACCELERATOR_NOT_MEASURED, None)}.get(s.state, (Verdict.CANNOT_JUDGE, None))
    price = instance_price(n.instance_type, cluster.region)
    costly = verdict in (Verdict.IDLE, Verdict.UNDERUSED)
    remedy = KARPENTER_REMEDY if n.nodepool else "remove it from the cluster or let an autoscaler manage it"
    return Finding(kind=FindingKind.EKS_GPU, resource_id=n.instance_id,
                   resource_arn=arn("ec2", cluster.region, cluster.account, f"instance/{n.instance_id}"),
                   resource_type=NODE_TYPE, instance_type=n.instance_type, account=cluster.account,
                   region=cluster.region, **who, verdict=verdict,
                   reason=f"{s.why} ({by}, cluster {cluster.name})" + (f"; {remedy}" if costly else ""),
                   evidence={"cluster": cluster.name, "nodepool": n.nodepool, "gpus": s.limit,
                             "gpus_requested_avg": s.requested_avg, "gpu_utilization_max": s.util_max},
                   monthly_usd=price.monthly_usd if costly else None, price_source=price.source if costly else None,
                   action=action, severity=severity(price.monthly_usd) if costly else "info", run_id=run_id,
                   observed_at=now)


def _no_insights(cluster: Cluster, nodes: list[Node], policy: Policy, now: datetime, run_id: str) -> Finding:
    who = policy.ownership(cluster.tags)
    gpus = sum(accelerators(n.instance_type) for n in nodes)
    return Finding(kind=FindingKind.EKS_GPU, resource_id=cluster.name, resource_arn=cluster.arn,
                   resource_type=CLUSTER_TYPE, account=cluster.account, region=cluster.region, **who,
                   verdict=Verdict.NO_CONTAINER_INSIGHTS,
                   reason=("publishes no Container Insights metrics: its GPU nodes and namespaces cannot be judged. "
                           "Install the Amazon CloudWatch Observability EKS add-on (enhanced observability, "
                           f"accelerated_compute_metrics on): {INSIGHTS_DOCS}. {INSIGHTS_PRICING}"),
                   evidence={"nodes": len(nodes), "gpus": gpus}, action=None, severity="medium" if gpus else "low",
                   run_id=run_id, observed_at=now)


def not_read(cluster: Cluster, policy: Policy, *, now: datetime, run_id: str = "") -> Finding:
    """A cluster whose Container Insights series could not be read tonight: nothing about it is judged."""
    return Finding(kind=FindingKind.EKS_GPU, resource_id=cluster.name, resource_arn=cluster.arn,
                   resource_type=CLUSTER_TYPE, account=cluster.account, region=cluster.region,
                   **policy.ownership(cluster.tags), verdict=Verdict.CANNOT_JUDGE,
                   reason="its Container Insights series could not be read tonight (GetMetricData failed): its nodes "
                          "and namespaces are not judged", run_id=run_id, observed_at=now)


def _gpu_hourly(cluster: Cluster, nodes: list[Node], groups: list[NodeGroup]) -> tuple[float | None, str]:
    """One GPU-hour at the cluster's cheapest GPU node type (per GPU): a namespace's pods carry no node type, so its
    wasted GPU-hours are priced low rather than high."""
    types = {n.instance_type for n in nodes} | {t for g in groups for t in g.instance_types}
    per_gpu = [(p.hourly_usd / accelerators(t), t, p.source) for t in sorted(types)
               if accelerators(t) and (p := instance_price(t, cluster.region)).hourly_usd is not None]
    if not per_gpu:
        return None, f"unknown: no priced GPU node type in cluster {cluster.name}"
    hourly, kind, source = min(per_gpu)
    return hourly, f"{source}; per GPU of {kind}, the cluster's cheapest GPU node type"


def classify_namespaces(cluster: Cluster, signals: ClusterSignals, gpu_hourly: tuple[float | None, str],
                        policy: Policy, *, now: datetime, run_id: str = "") -> list[Finding]:
    """Per namespace, summed over its pods: GPU-hours requested against GPU-hours used (requested × utilisation),
    CPU and memory requested against used. Over-requesting (≥ overrequest_factor) is reported with the dollars of
    the unused GPU-hours; a namespace whose pods publish requests and no use cannot be judged."""
    by_ns: dict[str, list[PodUsage]] = {}
    for pod in signals.pods:
        by_ns.setdefault(pod.namespace, []).append(pod)
    out = []
    for namespace, pods in sorted(by_ns.items()):
        finding = _namespace_finding(cluster, namespace, pods, signals, gpu_hourly, policy, now, run_id)
        if finding is not None:
            out.append(finding)
    return out


def _hours(s: Series | None, period: int) -> float:
    return 0.0 if s is None else s.total * period / 3600


def _namespace_finding(cluster: Cluster, namespace: str, pods: list[PodUsage], signals: ClusterSignals,
                       gpu_hourly: tuple[float | None, str], policy: Policy, now: datetime,
                       run_id: str) -> Finding | None:
    period, factor = signals.period_seconds, policy.eks.overrequest_factor
    gpu_pods = [p for p in pods if p.gpu_request is not None and p.gpu_request.maximum]
    blind = [p.pod for p in gpu_pods if p.gpu_utilization is None or not p.gpu_utilization.points]
    requested = sum(_hours(p.gpu_request, period) for p in gpu_pods)
    used = sum(_hours(p.gpu_request, period) * _avg(p.gpu_utilization) / 100 for p in gpu_pods if p.pod not in blind)
    cpu_req, cpu_used = (sum(_hours(getattr(p, k), period) for p in pods) for k in ("cpu_request", "cpu_used"))
    mem_req, mem_used = (sum(_hours(getattr(p, k), period) for p in pods) for k in ("memory_request", "memory_used"))
    cpu_blind = [p.pod for p in pods if p.cpu_request is not None and p.cpu_request.maximum and p.cpu_used is None]
    team = policy.eks.namespace_teams.get(namespace)
    who = policy.ownership({**cluster.tags, **({policy.tagging.team_tag: team} if team else {})})
    evidence: dict[str, float | int | str | None] = {
        "cluster": cluster.name, "namespace": namespace, "pods": len(pods), "gpu_pods": len(gpu_pods),
        "gpu_hours_requested": round(requested, 1), "gpu_hours_used": round(used, 1),
        "cpu_request_to_use": round(cpu_req / cpu_used, 1) if cpu_used else None,
        "memory_request_to_use": round(mem_req / mem_used, 1) if mem_used else None}
    over: list[str] = []
    monthly: float | None = None
    source: str | None = None
    if blind:
        verdict = Verdict.CANNOT_JUDGE
        reason = (f"pods requesting GPUs publish no pod_gpu_utilization ({', '.join(sorted(blind)[:5])}): how much "
                  "of its GPU requests it uses cannot be judged")
    elif cpu_blind and not gpu_pods:
        verdict = Verdict.CANNOT_JUDGE
        reason = f"pods publish pod_cpu_request and no pod_cpu_usage_total ({', '.join(sorted(cpu_blind)[:5])})"
    else:
        if requested and (used == 0 or requested / used >= factor):
            over.append(f"GPUs: {requested:.0f} GPU-hours requested, {used:.1f} used")
            window_hours = signals.points * period / 3600 or 1
            hourly, source = gpu_hourly
            monthly = None if hourly is None else round((requested - used) / window_hours * hourly *
                                                         HOURS_PER_MONTH, 2)
        if cpu_used and cpu_req / cpu_used >= factor:
            over.append(f"CPU: requests {cpu_req / cpu_used:.1f}× use")
        if mem_used and mem_req / mem_used >= factor:
            over.append(f"memory: requests {mem_req / mem_used:.1f}× use")
        if not over:
            if not gpu_pods:
                return None  # nothing to say about a namespace that neither requests GPUs nor over-requests
            verdict, reason = Verdict.BUSY, f"uses {used / requested:.0%} of the GPU-hours it requests"
        else:
            verdict = Verdict.OVER_REQUESTED
            reason = (f"requests far more than it uses over the window (≥ {factor:g}×): {'; '.join(over)}. Lower "
                      "the requests of its workloads (CPU and memory over-requests keep nodes up too; they are not "
                      "priced: pods carry no node type)")
    return Finding(kind=FindingKind.EKS_GPU, resource_id=f"{cluster.name}/{namespace}",
                   resource_arn=f"{cluster.arn}/namespace/{namespace}", resource_type=NAMESPACE_TYPE,
                   account=cluster.account, region=cluster.region, **{**who, "name": namespace}, verdict=verdict,
                   reason=reason, evidence=evidence, monthly_usd=monthly, price_source=source,
                   action=Ask.RIGHT_SIZE if verdict == Verdict.OVER_REQUESTED else None,
                   severity=severity(monthly) if verdict == Verdict.OVER_REQUESTED else "info", run_id=run_id,
                   observed_at=now)


def _avg(s: Series | None) -> float:
    return 0.0 if s is None or not s.points else s.total / s.points


def scale_target(f: Finding) -> dict[str, int]:
    """The scaling config an idle node group is set to: no node (minSize and desiredSize 0), maxSize kept so an
    autoscaler can bring nodes back the moment a pod asks for a GPU."""
    return {"minSize": 0, "desiredSize": 0, "maxSize": max(1, int(f.evidence.get("max_size") or 1))}


def recheck_nodegroup(planned: Finding, current: NodeGroup | None, requested_now: float | None, policy: Policy, *,
                      now: datetime) -> Finding:
    """A scale-down decided minutes ago, checked against the node group and its nodes as they are just before: gone,
    not ACTIVE, kept, re-tagged out of dev, or a pod requesting a GPU on it now (or that not readable) → not
    scaled, and the finding says why."""
    if planned.action != ActionKind.SCALE_NODEGROUP:
        return planned
    why = None
    if current is None:
        why = "the node group is gone"
    elif current.status != "ACTIVE":
        why = f"the node group is {current.status}"
    elif (due := no_longer_due(current.tags, policy, now=now)) is not None:
        why = due
    elif requested_now is None:
        why = "node_gpu_usage_total could not be read just before: an absent signal is never idle"
    elif requested_now > 0:
        why = f"pods request {requested_now:g} GPU(s) on it now"
    if why is None:
        return planned
    return withdrawn(planned, f"not scaled: {why}")



def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack about what happens next (families/eks.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE:
        return (f"Marked. Unless you keep it, after {when} its minSize and desiredSize are set to 0 if still no pod "
                "asks for a GPU on it just before; maxSize stays, so an autoscaler brings nodes back when a pod asks."
                if when else "Marked.")
    if f.action == ActionKind.SCALE_NODEGROUP:
        return {"done": "Scaled to zero: no pod asked for its GPUs all window, nor just before. maxSize is kept; the "
                        "way back is below.",
                "failed": f"Could not be scaled ({f.action_error}); its nodes are still running.",
                "skipped": f"Not scaled: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Scale-down {f.action_status}.")
    if f.action == Ask.JUSTIFY:
        return ("The janitor does not scale it (production, or the scale-down opt-in is off). Please say why its GPUs "
                "are needed, or snooze, or tell us it is not yours.")
    if f.action == Ask.RIGHT_SIZE:
        return "Its workloads request far more than they use: lower their requests (kubectl set resources, the chart)."
    if f.resource_type == NODE_TYPE and f.action == Ask.REVIEW:
        return "Reported only: the janitor never acts on Karpenter or self-managed nodes. The remedy is above."
    if f.action == Ask.REVIEW:
        return "Reported: the janitor changes nothing here. The remedy is above."
    if f.verdict == Verdict.NO_CONTAINER_INSIGHTS:
        return "Reported once per night until Container Insights is on; until then its GPUs cannot be judged."
    return None


COSTLY = (Verdict.IDLE, Verdict.UNDERUSED, Verdict.NEVER_SCALED_DOWN, Verdict.HELD_AT_MIN, Verdict.OVER_REQUESTED)


def digest_by_cluster(entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
    """The weekly digest's line per cluster: the last week's latest finding per resource, its dollars at stake by
    verdict, and the node groups the janitor scaled to zero."""
    latest: dict[str, LedgerRecord] = {}
    for e in entries:
        if e.kind == FindingKind.EKS_GPU and now - e.at <= timedelta(days=7) and e.action != "started" and (
                e.resource_id not in latest or e.at > latest[e.resource_id].at):
            latest[e.resource_id] = e
    clusters: dict[str, dict[str, float]] = {}
    scaled: dict[str, int] = {}
    for e in latest.values():
        cluster = str(_evidence(e).get("cluster") or e.resource_id.split("/")[0])
        if e.verdict in COSTLY and e.monthly_usd:
            by_verdict = clusters.setdefault(cluster, {})
            by_verdict[e.verdict] = by_verdict.get(e.verdict, 0.0) + e.monthly_usd
        if e.action == ActionKind.SCALE_NODEGROUP and e.status == "done":
            scaled[cluster] = scaled.get(cluster, 0) + 1
    return [f"*EKS {cluster}:* ${sum(v.values()):,.0f}/month at stake ("
            + ", ".join(f"{verdict} ${usd:,.0f}" for verdict, usd in sorted(v.items(), key=lambda kv: -kv[1])) + ")"
            + (f"; {scaled[cluster]} node group(s) scaled to zero" if scaled.get(cluster) else "")
            for cluster, v in sorted(clusters.items(), key=lambda kv: -sum(kv[1].values()))] + [
        f"*EKS {cluster}:* {n} node group(s) scaled to zero" for cluster, n in sorted(scaled.items())
        if cluster not in clusters]


def _evidence(e: LedgerRecord) -> dict[str, object]:
    try:
        loaded = json.loads(e.evidence or "{}")
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
