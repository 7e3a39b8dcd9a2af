"""EKS reads for the EKS family: clusters and managed node groups (EKS API), their nodes (EC2 tags), and their
Container Insights series (core/eks.py names them and cites AWS's documentation), in batched reads: one
GetMetricData call carries up to 500 series, so a night's read is a few calls per cluster, not one per pod."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.cloudwatch import CloudWatchReader, Dimensions, MetricQuery, window
from cost_janitor.adapters.ec2 import tags_of
from cost_janitor.core.eks import NAMESPACE, Cluster, ClusterSignals, Node, NodeGroup, NodeUsage, PodUsage
from cost_janitor.core.idle import CLUSTER_NAME_TAGS, NODE_POOL_TAGS, NODEGROUP_TAG, cluster_name, node_pool
from cost_janitor.core.models import Series
from cost_janitor.core.policy import Policy

# A pod's metric → its PodUsage field and the dimension set it is read at (core/eks.py's docstring cites both)
POD_METRICS = {
    "pod_gpu_request": ("gpu_request", ("ClusterName", "Namespace", "PodName")),
    "pod_gpu_utilization": ("gpu_utilization", ("ClusterName", "ContainerName", "Namespace", "PodName")),
    "pod_cpu_request": ("cpu_request", ("ClusterName", "Namespace", "PodName")),
    "pod_cpu_usage_total": ("cpu_used", ("ClusterName", "Namespace", "PodName")),
    "pod_memory_request": ("memory_request", ("ClusterName", "Namespace", "PodName")),
    "pod_memory_working_set": ("memory_used", ("ClusterName", "Namespace", "PodName")),
}
NODE_METRICS = {"node_gpu_limit": "gpu_limit", "node_gpu_usage_total": "gpu_requested",
                "node_gpu_utilization": "gpu_utilization"}
NODE_TAG_KEYS = [*CLUSTER_NAME_TAGS, *NODE_POOL_TAGS, NODEGROUP_TAG]


class EksInventory:
    """Clusters, their managed node groups and their nodes in one region; every call counted."""

    def __init__(self, eks: Any, ec2: Any, region: str, account: str) -> None:
        self._eks, self._ec2, self._region, self._account = eks, ec2, region, account
        self.calls: dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def clusters(self) -> list[Cluster]:
        names: list[str] = []
        for page in self._eks.get_paginator("list_clusters").paginate():
            self._count("ListClusters")
            names += page.get("clusters", [])
        out = []
        for name in names:
            self._count("DescribeCluster")
            raw = self._eks.describe_cluster(name=name)["cluster"]
            out.append(Cluster(name=name, arn=raw["arn"], region=self._region, account=self._account,
                               tags=raw.get("tags") or {}))
        return out

    def nodegroups(self, cluster: str) -> list[NodeGroup]:
        names: list[str] = []
        for page in self._eks.get_paginator("list_nodegroups").paginate(clusterName=cluster):
            self._count("ListNodegroups")
            names += page.get("nodegroups", [])
        return [g for g in (self.nodegroup(cluster, n) for n in names) if g is not None]

    def nodegroup(self, cluster: str, name: str) -> NodeGroup | None:
        """The node group as it is now; None once EKS no longer knows it."""
        self._count("DescribeNodegroup")
        try:
            raw = self._eks.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        scaling = raw.get("scalingConfig") or {}
        return NodeGroup(cluster=cluster, name=name, arn=raw["nodegroupArn"], region=self._region,
                         account=self._account, status=raw.get("status", "ACTIVE"),
                         instance_types=tuple(raw.get("instanceTypes") or ()), min_size=scaling.get("minSize", 0),
                         max_size=scaling.get("maxSize", 0), desired_size=scaling.get("desiredSize", 0),
                         asg_names=tuple(a["name"] for a in (raw.get("resources") or {}).get("autoScalingGroups", [])),
                         labels=raw.get("labels") or {}, tags=raw.get("tags") or {},
                         modified_at=raw.get("modifiedAt"))

    def nodes(self) -> list[Node]:
        """Every running instance that carries a cluster's node tags (managed node groups, Karpenter)."""
        out = []
        pages = self._ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["running"]},
                     {"Name": "tag-key", "Values": NODE_TAG_KEYS}], PaginationConfig={"PageSize": 1000})
        for page in pages:
            self._count("DescribeInstances")
            for reservation in page.get("Reservations", []):
                for raw in reservation.get("Instances", []):
                    tags = tags_of(raw)
                    cluster = cluster_name(tags)
                    if cluster:
                        out.append(Node(instance_id=raw["InstanceId"], instance_type=raw["InstanceType"],
                                        cluster=cluster, launch_time=raw["LaunchTime"],
                                        nodegroup=tags.get(NODEGROUP_TAG), nodepool=node_pool(tags), tags=tags))
        return out


