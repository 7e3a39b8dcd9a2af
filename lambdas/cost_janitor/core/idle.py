"""Idle compute: pure verdicts from (instances, metrics, policy, now), and the actions they call for.

Signals are checked cheapest-first (CPU; then network and GPU utilisation; then GPU memory) so a caller can
read CPU for the whole fleet and each later metric only for the instances the earlier ones could not rule
out — `needs_detail` says which. The verdict is the same whether or not the later metrics were read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cost_janitor.core.exemptions import evaluate_exemption, parse_instant
from cost_janitor.core.models import STOPS, ActionKind, Ask, Finding, FindingKind, Instance, Series, Usage, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import PriceBook, instance_price

KIND = FindingKind.IDLE_INSTANCE
_MB = 1024 * 1024


@dataclass(frozen=True)
class _Outcome:
    verdict: Verdict
    reason: str
    evidence: dict[str, float | int | str | None]


def expected_points(policy: Policy) -> int:
    return policy.idle.lookback_days * 86400 // policy.idle.period_seconds


def is_gpu_instance(instance: Instance, policy: Policy, has_gpu_series: bool = False) -> bool:
    return has_gpu_series or instance.family in policy.idle.gpu_families


def merge_max(series: tuple[Series, ...]) -> Series:
    """Across GPUs: a period has data if any GPU has; the busiest GPU decides the maximum."""
    maxima = [s.maximum for s in series if s.maximum is not None]
    mask = 0
    for s in series:
        mask |= s.mask
    return Series(mask=mask, maximum=max(maxima) if maxima else None)


def merge_sum(a: Series, b: Series) -> Series:
    """NetworkIn + NetworkOut: a period has data if either has; the totals add."""
    return Series(mask=a.mask | b.mask, total=a.total + b.total)


def _avg(s: Series) -> float:
    return s.total / s.points


def coverage(s: Series, policy: Policy) -> float:
    """The share of the window's periods a series has a datapoint in (every family's coverage test)."""
    return min(1.0, s.points / expected_points(policy))


def not_readable(series: Sequence[Series | None], policy: Policy, *, what: str) -> str | None:
    """Why a resource's series cannot call it idle — a read failed, a series is missing, or too few periods — or
    None when they can (the storage families' absence rules: an absent signal is never idle)."""
    if any(s is None for s in series):
        return "its metrics could not be read: not taken to be unused"
    if any(s is not None and s.points == 0 for s in series):
        return f"no {what} series: its use is not known"
    if any(s is not None and coverage(s, policy) < policy.idle.min_coverage for s in series):
        return "its metrics cover too little of the window to call it idle"
    return None


# Tags that make an instance a Kubernetes node. EKS managed node groups tag their instances eks:cluster-name and
# eks:nodegroup-name; Karpenter (v1) tags kubernetes.io/cluster/<name>=owned, eks:eks-cluster-name and
# karpenter.sh/nodepool (older versions karpenter.sh/provisioner-name and karpenter.sh/managed-by=<cluster>);
# self-managed nodes carry kubernetes.io/cluster/<name> (the cloud provider's discovery tag).
CLUSTER_NAME_TAGS = ("eks:cluster-name", "eks:eks-cluster-name", "aws:eks:cluster-name", "karpenter.sh/managed-by")
NODE_POOL_TAGS = ("karpenter.sh/nodepool", "karpenter.sh/provisioner-name")
K8S_CLUSTER_PREFIX = "kubernetes.io/cluster/"
NODEGROUP_TAG = "eks:nodegroup-name"


def cluster_name(tags: dict[str, str]) -> str | None:
    """The cluster an instance is a node of, from its tags; None if it is no Kubernetes node."""
    return next((tags[k] for k in CLUSTER_NAME_TAGS if tags.get(k)), None) or next(
        (k[len(K8S_CLUSTER_PREFIX):] for k in tags if k.startswith(K8S_CLUSTER_PREFIX)), None)


def node_pool(tags: dict[str, str]) -> str | None:
    """The Karpenter node pool (or provisioner) that launched a node, from its tags."""
    return next((tags[k] for k in NODE_POOL_TAGS if tags.get(k)), None)


def cluster_membership(tags: dict[str, str]) -> str | None:
    """What owns this instance if it is a Kubernetes node ('cluster X', '... managed node group Y'), else None."""
    cluster = cluster_name(tags)
    if tags.get(NODEGROUP_TAG):
        return (f"EKS managed node group {tags[NODEGROUP_TAG]} of cluster {cluster or 'unknown'} (change the node "
                "group's scaling, not its Auto Scaling group's)")
    pool = node_pool(tags)
    if pool:
        return f"Karpenter node pool {pool} of cluster {cluster or 'unknown'}"
    return f"cluster {cluster}" if cluster else None


def _verdict(instance: Instance, usage: Usage, policy: Policy, now: datetime) -> _Outcome | None:
    """The verdict, or None when a metric it needs has not been read yet."""
    exemption = evaluate_exemption(instance.tags, policy.exemptions, now=now)
    if exemption.exempt:
        return _Outcome(Verdict.EXEMPT, exemption.reason, {})
    owner = cluster_membership(instance.tags)
    if owner:  # its metrics are never read: a node is judged by its cluster (pods' GPU requests, Container Insights)
        return _Outcome(Verdict.CLUSTER_NODE, f"a Kubernetes node managed by {owner}: stopping it would break its "
                        "pods and its controller would replace it, so the EC2 sweep never marks or stops it; see "
                        "the EKS family's finding on its node group or cluster (idle.services: eks), which judges "
                        "it from its pods' GPU requests and use", {})
    th = policy.idle
    need = policy.idle.min_coverage
    ev: dict[str, float | int | str | None] = {"expected_points": expected_points(policy)}

    if usage.cpu is None:
        return None
    ev["cpu_points"] = usage.cpu.points
    if coverage(usage.cpu, policy) < need:
        return _Outcome(Verdict.INSUFFICIENT_DATA, f"only {usage.cpu.points} of {expected_points(policy)} "
                        f"hourly CPU datapoints in {th.lookback_days} days (new, or stopped most of the window)", ev)
    cpu = round(_avg(usage.cpu), 2)
    ev["cpu_avg_pct"] = cpu
    if cpu >= th.cpu_avg_pct:
        return _Outcome(Verdict.BUSY, f"CPU averaged {cpu}% (idle below {th.cpu_avg_pct}%)", ev)

    if usage.network_in is None or usage.network_out is None:
        return None
    net = merge_sum(usage.network_in, usage.network_out)
    if coverage(net, policy) < need:
        return _Outcome(Verdict.INSUFFICIENT_DATA, f"only {net.points} network datapoints", ev)
    mb_per_day = round(net.total / _MB / (net.points * th.period_seconds / 86400), 2)
    ev["network_mb_per_day"] = mb_per_day
    if mb_per_day >= th.network_mb_per_day:
        return _Outcome(Verdict.BUSY, f"network moved {mb_per_day} MB/day (idle below {th.network_mb_per_day})", ev)

    gpu_series = usage.gpu_util
    if gpu_series is None:
        if is_gpu_instance(instance, policy):
            return None
        gpu_series = ()
    if gpu_series or is_gpu_instance(instance, policy):
        gpu = merge_max(gpu_series)
        ev["gpu_count_seen"] = len(gpu_series)
        ev["gpu_points"] = gpu.points
        if gpu.maximum is None and instance.family in th.unmeasured_families:
            how = (f"no NeuronCore series: the Neuron pusher (agent/neuron_metrics.py; State Manager installs it on "
                   f"instances tagged {policy.agent.neuron_tag_key}=true) publishes them" if _neuron(instance) else
                   "the CloudWatch agent's NVIDIA plugin cannot see it")
            return _Outcome(Verdict.ACCELERATOR_NOT_MEASURED, f"accelerator utilisation is not measured for this "
                            f"{instance.family} box ({how}); CPU avg {cpu}% and network {mb_per_day} MB/day alone do "
                            "not make it idle", ev)
        if gpu.maximum is None:
            return _Outcome(Verdict.GPU_METRICS_MISSING, f"{instance.instance_type} is a GPU instance but no "
                            "CloudWatch agent GPU metrics were found; it cannot be judged idle", ev)
        if coverage(gpu, policy) < need:
            return _Outcome(Verdict.INSUFFICIENT_DATA, f"only {gpu.points} of {expected_points(policy)} "
                            "GPU datapoints (agent installed recently or not reporting)", ev)
        gpu_max = round(gpu.maximum, 2)
        ev["gpu_max_pct"] = gpu_max
        unit = "NeuronCore" if _neuron(instance) else "GPU"
        if gpu_max >= th.gpu_max_pct:
            return _Outcome(Verdict.BUSY, f"a {unit} reached {gpu_max}% utilisation (idle below {th.gpu_max_pct}%)",
                            ev)
        if usage.gpu_memory is None:
            return None
        mem = merge_max(usage.gpu_memory)
        if mem.maximum is not None:
            mem_max = round(mem.maximum, 2)
            ev["gpu_memory_max_pct"] = mem_max
            if mem_max >= th.gpu_memory_max_pct:
                return _Outcome(Verdict.BUSY, f"GPU memory utilisation reached {mem_max}% "
                                f"(idle below {th.gpu_memory_max_pct}%)", ev)

    idle_parts = [f"CPU avg {cpu}%", f"network {mb_per_day} MB/day"]
    if "gpu_max_pct" in ev:
        idle_parts.append(f"{'NeuronCore' if _neuron(instance) else 'GPU'} max {ev['gpu_max_pct']}%")
    reason = f"idle for {th.lookback_days} days: " + ", ".join(idle_parts)
    blocker = _not_stoppable(instance)
    if blocker:
        return _Outcome(Verdict.NOT_STOPPABLE, f"{reason}; not stoppable: {blocker}", ev)
    return _Outcome(Verdict.IDLE, reason, ev)


def _neuron(instance: Instance) -> bool:
    """Inferentia and Trainium: their accelerator series are per NeuronCore (agent/neuron_metrics.py)."""
    return instance.family.startswith(("inf", "trn"))


def _not_stoppable(instance: Instance) -> str | None:
    if instance.stop_protected:
        return "stop protection (DisableApiStop) is on; turn it off, or keep the instance with a justification"
    if instance.asg_name:
        return f"member of Auto Scaling group {instance.asg_name} (scale the group instead)"
    if instance.lifecycle == "spot" and instance.spot_request_type != "persistent":
        return "one-time spot instance (stopping is not supported; terminate or let it finish)"
    if instance.root_device_type == "instance-store":
        return "instance-store root volume (cannot be stopped)"
    return None


def needs_detail(instance: Instance, usage: Usage, policy: Policy, *, now: datetime) -> bool:
    """True when the verdict needs network/GPU metrics that `usage` does not hold yet."""
    return _verdict(instance, usage, policy, now) is None


def stop_candidates(findings: list[Finding]) -> list[str]:
    """Instances the janitor is about to mark or stop: the only ones whose stop protection is worth a read."""
    return [f.resource_id for f in findings if f.action == ActionKind.MARK_IDLE or f.action in STOPS]


PROTECTION_KEPT = timedelta(days=7)
STOPPED_KEPT = timedelta(days=180)  # how long a box the janitor stopped is watched for its owner starting it again


def started_again(stopped: dict[str, datetime], running: list[Instance], *,
                  now: datetime) -> tuple[list[tuple[str, datetime]], dict[str, datetime]]:
    """(boxes the janitor stopped that run again, with when they started — EC2's LaunchTime is the last start —,
    and the stopped boxes still to watch). Seen by the nightly sweep in every region it covers: EC2 delivers
    state-change events only in the instance's own region, so the event rule alone misses other regions."""
    now_running = {i.instance_id: i for i in running}
    again = [(iid, now_running[iid].launch_time) for iid, at in stopped.items()
             if iid in now_running and now_running[iid].launch_time > at]
    back = {iid for iid, _ in again}
    still = {iid: at for iid, at in stopped.items() if iid not in back and now - at < STOPPED_KEPT}
    return again, still


def protection_reads(findings: list[Finding], known: dict[str, datetime], *,
                     now: datetime) -> tuple[list[str], set[str]]:
    """(candidates whose stop protection to read tonight, candidates known protected without a read). A box about to
    be stopped is always read, just before the stop; one about to be marked is not read again while a read within
    PROTECTION_KEPT found it protected (kept in the ledger): a protected idle box costs one read a week, not one a
    night."""
    reads, known_protected = [], set()
    action_of = {f.resource_id: f.action for f in findings}
    for iid in stop_candidates(findings):
        if action_of[iid] == ActionKind.MARK_IDLE and iid in known and now - known[iid] < PROTECTION_KEPT:
            known_protected.add(iid)
        else:
            reads.append(iid)
    return reads, known_protected


def classify_instances(
    instances: list[Instance], usage: dict[str, Usage], policy: Policy, *, now: datetime, run_id: str = "",
    prices: PriceBook | None = None,
) -> list[Finding]:
    """One finding per instance: verdict, reason, evidence, dollars (`prices`: what the Price List API said for
    types the offline table does not know) and the action the policy calls for."""
    return [_finding(i, usage.get(i.instance_id, Usage()), policy, now, run_id, prices) for i in instances]


def recheck(planned: Finding, current: Instance | None, usage: Usage, policy: Policy, *, now: datetime) -> Finding:
    """A stop decided on what was read minutes ago, checked against the instance as it is just before acting.
    Gone, stopped by someone else, or re-tagged (prod, a keep tag, the mark removed) between read and act: the
    stop is not made, and the finding says why. The metrics are not read again; only the instance is."""
    if planned.action not in STOPS:
        return planned
    if current is None or current.state != "running":
        state = "gone" if current is None else current.state
        return planned.model_copy(update={
            "action_status": "skipped", "action_error": f"instance-{state}",
            "notes": (*planned.notes, f"not stopped: the instance was {state} by the time the janitor acted")})
    fresh = _finding(current, usage, policy, now, planned.run_id)
    if fresh.action == planned.action:
        return planned
    return fresh.model_copy(update={"notes": (*fresh.notes, f"changed between read and act: {planned.action} "
                                              f"was planned, its tags now call for {fresh.action or 'nothing'}")})


def _finding(instance: Instance, usage: Usage, policy: Policy, now: datetime, run_id: str,
             prices: PriceBook | None = None) -> Finding:
    outcome = _verdict(instance, usage, policy, now) or _Outcome(
        Verdict.NOT_EVALUATED, "metrics could not be read this run; not judged idle", {})
    who = policy.ownership(instance.tags)
    on_idle = policy.environments.classes[str(who["environment"])].on_idle
    price = instance_price(instance.instance_type, instance.region, prices)
    price_source = price.source + ("; spot instances cost less than this" if instance.lifecycle == "spot" else "")
    notes = list(evaluate_exemption(instance.tags, policy.exemptions, now=now).notes)
    action, act_after = _action(instance, outcome.verdict, on_idle, policy, now, notes)
    savings_relevant = outcome.verdict in (Verdict.IDLE, Verdict.NOT_STOPPABLE)
    return Finding(
        kind=KIND,
        resource_id=instance.instance_id,
        resource_arn=instance.arn,
        resource_type="ec2:instance",
        instance_type=instance.instance_type,
        account=instance.account,
        region=instance.region,
        **who,
        verdict=outcome.verdict,
        reason=outcome.reason,
        evidence=outcome.evidence,
        notes=tuple(notes),
        monthly_usd=price.monthly_usd if savings_relevant else None,
        price_source=price_source if savings_relevant else None,
        action=action,
        action_status="planned" if isinstance(action, ActionKind) else None,
        act_after=act_after,
        severity=_severity(outcome.verdict, price.monthly_usd),
        run_id=run_id,
        observed_at=now,
    )


def _action(
    instance: Instance, verdict: Verdict, on_idle: str, policy: Policy, now: datetime, notes: list[str],
) -> tuple[ActionKind | Ask | None, datetime | None]:
    """Mark → tell → re-check → act for dev; ask for everything else; unmark what became busy."""
    idle_tag = policy.exemptions.idle_since_tag
    marked_raw = instance.tags.get(idle_tag)
    if verdict == Verdict.GPU_METRICS_MISSING:
        tagged = instance.tags.get(policy.agent.tag_key, "").lower() == "true"
        if policy.agent.install_on_gpu_families and not tagged:
            return ActionKind.TAG_GPU_AGENT, None  # the State Manager association installs the agent
        return Ask.INSTALL_GPU_AGENT, None
    if verdict == Verdict.NOT_STOPPABLE:
        return Ask.REVIEW, None
    if verdict != Verdict.IDLE:
        # busy or exempt: a stale mark would stop it later, so it goes; other verdicts keep their mark
        return (ActionKind.UNMARK_IDLE if marked_raw is not None and verdict in (
            Verdict.BUSY, Verdict.EXEMPT, Verdict.CLUSTER_NODE) else None), None
    if on_idle != "stop":
        return Ask.JUSTIFY, None
    hibernate = policy.idle.hibernate and instance.hibernation_configured
    return mark_then(ActionKind.HIBERNATE if hibernate else ActionKind.STOP, marked_raw, policy, now, notes)


def no_longer_due(tags: dict[str, str], policy: Policy, *, now: datetime) -> str | None:
    """Why a resource marked for an action is no longer due just before it (kept, no longer tagged dev, its mark
    removed), or None: every family's re-check asks this first."""
    if evaluate_exemption(tags, policy.exemptions, now=now).exempt:
        return "it was kept"
    if policy.environments.classes[policy.environments.class_of(tags.get(policy.environments.tag_key))
                                   ].on_idle != "stop":
        return "it is no longer tagged dev"
    if tags.get(policy.exemptions.idle_since_tag) is None:
        return "its mark was removed"
    return None


def withdrawn(planned: Finding, note: str) -> Finding:
    """A planned action not made: no action, and the note that says why."""
    return planned.model_copy(update={"action": None, "action_status": None, "notes": (*planned.notes, note)})


def mark_then(act: ActionKind, mark: str | None, policy: Policy, now: datetime,
              notes: list[str]) -> tuple[ActionKind | None, datetime | None]:
    """Mark → tell → act: no (valid) idle mark yet → mark now; marked and the grace period over → `act`; marked
    and still in the grace period → nothing yet. Every resource the janitor may take away goes this way."""
    grace = timedelta(hours=policy.grace.dev_stop_after_hours)
    marked = parse_instant(mark) if mark is not None else None
    if marked is None:
        if mark is not None:
            notes.append(f"tag {policy.exemptions.idle_since_tag}={mark!r} is not an ISO datetime; marked again "
                         "from now")
        return ActionKind.MARK_IDLE, now + grace
    due = marked + grace
    return (act, due) if now >= due else (None, due)


def _severity(verdict: Verdict, monthly: float | None) -> str:
    if verdict == Verdict.GPU_METRICS_MISSING:
        return "medium"
    if verdict not in (Verdict.IDLE, Verdict.NOT_STOPPABLE):
        return "info"
    if monthly is None:
        return "medium"
    if monthly >= 500:
        return "high"
    return "medium" if monthly >= 50 else "low"


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack about an instance (families/ec2.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE:
        return f"Marked idle. It will be stopped after {when} unless you keep it." if when else "Marked idle."
    if f.action in STOPS:
        verb = "Stopped" if f.action == ActionKind.STOP else "Hibernated"
        return {"done": f"{verb}: idle past the grace period after a fresh look at its metrics.",
                "failed": f"Could not be {verb.lower()} ({f.action_error}); it is still running.",
                "skipped": f"Not {verb.lower()}: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"{verb} ({f.action_status}).")
    if f.action == ActionKind.TAG_GPU_AGENT:
        return ("Tagged for the CloudWatch agent: SSM State Manager installs it with GPU metrics, then "
                "cost-janitor can see whether its GPUs work.")
    if f.action == Ask.INSTALL_GPU_AGENT:
        return "Install the CloudWatch agent with GPU metrics so cost-janitor can see whether its GPUs work."
    return None
