"""EC2 instances: GPU-aware idle verdicts (core/idle.py); dev boxes are marked, told, re-checked and stopped, prod
owners are asked. Stop, hibernate and the marks live here with their calls, dry-run form (EC2's DryRun) and IAM."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.cloudwatch import CloudWatchReader, UsageReader
from cost_janitor.adapters.cost import CostExplorer, OptimizationHub
from cost_janitor.adapters.ec2 import MARKS, Ec2Inventory
from cost_janitor.adapters.executor import Api, Call, ids
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.adapters.pricing import night_prices
from cost_janitor.core.commitments import Commitments, Reservations, realized
from cost_janitor.core.idle import (
    PROTECTION_KEPT,
    classify_instances,
    needs_detail,
    protection_reads,
    recheck,
    started_again,
    stop_candidates,
    what_happens,
)
from cost_janitor.core.models import STOPS, ActionKind, Finding, Instance, LedgerRecord, Started, Usage
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import Price, instance_price
from cost_janitor.families import Arn, Family, Grant, Night, dev_only, only_tag_keys

TYPE = "ec2:instance"


def _stop(ec2: Any, api: Api, findings: list[Finding], policy: Policy, *, hibernate: bool) -> None:
    """Remove the idle mark first, then stop: if the owner restarts it, the next idle spell is announced afresh.
    (If the stop fails after the unmark, the box is marked and announced again: the safe direction.)"""
    api(ec2.delete_tags, Resources=ids(findings), Tags=[{"Key": policy.exemptions.idle_since_tag}])
    api(ec2.stop_instances, InstanceIds=ids(findings), **({"Hibernate": True} if hibernate else {}))


ACTIONS: dict[ActionKind, Call] = {
    **MARKS,
    ActionKind.STOP: Call("ec2", ("ec2:DeleteTags", "ec2:StopInstances"),
                          lambda ec2, api, fs, r: _stop(ec2, api, fs, r.policy, hibernate=False)),
    ActionKind.HIBERNATE: Call("ec2", ("ec2:DeleteTags", "ec2:StopInstances"),
                               lambda ec2, api, fs, r: _stop(ec2, api, fs, r.policy, hibernate=True)),
    ActionKind.TAG_GPU_AGENT: Call("ec2", ("ec2:CreateTags",), lambda ec2, api, fs, r: api(
        ec2.create_tags, Resources=ids(fs), Tags=[{"Key": r.policy.agent.tag_key, "Value": "true"}])),
}


def _price_list(instances: Sequence[Instance], night: Night) -> dict[tuple[str, str], Price]:
    """The Price List API's prices for the types and regions the offline table does not know."""
    return night_prices(night.memory, night.calls, "ec2", {
        (i.instance_type, i.region) for i in instances if instance_price(i.instance_type, i.region).hourly_usd is None},
        ledger=night.ledger, now=night.now)


def _after_savings_plans(findings: list[Finding], night: Night) -> list[Finding]:
    """Each priced box's dollars after the account's Savings Plans (core/commitments.py), its list price kept in the
    evidence and the reason in its notes. Cost Explorer is read once a night (coverage: once per new instance family
    and region); a refusal leaves the list price, and each finding says the plans were not read."""
    priced = [f for f in findings if f.resource_type == TYPE and f.monthly_usd and f.instance_type]
    if not night.policy.idle.savings_after_plans or not priced:
        return findings
    memo: dict[str, Any] = night.memory.setdefault("savings-plans", {})
    pairs = {(f.region, str(f.instance_type).split(".")[0]) for f in priced}
    ce = CostExplorer(client("ce", "us-east-1"))  # Cost Explorer's endpoint, for every region's costs
    try:
        if "error" not in memo:
            plans: Commitments | None = memo.get("plans")
            reserved: Reservations | None = memo.get("reservations")
            if plans is None or reserved is None:
                memo["plans"] = ce.savings_plans(now=night.now, pairs=pairs)
                memo["reservations"] = ce.reservations(now=night.now, pairs=pairs)
            elif new := pairs - {tuple(k.split("/", 1)) for k in plans.coverage_pct}:
                memo["plans"] = plans.model_copy(update={"coverage_pct": {
                    **plans.coverage_pct, **ce.family_coverage(now=night.now, pairs=set(new))}})
                if reserved.purchased_hours:
                    memo["reservations"] = reserved.model_copy(update={"coverage_pct": {
                        **reserved.coverage_pct, **ce.reserved_coverage(now=night.now, pairs=set(new))}})
    except ClientError as exc:
        memo["error"] = exc.response["Error"]["Code"]
    finally:
        night.calls["ce:commitments"] += ce.calls  # Savings Plans and Reserved Instances reads

    def after(f: Finding) -> Finding:
        if "error" in memo:
            return f.model_copy(update={"notes": (*f.notes, f"Savings Plans and Reserved Instances not read "
                                                            f"({memo['error']}): the dollars are at list price")})
        r = realized(float(f.monthly_usd or 0), family=str(f.instance_type).split(".")[0], region=f.region,
                     plans=memo["plans"], reservations=memo["reservations"])
        return f if r.reason is None else f.model_copy(update={
            "monthly_usd": r.monthly_usd, "notes": (*f.notes, r.reason),
            "price_source": f"{f.price_source}; after commitments (Cost Explorer, last 30 days)",
            "evidence": {**f.evidence, "list_monthly_usd": r.list_monthly_usd,
                         "savings_plan_covered_pct": r.covered_pct, "reserved_pct": r.reserved_pct}})

    return _rewrite(findings, priced, after)


