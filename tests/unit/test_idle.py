"""Idle verdicts and actions, table-driven and without any AWS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_janitor.core.idle import classify_instances, needs_detail, recheck, stop_candidates
from cost_janitor.core.models import STOPS, ActionKind, Ask, Usage, Verdict
from cost_janitor.core.policy import Policy
from tests.builders import NOW, make_instance, make_usage, series

POLICY = Policy()
MARKED_30H_AGO = {"cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}
MARKED_2H_AGO = {"cost-janitor:idle-since": (NOW - timedelta(hours=2)).isoformat()}
DEV = {"environment": "dev", "owner": "ana@example.com"}
PROD = {"environment": "prod", "owner": "bo@example.com"}

CASES: list[tuple[str, dict[str, Any], Usage, Verdict, ActionKind | Ask | None]] = [
    ("gpu_busy_instance_with_idle_cpu_is_not_flagged",
     {"instance_type": "g5.xlarge"}, make_usage(cpu=3, gpus=[95]), Verdict.BUSY, None),
    ("gpu_idle_instance_with_chatty_cpu_below_threshold_is_idle",
     {"instance_type": "g5.xlarge"}, make_usage(cpu=4.5, gpus=[2]), Verdict.IDLE, ActionKind.MARK_IDLE),
    ("gpu_instance_without_agent_data_is_never_called_idle",
     {"instance_type": "p4d.24xlarge"}, make_usage(cpu=0.5, gpus=[]), Verdict.GPU_METRICS_MISSING,
     Ask.INSTALL_GPU_AGENT),
    ("one_busy_gpu_of_eight_keeps_the_instance_busy",
     {"instance_type": "p4d.24xlarge"}, make_usage(cpu=1, gpus=[0, 0, 0, 0, 0, 0, 0, 60]), Verdict.BUSY, None),
    ("busy_gpu_memory_with_idle_compute_is_busy",
     {"instance_type": "g5.xlarge"}, make_usage(cpu=1, gpus=[3], gpu_memory=[40]), Verdict.BUSY, None),
    ("gpu_agent_installed_yesterday_is_insufficient_data",
     {"instance_type": "g5.xlarge"},
     Usage(cpu=series(1.0), network_in=series(10.0), network_out=series(10.0), gpu_util=(series(1.0, 24),),
           gpu_memory=(series(1.0, 24),)), Verdict.INSUFFICIENT_DATA, None),
    ("custom_type_with_gpu_series_is_judged_on_its_gpus",
     {"instance_type": "x2idn.large"}, make_usage(cpu=1, gpus=[80]), Verdict.BUSY, None),
    ("idle_cpu_dev_box_is_marked_first",
     {}, make_usage(cpu=1), Verdict.IDLE, ActionKind.MARK_IDLE),
    ("busy_cpu_box_is_busy", {}, make_usage(cpu=40), Verdict.BUSY, None),
    ("cpu_exactly_at_threshold_is_busy", {}, make_usage(cpu=5.0), Verdict.BUSY, None),
    ("chatty_network_keeps_an_idle_cpu_box_busy", {}, make_usage(cpu=1, net_mb_per_hour=100), Verdict.BUSY, None),
    ("new_instance_with_two_hours_of_data_is_insufficient_data",
     {"launch_time": NOW - timedelta(hours=2)}, make_usage(cpu=1, points=2), Verdict.INSUFFICIENT_DATA, None),
    ("idle_prod_box_asks_its_owner_to_justify",
     {"tags": PROD}, make_usage(cpu=1), Verdict.IDLE, Ask.JUSTIFY),
    ("idle_box_without_environment_tag_is_treated_as_prod",
     {"tags": {"owner": "x@example.com"}}, make_usage(cpu=1), Verdict.IDLE, Ask.JUSTIFY),
    ("kept_box_is_exempt", {"tags": {**DEV, "cost-janitor:keep-until": "2026-12-20"}}, make_usage(cpu=1),
     Verdict.EXEMPT, None),
    ("opted_out_box_is_exempt", {"tags": {**DEV, "cost-janitor:opt-out": "true"}}, make_usage(cpu=1),
     Verdict.EXEMPT, None),
    ("expired_keep_is_ignored", {"tags": {**DEV, "cost-janitor:keep-until": "2026-10-01"}}, make_usage(cpu=1),
     Verdict.IDLE, ActionKind.MARK_IDLE),
    ("idle_asg_member_is_not_stoppable",
     {"asg_name": "inference"}, make_usage(cpu=1), Verdict.NOT_STOPPABLE, Ask.REVIEW),
    ("idle_one_time_spot_is_not_stoppable",
     {"lifecycle": "spot", "spot_request_type": "one-time"}, make_usage(cpu=1), Verdict.NOT_STOPPABLE, Ask.REVIEW),
    ("idle_spot_with_unknown_request_is_treated_as_one_time",
     {"lifecycle": "spot"}, make_usage(cpu=1), Verdict.NOT_STOPPABLE, Ask.REVIEW),
    ("idle_persistent_spot_dev_box_is_marked",
     {"lifecycle": "spot", "spot_request_type": "persistent"}, make_usage(cpu=1), Verdict.IDLE,
     ActionKind.MARK_IDLE),
    ("idle_instance_store_box_is_not_stoppable",
     {"root_device_type": "instance-store"}, make_usage(cpu=1), Verdict.NOT_STOPPABLE, Ask.REVIEW),
    ("dev_box_marked_past_grace_and_still_idle_is_stopped",
     {"tags": {**DEV, **MARKED_30H_AGO}}, make_usage(cpu=1), Verdict.IDLE, ActionKind.STOP),
    ("dev_box_marked_within_grace_waits",
     {"tags": {**DEV, **MARKED_2H_AGO}}, make_usage(cpu=1), Verdict.IDLE, None),
    ("marked_box_that_became_busy_is_unmarked",
     {"tags": {**DEV, **MARKED_30H_AGO}}, make_usage(cpu=50), Verdict.BUSY, ActionKind.UNMARK_IDLE),
    ("marked_box_that_was_kept_is_unmarked",
     {"tags": {**DEV, **MARKED_30H_AGO, "cost-janitor:keep-until": "2026-12-24"}}, make_usage(cpu=1),
     Verdict.EXEMPT, ActionKind.UNMARK_IDLE),
    ("marked_box_with_missing_data_keeps_its_mark",
     {"tags": {**DEV, **MARKED_30H_AGO}}, make_usage(cpu=1, points=10), Verdict.INSUFFICIENT_DATA, None),
    ("malformed_mark_is_replaced",
     {"tags": {**DEV, "cost-janitor:idle-since": "tuesday"}}, make_usage(cpu=1), Verdict.IDLE,
     ActionKind.MARK_IDLE),
    ("unreadable_metrics_are_not_evaluated_never_idle", {}, Usage(), Verdict.NOT_EVALUATED, None),
    ("stop_protected_idle_dev_box_is_not_stoppable_and_not_marked",
     {"stop_protected": True}, make_usage(cpu=1), Verdict.NOT_STOPPABLE, Ask.REVIEW),
    ("stop_protected_box_past_grace_is_not_stopped",
     {"tags": {**DEV, **MARKED_30H_AGO}, "stop_protected": True}, make_usage(cpu=1), Verdict.NOT_STOPPABLE,
     Ask.REVIEW),
    ("unprotected_box_read_as_such_is_marked",
     {"stop_protected": False}, make_usage(cpu=1), Verdict.IDLE, ActionKind.MARK_IDLE),
    ("neuron_box_without_accelerator_metrics_is_not_measured_and_not_nagged",
     {"instance_type": "inf2.xlarge"}, make_usage(cpu=0.5, gpus=[]), Verdict.ACCELERATOR_NOT_MEASURED, None),
    ("amd_gpu_box_is_not_told_to_install_the_nvidia_agent",
     {"instance_type": "g4ad.xlarge"}, make_usage(cpu=0.5, gpus=[]), Verdict.ACCELERATOR_NOT_MEASURED, None),
    ("gaudi_box_idle_on_cpu_alone_is_never_idle",
     {"instance_type": "dl1.24xlarge", "tags": {**DEV, **MARKED_30H_AGO}}, make_usage(cpu=0.1, gpus=[]),
     Verdict.ACCELERATOR_NOT_MEASURED, None),
    ("trainium_box_with_busy_cpu_is_busy",
     {"instance_type": "trn1.2xlarge"}, make_usage(cpu=60, gpus=[]), Verdict.BUSY, None),
]


CLUSTER_NODES = [
    ("karpenter_gpu_node", {"kubernetes.io/cluster/ml": "owned", "eks:eks-cluster-name": "ml",
                            "karpenter.sh/nodepool": "gpu"}, "Karpenter node pool gpu of cluster ml"),
    ("older_karpenter_node", {"karpenter.sh/provisioner-name": "default", "karpenter.sh/managed-by": "ml"},
     "Karpenter node pool default of cluster ml"),
    ("managed_node_group_member", {"eks:cluster-name": "ml", "eks:nodegroup-name": "gpu-ng",
                                   "aws:autoscaling:groupName": "eks-gpu-ng-1"}, "node group's scaling"),
    ("self_managed_node", {"kubernetes.io/cluster/ml": "owned"}, "cluster ml"),
]


@pytest.mark.parametrize("tags, says", [c[1:] for c in CLUSTER_NODES], ids=[c[0] for c in CLUSTER_NODES])
def test_an_idle_cluster_node_is_never_marked_or_stopped_by_the_ec2_sweep(tags: dict[str, str], says: str) -> None:
    for extra, usage in (({}, make_usage(cpu=0.5, gpus=[0.0])), (MARKED_30H_AGO, make_usage(cpu=0.5)),
                         ({}, make_usage(cpu=0.5, gpus=[]))):  # idle GPU node; marked past grace; no GPU agent
        instance = make_instance(instance_type="g5.xlarge", tags={**DEV, **tags, **extra})
        [f] = classify_instances([instance], {instance.instance_id: usage}, POLICY, now=NOW)
        assert f.verdict == Verdict.CLUSTER_NODE and says in f.reason
        assert f.action in (None, ActionKind.UNMARK_IDLE) and f.monthly_usd is None
        assert (f.action == ActionKind.UNMARK_IDLE) == bool(extra)


# The absence table: each signal removed in turn; none is ever idle, nothing is marked or stopped.
NO_GPU = make_usage(cpu=0.5, gpus=[])
ABSENT = [
    ("no_cpu_series_at_all", {}, Usage(), Verdict.NOT_EVALUATED),
    ("cpu_series_covering_too_little", {}, make_usage(cpu=0.5, points=20), Verdict.INSUFFICIENT_DATA),
    ("network_not_read", {}, Usage(cpu=make_usage(cpu=0.5).cpu), Verdict.NOT_EVALUATED),
    ("gpu_box_without_gpu_series", {"instance_type": "g5.xlarge"}, NO_GPU, Verdict.GPU_METRICS_MISSING),
    ("gpu_series_covering_too_little", {"instance_type": "g5.xlarge"},
     Usage(cpu=make_usage(cpu=0.5).cpu, network_in=make_usage().network_in, network_out=make_usage().network_out,
           gpu_util=(series(0.0, 20),), gpu_memory=(series(0.0, 20),)), Verdict.INSUFFICIENT_DATA),
    ("neuron_box_with_no_neuroncore_metric", {"instance_type": "trn1.2xlarge"}, NO_GPU,
     Verdict.ACCELERATOR_NOT_MEASURED),
    ("amd_gpu_the_nvidia_agent_cannot_see", {"instance_type": "g4ad.xlarge"}, NO_GPU,
     Verdict.ACCELERATOR_NOT_MEASURED),
]


@pytest.mark.parametrize("overrides, usage, verdict", [c[1:] for c in ABSENT], ids=[c[0] for c in ABSENT])
def test_an_absent_signal_is_never_idle_for_instances(overrides: dict[str, Any], usage: Usage,
                                                       verdict: Verdict) -> None:
    for tags in (DEV, {**DEV, **MARKED_30H_AGO}):
        instance = make_instance(**{"tags": tags, **overrides})
        [f] = classify_instances([instance], {instance.instance_id: usage}, POLICY, now=NOW)
        assert f.verdict == verdict, f.reason
        assert f.action not in (ActionKind.MARK_IDLE, *STOPS)


@pytest.mark.parametrize("overrides, usage, verdict, action", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_idle_verdict_and_action(overrides: dict[str, Any], usage: Usage, verdict: Verdict,
                                 action: ActionKind | Ask | None) -> None:
    [finding] = classify_instances([make_instance(**overrides)], {"i-0123456789abcdef0": usage}, POLICY, now=NOW)
    assert (finding.verdict, finding.action) == (verdict, action), finding.reason


def test_idle_finding_carries_evidence_reason_and_dollars() -> None:
    [f] = classify_instances([make_instance(instance_type="g5.xlarge")],
                             {"i-0123456789abcdef0": make_usage(cpu=2, gpus=[1, 3])}, POLICY, now=NOW, run_id="r1")
    assert f.evidence["cpu_avg_pct"] == 2.0 and f.evidence["gpu_max_pct"] == 3.0 and f.evidence["gpu_count_seen"] == 2
    assert "idle for 7 days" in f.reason and "GPU max 3.0%" in f.reason
    assert f.monthly_usd == 734.38 and "2025-05-01" in (f.price_source or "")
    assert f.act_after == NOW + timedelta(hours=24)
    assert (f.environment, f.owner, f.run_id, f.severity) == ("dev", "ana@example.com", "r1", "high")


def test_unknown_price_is_unknown_not_zero() -> None:
    [f] = classify_instances([make_instance(instance_type="x9z.mega")], {"i-0123456789abcdef0": make_usage(cpu=1)},
                             POLICY, now=NOW)
    assert f.verdict == Verdict.IDLE and f.monthly_usd is None and "unknown" in (f.price_source or "")


def test_hibernate_only_where_enabled_and_configured() -> None:
    policy = Policy.model_validate({"idle": {"hibernate": True}})
    inst = make_instance(tags={**DEV, **MARKED_30H_AGO}, hibernation_configured=True)
    [f] = classify_instances([inst], {inst.instance_id: make_usage(cpu=1)}, policy, now=NOW)
    assert f.action == ActionKind.HIBERNATE
    inst = make_instance(tags={**DEV, **MARKED_30H_AGO}, hibernation_configured=False)
    [f] = classify_instances([inst], {inst.instance_id: make_usage(cpu=1)}, policy, now=NOW)
    assert f.action == ActionKind.STOP


DUE = {**DEV, **MARKED_30H_AGO}
# What the instance turned out to be just before the stop: (current instance or None, status, action, error).
RECHECKS: list[tuple[str, Any, str | None, ActionKind | Ask | None, str | None]] = [
    ("unchanged_box_is_stopped", {"tags": DUE}, "planned", ActionKind.STOP, None),
    ("terminated_in_between_is_skipped", None, "skipped", ActionKind.STOP, "instance-gone"),
    ("stopped_by_its_owner_is_skipped", {"tags": DUE, "state": "stopped"}, "skipped", ActionKind.STOP,
     "instance-stopped"),
    ("stopping_already_is_skipped", {"tags": DUE, "state": "stopping"}, "skipped", ActionKind.STOP,
     "instance-stopping"),
    ("retagged_prod_is_asked_not_stopped", {"tags": {**PROD, **MARKED_30H_AGO}}, None, Ask.JUSTIFY, None),
    ("kept_in_between_is_unmarked_not_stopped",
     {"tags": {**DUE, "cost-janitor:keep-until": "2026-12-20"}}, "planned", ActionKind.UNMARK_IDLE, None),
    ("mark_removed_in_between_is_marked_again", {"tags": DEV}, "planned", ActionKind.MARK_IDLE, None),
    ("joined_an_asg_in_between_is_not_stopped", {"tags": DUE, "asg_name": "workers"}, None, Ask.REVIEW, None),
]


@pytest.mark.parametrize("current, status, action, error", [c[1:] for c in RECHECKS], ids=[c[0] for c in RECHECKS])
def test_a_stop_is_redecided_on_the_instance_as_it_is_just_before_acting(
        current: dict[str, Any] | None, status: str | None, action: ActionKind | Ask | None, error: str | None) -> None:
    usage = make_usage(cpu=1)
    [planned] = classify_instances([make_instance(tags=DUE)], {"i-0123456789abcdef0": usage}, POLICY, now=NOW,
                                   run_id="r1")
    assert planned.action == ActionKind.STOP
    after = recheck(planned, make_instance(**current) if current is not None else None, usage, POLICY, now=NOW)
    assert (after.action_status, after.action, after.action_error) == (status, action, error)
    assert after.run_id == "r1" and after.resource_id == planned.resource_id
    if after != planned:
        assert any("not stopped" in n or "changed between read and act" in n for n in after.notes)


def test_only_boxes_about_to_be_marked_or_stopped_are_stop_candidates() -> None:
    instances = [make_instance(instance_id="i-mark"), make_instance(instance_id="i-stop", tags=DUE),
                 make_instance(instance_id="i-prod", tags=PROD), make_instance(instance_id="i-busy"),
                 make_instance(instance_id="i-wait", tags={**DEV, **MARKED_2H_AGO})]
    usage = {i.instance_id: make_usage(cpu=50 if i.instance_id == "i-busy" else 1) for i in instances}
    assert stop_candidates(classify_instances(instances, usage, POLICY, now=NOW)) == ["i-mark", "i-stop"]


def test_an_unmeasured_accelerator_finding_says_why_and_is_not_sent_to_slack() -> None:
    from cost_janitor.core.notify import NoticeHistory, plan_notice

    inst = make_instance(instance_type="inf2.xlarge")
    [f] = classify_instances([inst], {inst.instance_id: make_usage(cpu=0.5, gpus=[])}, POLICY, now=NOW)
    assert "not measured for this inf2 box" in f.reason and f.monthly_usd is None and f.severity == "info"
    assert "agent/neuron_metrics.py" in f.reason  # a Neuron box: the pusher that would measure it is named
    assert not plan_notice(f, NoticeHistory(), POLICY, now=NOW).notify_owner


def test_recheck_leaves_everything_but_stops_alone() -> None:
    [marking] = classify_instances([make_instance()], {"i-0123456789abcdef0": make_usage(cpu=1)}, POLICY, now=NOW)
    assert recheck(marking, None, Usage(), POLICY, now=NOW) is marking


def test_gpu_box_without_agent_is_tagged_for_the_agent_when_the_policy_says_so() -> None:
    policy = Policy.model_validate({"agent": {"install_on_gpu_families": True}})
    inst = make_instance(instance_type="g5.xlarge")
    [f] = classify_instances([inst], {inst.instance_id: make_usage(cpu=1, gpus=[])}, policy, now=NOW)
    assert (f.verdict, f.action) == (Verdict.GPU_METRICS_MISSING, ActionKind.TAG_GPU_AGENT)
    tagged = make_instance(instance_type="g5.xlarge", tags={**DEV, "cost-janitor:gpu-agent": "true"})
    [f] = classify_instances([tagged], {tagged.instance_id: make_usage(cpu=1, gpus=[])}, policy, now=NOW)
    assert f.action == Ask.INSTALL_GPU_AGENT  # already tagged: the agent is not reporting, a person must look


def test_expired_exemption_is_reported_in_the_finding() -> None:
    inst = make_instance(tags={**DEV, "cost-janitor:keep-until": "2026-10-01"})
    [f] = classify_instances([inst], {inst.instance_id: make_usage(cpu=1)}, POLICY, now=NOW)
    assert any("expired" in n for n in f.notes) and f.publishable


def test_busy_cpu_needs_no_further_metrics_but_idle_cpu_does() -> None:
    cpu_only = Usage(cpu=series(40.0))
    assert not needs_detail(make_instance(), cpu_only, POLICY, now=NOW)
    assert needs_detail(make_instance(), Usage(cpu=series(1.0)), POLICY, now=NOW)
    assert not needs_detail(make_instance(tags={**DEV, "cost-janitor:opt-out": "true"}), Usage(), POLICY, now=NOW)


@settings(max_examples=300, deadline=None)
@given(cpu=st.floats(0, 100), net=st.floats(0, 200), gpus=st.lists(st.floats(0, 100), max_size=8),
       memory=st.lists(st.floats(0, 100), max_size=8), gpu_type=st.booleans(), points=st.integers(0, 168))
def test_reading_detail_only_when_needed_gives_the_same_verdict(cpu: float, net: float, gpus: list[float],
                                                                memory: list[float], gpu_type: bool,
                                                                points: int) -> None:
    inst = make_instance(instance_type="g5.xlarge" if gpu_type else "m5.large")
    full = make_usage(cpu=series(cpu, points), net_mb_per_hour=net, gpus=gpus, gpu_memory=memory[:len(gpus)]
                      + [0.0] * (len(gpus) - len(memory)))
    # the three reads UsageReader makes: CPU; then network + GPU utilisation; then GPU memory
    staged = Usage(cpu=full.cpu)
    if needs_detail(inst, staged, POLICY, now=NOW):
        staged = full.model_copy(update={"gpu_memory": None if gpus else ()})
        if needs_detail(inst, staged, POLICY, now=NOW):
            staged = full
    [a] = classify_instances([inst], {inst.instance_id: full}, POLICY, now=NOW)
    [b] = classify_instances([inst], {inst.instance_id: staged}, POLICY, now=NOW)
    assert a.verdict == b.verdict and a.action == b.action
