"""GPU waste on EKS (core/eks.py): GPU node groups no pod asks for, GPUs asked for and not used, namespaces that
request far more than they use, node groups that never scale down, clusters without Container Insights. A dev
managed node group whose GPUs no pod requested all window is scaled to zero only with the opt-in
(eks.scale_idle_dev_nodegroups), after a mark and the grace period, and only if no pod requests a GPU on it just
before; maxSize is kept, so an autoscaler brings nodes back when a pod asks. Prod is asked; Karpenter and
self-managed nodes are reported, never acted on. The janitor reads no Kubernetes API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.cloudwatch import CloudWatchReader
from cost_janitor.adapters.eks import EksInventory, InsightsReader
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.core.eks import (
    CLUSTER_TYPE,
    NAMESPACE_TYPE,
    NODE_TYPE,
    NODEGROUP_TYPE,
    ClusterSignals,
    NodeGroup,
    classify_cluster,
    digest_by_cluster,
    not_read,
    recheck_nodegroup,
    scale_target,
    what_happens,
)
from cost_janitor.core.models import ActionKind, Finding, LedgerRecord, Started
from cost_janitor.core.policy import Policy
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

NODEGROUPS, CLUSTERS = Arn("eks", "nodegroup"), Arn("eks", "cluster")
STARTED_WITHIN = timedelta(hours=26)  # a change since the last nightly run (a day, and a late run's slack)


def _names(f: Finding) -> tuple[str, str]:
    cluster, _, name = f.resource_id.partition("/")
    return cluster, name


def _scale(eks: Any, api: Api, f: Finding, run: Run) -> None:
    """minSize and desiredSize to 0, maxSize kept (the way back is in the finding's notes)."""
    cluster, name = _names(f)
    api(eks.update_nodegroup_config, clusterName=cluster, nodegroupName=name, scalingConfig=scale_target(f))


def _running_again(g: NodeGroup, region: str, night: Night) -> Started | None:
    """A node group with nodes that the janitor may have scaled to zero: its savings end (the sweep checks the
    ledger, once). One changed since the last run, at that change; one still at minSize 0, as the janitor leaves it,
    that an autoscaler scaled out without changing the node group's modifiedAt, at the last run (a day's savings at
    most overstated). Any other node group costs no ledger read."""
    if g.desired_size == 0:
        return None
    recent = g.modified_at is not None and night.now - g.modified_at <= STARTED_WITHIN
    if not recent and g.min_size != 0:
        return None
    return Started(resource_id=f"{g.cluster}/{g.name}", resource_type=NODEGROUP_TYPE, region=region,
                   at=g.modified_at if recent and g.modified_at else night.now - STARTED_WITHIN)


def _readers(region: str) -> tuple[EksInventory, CloudWatchReader, InsightsReader]:
    cloudwatch = CloudWatchReader(client("cloudwatch", region))
    return (EksInventory(client("eks", region), client("ec2", region), region, own_account()), cloudwatch,
            InsightsReader(cloudwatch))


class Eks:
    name = "eks"
    service = "eks"
    resource_types = (NODEGROUP_TYPE, NODE_TYPE, NAMESPACE_TYPE, CLUSTER_TYPE)
    rechecked = (ActionKind.SCALE_NODEGROUP,)
    answered = (NODEGROUPS,)
    actions = {
        ActionKind.MARK_IDLE: Call("eks", ("eks:TagResource",), each(lambda eks, api, f, r: api(
            eks.tag_resource, resourceArn=f.resource_arn,
            tags={r.policy.exemptions.idle_since_tag: r.now.isoformat(timespec="seconds")})),
            dry_run_supported=False, batch=False),
        ActionKind.UNMARK_IDLE: Call("eks", ("eks:UntagResource",), each(lambda eks, api, f, r: api(
            eks.untag_resource, resourceArn=f.resource_arn, tagKeys=[r.policy.exemptions.idle_since_tag])),
            dry_run_supported=False, batch=False),
        ActionKind.SCALE_NODEGROUP: Call("eks", ("eks:UpdateNodegroupConfig",), each(_scale),
                                         dry_run_supported=False, batch=False),
    }  # the owners' answers (Keep, Snooze, Not mine) are the janitor's own: tag:TagResources (it needs
    #    eks:TagResource too, which the answers role holds for node groups: infra/iam.grant_answers)

    def read(self, region: str, night: Night) -> list[Finding]:
        """Clusters and node groups (EKS), their nodes (EC2), Container Insights for those that publish it."""
        inventory, cloudwatch, insights = _readers(region)
        with counted(night, inventory.calls, cloudwatch.calls, prefix="eks:"):
            try:
                clusters = inventory.clusters()
                if not clusters:
                    return []
                groups = {c.name: inventory.nodegroups(c.name) for c in clusters}
                nodes = inventory.nodes()
                reporting = insights.clusters_reporting()
                clusters = [c.model_copy(update={"insights": c.name in reporting}) for c in clusters]
                judged = [c for c in clusters if c.insights]
                signals, broken = insights.signals(judged, nodes, [g for c in judged for g in groups[c.name]],
                                                   night.policy, now=night.now)
            finally:
                night.metrics_requested += cloudwatch.metrics_requested
        night.starts += [s for gs in groups.values() for g in gs if (s := _running_again(g, region, night))]
        found: list[Finding] = []
        for c in clusters:
            if c.name in broken:  # its Container Insights read failed: nothing about it is judged tonight
                found.append(not_read(c, night.policy, now=night.now, run_id=night.run_id))
                continue
            found += classify_cluster(c, groups[c.name], [n for n in nodes if n.cluster == c.name],
                                      signals.get(c.name) or ClusterSignals(), night.policy, now=night.now,
                                      run_id=night.run_id)
        return found

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each node group about to be scaled: described again, and its nodes' GPU requests read again."""
        inventory, cloudwatch, insights = _readers(region)
        with counted(night, inventory.calls, cloudwatch.calls, prefix="eks:", suffix=" (re-check)"):
            nodes = inventory.nodes()
            current = {f.resource_id: inventory.nodegroup(*_names(f)) for f in planned}
            requested = insights.requested_now(
                {f.resource_id: (cluster, [n for n in nodes if n.cluster == cluster and n.nodegroup == name])
                 for f in planned for cluster, name in [_names(f)]}, night.policy, now=night.now)
            night.metrics_requested += cloudwatch.metrics_requested
        return [recheck_nodegroup(f, current[f.resource_id], requested[f.resource_id], night.policy, now=night.now)
                for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: a scale-down is recorded in the ledger with its finding (the sizes before: the way back)."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev, idle_key = dev_only(policy), only_tag_keys(policy.exemptions.idle_since_tag)
        grants = [
            Grant("ListEks", ("eks:ListClusters", "ec2:DescribeInstances", "cloudwatch:GetMetricData",
                              "cloudwatch:ListMetrics"),
                  why="eks:ListClusters, ec2:Describe* and CloudWatch reads have no resource-level permissions"),
            Grant("DescribeEksClustersAndNodegroups", ("eks:DescribeCluster", "eks:ListNodegroups",
                                                       "eks:DescribeNodegroup"), (CLUSTERS, NODEGROUPS),
                  why="EKS clusters and node groups of the policy's regions: reads"),
            Grant("MarkOnlyDevNodegroups", ("eks:TagResource",), (NODEGROUPS,), {**dev, **idle_key},
                  why="EKS node groups of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("UnmarkNodegroups", ("eks:UntagResource",), (NODEGROUPS,), idle_key),
            Grant("NeverDeleteEks", ("eks:DeleteNodegroup", "eks:DeleteCluster"), deny=True),
        ]
        if policy.eks.scale_idle_dev_nodegroups:
            grants.append(Grant("ScaleDevNodegroupsOptIn", ("eks:UpdateNodegroupConfig",), (NODEGROUPS,), dev))
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return digest_by_cluster(entries, now=now)


FAMILY: Family = Eks()