def _beside_the_hub(findings: list[Finding], night: Night) -> list[Finding]:
    """With idle.cost_optimization_hub: AWS Cost Optimization Hub's estimate for each priced box beside the janitor's
    (evidence.cost_optimization_hub_usd and a note); without access, each says the hub was not used."""
    priced = [f for f in findings if f.resource_type == TYPE and f.monthly_usd is not None]
    if not night.policy.idle.cost_optimization_hub or not priced:
        return findings
    hub = OptimizationHub(client("cost-optimization-hub", "us-east-1"))  # its only endpoint
    try:
        estimates, refused = hub.estimates([f.resource_id for f in priced]), None
    except ClientError as exc:
        estimates, refused = {}, exc.response["Error"]["Code"]
    finally:
        night.calls["cost-optimization-hub:ListRecommendations"] += hub.calls

    def beside(f: Finding) -> Finding:
        if refused:
            return f.model_copy(update={"notes": (*f.notes, f"Cost Optimization Hub not used ({refused})")})
        if f.resource_id not in estimates:
            return f.model_copy(update={"notes": (*f.notes, "Cost Optimization Hub has no recommendation for it")})
        usd, action = estimates[f.resource_id]
        return f.model_copy(update={
            "evidence": {**f.evidence, "cost_optimization_hub_usd": usd},
            "notes": (*f.notes, f"Cost Optimization Hub estimates ${usd:,.2f} a month ({action}); the janitor's: "
                                f"${f.monthly_usd:,.2f}")})

    return _rewrite(findings, priced, beside)


def _rewrite(findings: list[Finding], chosen: list[Finding], change: Callable[[Finding], Finding]) -> list[Finding]:
    """The findings in order, the chosen ones changed."""
    picked = {id(f) for f in chosen}
    return [change(f) if id(f) in picked else f for f in findings]


class Ec2Instances:
    name = "ec2-instances"
    service = "ec2"
    resource_types = (TYPE,)
    rechecked = STOPS
    answered = (Arn("ec2", "instance"),)
    actions = ACTIONS

    def read(self, region: str, night: Night) -> list[Finding]:
        inventory = Ec2Inventory(client("ec2", region), region)
        cloudwatch = CloudWatchReader(client("cloudwatch", region))
        try:
            instances = inventory.running_instances()
            usage = read_usage(UsageReader(cloudwatch), instances, night.policy, now=night.now)
        finally:
            night.calls.update({"DescribeInstances+Spot": inventory.calls, **cloudwatch.calls})
            night.metrics_requested += cloudwatch.metrics_requested
        if night.ledger:
            night.starts += _started_again(instances, night.ledger, region, night)
        night.memory.setdefault("usage", {}).update(usage)
        findings = classify_instances(instances, usage, night.policy, now=night.now, run_id=night.run_id,
                                      prices=_price_list(instances, night))
        findings = _with_stop_protection(findings, instances, usage, inventory, night, region=region)
        return _beside_the_hub(_after_savings_plans(findings, night), night)

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each instance about to be stopped is described again (one call per 200) and its stop re-decided on what it
        is now (core.idle.recheck); the metrics are not read again."""
        inventory = Ec2Inventory(client("ec2", region), region)
        try:
            current = inventory.current([f.resource_id for f in planned])
        finally:
            night.calls["DescribeInstances (re-check)"] += inventory.calls
        usage: dict[str, Usage] = night.memory.get("usage", {})
        return [recheck(f, current.get(f.resource_id), usage.get(f.resource_id, Usage()), night.policy, now=night.now)
                for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Boxes stopped tonight join their region's watch list (one write a region with stops; the list as read
        earlier tonight)."""
        if not night.ledger:
            return
        watching: dict[str, dict[str, datetime]] = night.memory.get("watching", {})
        by_region: dict[str, list[str]] = {}
        for f in findings:
            if f.resource_type == TYPE and f.action in STOPS and f.action_status == "done":
                by_region.setdefault(f.region, []).append(f.resource_id)
        for region, stopped in by_region.items():
            known = watching[region] if region in watching else night.ledger.janitor_stopped(region)
            night.ledger.save_janitor_stopped(region, {**known, **dict.fromkeys(stopped, night.now)})

    def grants(self, policy: Policy) -> list[Grant]:
        instances = (Arn("ec2", "instance", any_region=True),)
        dev = dev_only(policy)
        # a stop's savings after Savings Plans (idle.savings_after_plans): Cost Explorer reads, no resource-level
        # permissions
        plans: tuple[str, ...] = ("ce:GetSavingsPlansCoverage", "ce:GetSavingsPlansUtilization",
                                  "ce:GetReservationCoverage", "ce:GetReservationUtilization") \
            if policy.idle.savings_after_plans else ()
        if policy.idle.cost_optimization_hub:  # its estimate beside the janitor's
            plans += ("cost-optimization-hub:ListRecommendations",)
        return [
            Grant("ReadInventoryAndMetrics", (
                "ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests", "cloudwatch:GetMetricData",
                "cloudwatch:ListMetrics",
                # stop protection (DisableApiStop) of the boxes about to be marked or stopped: without it AWS refuses
                # the read and a protected box would be marked nightly and fail to stop nightly
                "ec2:DescribeInstanceAttribute",
                # prices the offline table does not know (the Price List API)
                "pricing:GetProducts", *plans),
                why="ec2:Describe*, cloudwatch:GetMetricData/ListMetrics, pricing:GetProducts, Cost Explorer reads "
                    "and X-Ray writes have no resource-level permissions"),
            # One statement per API action (not per ActionKind), each with its own condition; a test checks that
            # together they cover executor.permissions() for every ActionKind.
            Grant("StopOnlyDevInstances", ("ec2:StopInstances",), instances, dev,
                  why="the sweep covers the policy's regions; stop and tag writes are conditioned on the dev "
                      "environment tag and the idle-since tag key"),
            Grant("MarkOnlyDevInstances", ("ec2:CreateTags",), instances,
                  {**dev, **only_tag_keys(policy.exemptions.idle_since_tag)}),
            Grant("UnmarkOnlyTheIdleTag", ("ec2:DeleteTags",), instances,
                  only_tag_keys(policy.exemptions.idle_since_tag)),
            Grant("TagForTheGpuAgentOnly", ("ec2:CreateTags",), instances, only_tag_keys(policy.agent.tag_key)),
            Grant("NeverTerminate", ("ec2:TerminateInstances",), deny=True),
        ]

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return []  # the digest's common sections