class InsightsReader:
    """Container Insights (and the node groups' GroupDesiredCapacity) for the clusters of one region."""

    def __init__(self, reader: CloudWatchReader) -> None:
        self._cw = reader
        self._listed: dict[str, list[Dimensions]] = {}

    def _series(self, metric: str, namespace: str = NAMESPACE) -> list[Dimensions]:
        if metric not in self._listed:
            self._listed[metric] = self._cw.list_metrics(namespace, metric)
        return self._listed[metric]

    def clusters_reporting(self) -> set[str]:
        """The clusters that publish Container Insights (cluster_node_count [ClusterName])."""
        return {dict(d)["ClusterName"] for d in self._series("cluster_node_count") if len(d) == 1
                and d[0][0] == "ClusterName"}

    def signals(self, clusters: Sequence[Cluster], nodes: Sequence[Node], groups: Sequence[NodeGroup],
                policy: Policy, *, now: datetime) -> tuple[dict[str, ClusterSignals], set[str]]:
        """Each cluster's signals over the window, and the clusters whose read failed (not judged)."""
        start, end = window(policy, now)
        period = policy.idle.period_seconds
        names = {c.name for c in clusters}
        queries: list[MetricQuery] = []
        recent_queries: list[MetricQuery] = []
        node_of = {n.instance_id: n for n in nodes if n.cluster in names}
        for metric, _field in NODE_METRICS.items():
            for dims in self._series(metric):
                d = dict(dims)
                if set(d) == {"ClusterName", "InstanceId", "NodeName"} and d["InstanceId"] in node_of:
                    queries.append(MetricQuery(("node", d["InstanceId"], metric), NAMESPACE, metric, dims, "Maximum"))
                    if metric == "node_gpu_usage_total":
                        recent_queries.append(MetricQuery(("recent", d["InstanceId"]), NAMESPACE, metric, dims,
                                                          "Maximum"))
        for metric, (_field, wanted) in POD_METRICS.items():
            for dims in self._series(metric):
                d = dict(dims)
                if tuple(sorted(d)) == wanted and d["ClusterName"] in names:
                    key = ("pod", d["ClusterName"], d["Namespace"], d["PodName"], metric, d.get("ContainerName"))
                    queries.append(MetricQuery(key, NAMESPACE, metric, dims, "Average"))
        for g in groups:
            for asg in g.asg_names:
                dims = (("AutoScalingGroupName", asg),)
                for stat in ("Minimum", "Maximum"):
                    queries.append(MetricQuery(("asg", g.cluster, g.name, stat), "AWS/AutoScaling",
                                               "GroupDesiredCapacity", dims, stat))
        found, failed = self._cw.read(queries, start=start, end=end, period=period)
        recent, recent_failed = self._cw.read(recent_queries, start=end - timedelta(hours=policy.eks.night_hours),
                                              end=end, period=period)
        broken = {_cluster_of(k, node_of) for k in failed | recent_failed}
        points = int((end - start).total_seconds()) // period
        by_cluster: dict[str, tuple[dict[Hashable, Series], dict[Hashable, Series]]] = {c.name: ({}, {})
                                                                                         for c in clusters}
        for at, got in ((0, found), (1, recent)):
            for series_key, series in got.items():
                by_cluster.setdefault(_cluster_of(series_key, node_of), ({}, {}))[at][series_key] = series
        return {c.name: _assemble(c.name, groups, *by_cluster[c.name], points, period) for c in clusters
                if c.name not in broken}, {b for b in broken if b}

    def requested_now(self, groups: Mapping[str, tuple[str, Sequence[Node]]], policy: Policy, *,
                      now: datetime) -> dict[str, float | None]:
        """GPUs the pods on each group's nodes request in the last hours (the re-check before a scale-down), in one
        batched read for every group; None for a group when one of its nodes' series cannot be read or has no
        datapoint in them. `groups`: key → (cluster, its nodes)."""
        wanted = {(cluster, n.instance_id) for cluster, nodes in groups.values() for n in nodes}
        queries = [MetricQuery((d["ClusterName"], d["InstanceId"]), NAMESPACE, "node_gpu_usage_total", dims, "Maximum")
                   for dims in self._series("node_gpu_usage_total")
                   if len(d := dict(dims)) == 3 and (d.get("ClusterName"), d.get("InstanceId")) in wanted]
        _, end = window(policy, now)
        found, failed = self._cw.read(queries, start=end - timedelta(hours=policy.eks.night_hours), end=end,
                                      period=policy.idle.period_seconds)
        out: dict[str, float | None] = {}
        for key, (cluster, nodes) in groups.items():
            series = [found.get((cluster, n.instance_id)) for n in nodes]
            read = all(s is not None and s.points and (cluster, n.instance_id) not in failed
                       for s, n in zip(series, nodes, strict=True))
            out[key] = sum(s.maximum or 0.0 for s in series if s is not None) if read else None
        return out