def read_usage(reader: UsageReader, instances: list[Instance], policy: Policy, *, now: datetime) -> dict[str, Usage]:
    """CPU for every box whose verdict needs metrics; network and GPU utilisation only where CPU could not rule it
    out; GPU memory only where GPU utilisation could not (core.idle.needs_detail decides each stage). A box whose
    read failed keeps what it has: its verdict, lacking what it needs, is "not evaluated"."""
    live = [i for i in instances if needs_detail(i, Usage(), policy, now=now)]  # exempt ones need no metrics
    usage, failed = reader.cpu(live, policy, now=now)
    usage.update({i.instance_id: Usage() for i in live if i.instance_id in failed})
    candidates = [i for i in live if i.instance_id not in failed
                  and needs_detail(i, usage[i.instance_id], policy, now=now)]
    failed |= reader.detail(candidates, usage, policy, now=now)
    memory = [i for i in candidates if i.instance_id not in failed
              and needs_detail(i, usage[i.instance_id], policy, now=now)]
    reader.gpu_memory(memory, usage, policy, now=now)
    return usage


def _started_again(running: list[Instance], ledger: Ledger, region: str, night: Night) -> list[Started]:
    """Boxes the janitor stopped in this region that run again (one ledger read a region, kept for tonight's stops):
    EC2 sends state-change events only in the instance's own region, so this is how starts in every other region
    end their savings."""
    stopped = ledger.janitor_stopped(region)
    again, still = started_again(stopped, running, now=night.now)
    night.memory.setdefault("watching", {})[region] = still
    if still != stopped:
        ledger.save_janitor_stopped(region, still)
    return [Started(resource_id=iid, resource_type=TYPE, region=region, at=at) for iid, at in again]


def _with_stop_protection(findings: list[Finding], instances: list[Instance], usage: dict[str, Usage],
                          inventory: Ec2Inventory, night: Night, *, region: str) -> list[Finding]:
    """A box with stop protection (DisableApiStop) would be marked and fail to stop every night: its attribute is
    read for the mark/stop candidates only (one call each, never the whole fleet; a box found protected is kept in
    the ledger and not read again for a week) and those protected are judged again knowing it (not-stoppable)."""
    ledger, now = night.ledger, night.now
    known = ledger.stop_protected(region) if ledger and stop_candidates(findings) else {}
    reads, protected = protection_reads(findings, known, now=now)
    if not reads and not protected:
        return findings
    before = inventory.calls
    read = inventory.stop_protection(reads)
    night.calls["DescribeInstanceAttribute"] += inventory.calls - before
    protected |= {iid for iid, on in read.items() if on}
    if ledger:
        kept = {iid: at for iid, at in known.items() if iid not in read and now - at < PROTECTION_KEPT}
        kept.update({iid: now for iid, on in read.items() if on})
        if kept != known:
            ledger.save_stop_protected(region, kept)
    if not protected:
        return findings
    again = {f.resource_id: f for f in classify_instances(
        [i.model_copy(update={"stop_protected": True}) for i in instances if i.instance_id in protected],
        usage, night.policy, now=now, run_id=night.run_id)}
    return [again.get(f.resource_id, f) for f in findings]


FAMILY: Family = Ec2Instances()