def _cluster_of(key: Hashable, node_of: dict[str, Node]) -> str:
    parts = key if isinstance(key, tuple) else ()
    if parts and parts[0] in ("node", "recent"):
        return node_of[parts[1]].cluster
    return str(parts[1]) if len(parts) > 1 else ""


def _assemble(cluster: str, groups: Sequence[NodeGroup], found: dict[Hashable, Series],
              recent: dict[Hashable, Series], points: int, period: int) -> ClusterSignals:
    """One cluster's signals, from its own series (signals() sorts them by cluster once)."""
    nodes: dict[str, dict[str, Series]] = {}
    pods: dict[tuple[str, str], dict[str, Series]] = {}
    desired: dict[str, dict[str, Series]] = {}
    for key, series in found.items():
        assert isinstance(key, tuple)
        if key[0] == "node":
            nodes.setdefault(key[1], {})[NODE_METRICS[key[2]]] = series
        elif key[0] == "pod" and series.points:
            field = POD_METRICS[key[4]][0]
            slot = pods.setdefault((key[2], key[3]), {})
            if field == "gpu_utilization" and field in slot:  # a pod's busiest container speaks for it
                series = series if (series.maximum or 0) >= (slot[field].maximum or 0) else slot[field]
            slot[field] = series
        elif key[0] == "asg" and series.points:
            desired.setdefault(key[2], {})[key[3]] = series
    for key, series in recent.items():
        assert isinstance(key, tuple)
        nodes.setdefault(key[1], {})["recent_requested"] = series
    usage = {i: NodeUsage(**{k: (v if v.points else None) for k, v in fields.items()}) for i, fields in nodes.items()}
    history: dict[str, Series | None] = {
        g.name: (Series(mask=d["Minimum"].mask, total=d["Minimum"].total, maximum=d["Maximum"].maximum)
                 if {"Minimum", "Maximum"} <= set(d := desired.get(g.name, {})) else None)
        for g in groups if g.cluster == cluster}
    return ClusterSignals(nodes=usage, pods=tuple(PodUsage(namespace=ns, pod=pod, **fields)
                                                  for (ns, pod), fields in sorted(pods.items())),
                          desired=history, points=points, period_seconds=period)
