"""SageMaker verdicts, pure: endpoints judged on traffic then accelerators, notebook instances on time in service."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cost_janitor.core.endpoints import (
    ASYNC,
    COMPONENTS,
    REAL_TIME,
    AsyncUsage,
    Endpoint,
    EndpointVariant,
    VariantUsage,
    classify_endpoints,
    needs_description,
    recheck_endpoint,
    restore_blocker,
    restore_plan,
)
from cost_janitor.core.models import ActionKind, Ask, Series, Verdict
from cost_janitor.core.notebooks import NotebookInstance, classify_notebooks
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import ml_price
from cost_janitor.core.studio import StudioApp, StudioDomain, classify_apps, classify_domains
from tests.builders import HOURS, NOW, series

POLICY = Policy.model_validate({"sagemaker": {"delete_idle_dev_endpoints": True}})
DEV = {"environment": "dev", "owner": "ana@example.com", "team": "vision"}
PROD = {"environment": "prod", "owner": "bo@example.com", "team": "search"}
G5 = EndpointVariant(name="AllTraffic", instance_type="ml.g5.xlarge", instance_count=1)


def endpoint(*variants: EndpointVariant, tags: dict[str, str] | None = None, age_days: float = 30,
             described: bool = True, kind: str = REAL_TIME) -> Endpoint:
    return Endpoint(name="ranker", arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/ranker",
                    region="us-east-1", account="123456789012", created=NOW - timedelta(days=age_days),
                    last_modified=NOW - timedelta(days=age_days), tags=DEV if tags is None else tags,
                    config_name="ranker-config", variants=(variants or (G5,)) if described else None,
                    kind=kind if described else None)


def up(*, calls: float | None = 0.0, gpu: list[float] | None = None, cpu_points: int = HOURS) -> VariantUsage:
    """A variant whose instance metrics cover `cpu_points` hours; `calls` invocations an hour (0: the Invocations
    series exists but has no datapoints in the window; None: there is no series at all); per-GPU (or aggregate)
    max %."""
    return VariantUsage(invocations=None if calls is None else Series() if not calls else series(calls),
                        cpu=series(3.0, cpu_points), gpu=tuple(series(g) for g in gpu or []))


CASES: list[tuple[str, Endpoint, dict[str, VariantUsage], Verdict, Any]] = [
    ("zero traffic: the Invocations series exists, no datapoints in the window", endpoint(),
     {"AllTraffic": up(calls=0, gpu=[0.0])}, Verdict.IDLE, ActionKind.MARK_IDLE),
    ("zero traffic, prod: asked", endpoint(tags=PROD), {"AllTraffic": up(gpu=[0.0])}, Verdict.IDLE, Ask.JUSTIFY),
    ("traffic with idle GPUs", endpoint(), {"AllTraffic": up(calls=40, gpu=[4.0])}, Verdict.UNDERUSED,
     Ask.RIGHT_SIZE),
    ("busy", endpoint(), {"AllTraffic": up(calls=4000, gpu=[85.0])}, Verdict.BUSY, None),
    ("new: created inside the window", endpoint(age_days=2), {"AllTraffic": up(cpu_points=48)},
     Verdict.INSUFFICIENT_DATA, None),
    ("instance metrics missing for most of the window", endpoint(), {"AllTraffic": up(cpu_points=20)},
     Verdict.INSUFFICIENT_DATA, None),
    ("exempt", endpoint(tags={**DEV, "cost-janitor:keep-until": "2099-01-01"}), {"AllTraffic": up()},
     Verdict.EXEMPT, None),
    ("serverless: never idle for money", endpoint(EndpointVariant(name="AllTraffic", serverless=True)),
     {"AllTraffic": VariantUsage(invocations=Series())}, Verdict.SERVERLESS, None),
    ("multi-variant: one variant idle while the other serves", endpoint(
        G5, EndpointVariant(name="Canary", instance_type="ml.g5.xlarge", instance_count=1)),
     {"AllTraffic": up(calls=900, gpu=[70.0]), "Canary": up(gpu=[0.0])}, Verdict.UNDERUSED, Ask.RIGHT_SIZE),
    ("multi-variant, no traffic on either", endpoint(
        G5, EndpointVariant(name="Canary", instance_type="ml.g5.xlarge", instance_count=1)),
     {"AllTraffic": up(gpu=[0.0]), "Canary": up(gpu=[0.0])}, Verdict.IDLE, ActionKind.MARK_IDLE),
    ("inf2 serving traffic: accelerator not measured", endpoint(EndpointVariant(
        name="AllTraffic", instance_type="ml.inf2.xlarge", instance_count=1)), {"AllTraffic": up(calls=50)},
     Verdict.ACCELERATOR_NOT_MEASURED, None),
    ("inf2 with no traffic is still idle", endpoint(EndpointVariant(
        name="AllTraffic", instance_type="ml.inf2.xlarge", instance_count=1)), {"AllTraffic": up()},
     Verdict.IDLE, ActionKind.MARK_IDLE),
    ("no Invocations series at all is never idle", endpoint(),
     {"AllTraffic": VariantUsage(invocations=None, cpu=series(3.0), gpu=(series(0.0),))}, Verdict.CANNOT_JUDGE, None),
    ("CPU endpoint serving traffic", endpoint(EndpointVariant(name="AllTraffic", instance_type="ml.m5.large",
                                                              instance_count=2)),
     {"AllTraffic": up(calls=10)}, Verdict.BUSY, None),
]


ASYNC_EP = endpoint(kind=ASYNC)

# The absence table: each signal removed in turn. None of these is ever idle, so nothing is marked or deleted.
ABSENT: list[tuple[str, Endpoint, dict[str, VariantUsage], AsyncUsage | None, Verdict]] = [
    ("real-time: no Invocations series at all", endpoint(), {"AllTraffic": up(calls=None, gpu=[0.0])}, None,
     Verdict.CANNOT_JUDGE),
    ("real-time: Invocations only under other dimensions (the adapter found none for this variant)", endpoint(
        G5, EndpointVariant(name="Canary", instance_type="ml.g5.xlarge", instance_count=1)),
     {"AllTraffic": up(calls=0, gpu=[0.0]), "Canary": up(calls=None, gpu=[0.0])}, None, Verdict.CANNOT_JUDGE),
    ("asynchronous: no Invocations (none are published), busy by what it processed", ASYNC_EP,
     {"AllTraffic": up(calls=None)}, AsyncUsage(backlog=series(0.0), processed=series(30.0)), Verdict.BUSY),
    ("asynchronous: requests waiting in the backlog", ASYNC_EP, {"AllTraffic": up(calls=None)},
     AsyncUsage(backlog=series(12.0), processed=None), Verdict.BUSY),
    ("asynchronous: no backlog series at all", ASYNC_EP, {"AllTraffic": up(calls=None)}, None,
     Verdict.CANNOT_JUDGE),
    ("asynchronous: backlog series covers too little of the window", ASYNC_EP, {"AllTraffic": up(calls=None)},
     AsyncUsage(backlog=series(0.0, 20)), Verdict.CANNOT_JUDGE),
    ("inference components: traffic is per component, busy or not", endpoint(
        EndpointVariant(name="AllTraffic", instance_type="ml.g5.xlarge", instance_count=1), kind=COMPONENTS),
     {"AllTraffic": up(calls=None, gpu=[0.0])}, None, Verdict.CANNOT_JUDGE),
    ("kind not known (not described) and no traffic", endpoint(described=False), {"AllTraffic": up(calls=0)}, None,
     Verdict.CANNOT_JUDGE),
    ("Neuron accelerator with no utilisation metric, serving", endpoint(EndpointVariant(
        name="AllTraffic", instance_type="ml.inf2.xlarge", instance_count=1)), {"AllTraffic": up(calls=50)}, None,
     Verdict.ACCELERATOR_NOT_MEASURED),
    ("no metrics at all for the endpoint", endpoint(), {}, None, Verdict.INSUFFICIENT_DATA),
]


@pytest.mark.parametrize(("case", "ep", "usage", "async_usage", "verdict"), ABSENT, ids=[c[0] for c in ABSENT])
def test_an_absent_signal_is_never_idle_for_endpoints(case: str, ep: Endpoint, usage: dict[str, VariantUsage],
                                                      async_usage: AsyncUsage | None, verdict: Verdict) -> None:
    [f] = classify_endpoints([ep], {"ranker": usage}, POLICY, now=NOW,
                             async_usage={"ranker": async_usage} if async_usage else None)
    assert f.verdict == verdict, f.reason
    assert f.action not in (ActionKind.MARK_IDLE, ActionKind.DELETE_ENDPOINT)


def test_an_idle_asynchronous_endpoint_is_judged_on_its_backlog_and_processed_requests() -> None:
    [f] = classify_endpoints([ASYNC_EP], {"ranker": {"AllTraffic": up(calls=None)}}, POLICY, now=NOW,
                             async_usage={"ranker": AsyncUsage(backlog=series(0.0), processed=None)})
    assert (f.verdict, f.action) == (Verdict.IDLE, ActionKind.MARK_IDLE), f.reason


@pytest.mark.parametrize(("case", "ep", "usage", "verdict", "action"), CASES, ids=[c[0] for c in CASES])
def test_endpoint_verdicts(case: str, ep: Endpoint, usage: dict[str, VariantUsage], verdict: Verdict,
                           action: Any) -> None:
    [f] = classify_endpoints([ep], {"ranker": usage}, POLICY, now=NOW)
    assert (f.verdict, f.action) == (verdict, action), f.reason
    assert f.resource_type == "sagemaker:endpoint"
    if verdict in (Verdict.IDLE, Verdict.UNDERUSED):
        assert f.monthly_usd is not None and f.monthly_usd > 0 and "SageMaker" in str(f.price_source)
    else:
        assert f.monthly_usd is None  # serverless, busy, new, exempt: never dollars of waste


def test_idle_dollars_are_every_instance_of_every_variant() -> None:
    two = EndpointVariant(name="AllTraffic", instance_type="ml.g5.xlarge", instance_count=2)
    [f] = classify_endpoints([endpoint(two)], {"ranker": {"AllTraffic": up()}}, POLICY, now=NOW)
    assert f.monthly_usd == round(2 * 1.408 * 730, 2) and f.instance_type == "ml.g5.xlarge×2"
    assert f.evidence["endpoint_config"] == "ranker-config"


def test_an_aggregate_gpu_sum_under_the_threshold_means_no_gpu_reached_it() -> None:
    """GPUUtilization of a 4-GPU variant is 0–400 %: 25 % summed is at most 25 % on the busiest GPU."""
    four = EndpointVariant(name="AllTraffic", instance_type="ml.g5.12xlarge", instance_count=1)
    [f] = classify_endpoints([endpoint(four)], {"ranker": {"AllTraffic": up(calls=30, gpu=[25.0])}}, POLICY, now=NOW)
    assert f.verdict == Verdict.UNDERUSED and "fewer GPUs" in " ".join(f.notes)
    [busy] = classify_endpoints([endpoint(four)], {"ranker": {"AllTraffic": up(calls=30, gpu=[120.0])}}, POLICY,
                                now=NOW)
    assert busy.verdict == Verdict.BUSY


def test_with_per_accelerator_series_the_busiest_gpu_decides() -> None:
    [f] = classify_endpoints([endpoint()], {"ranker": {"AllTraffic": up(calls=30, gpu=[2.0, 3.0, 64.0])}}, POLICY,
                             now=NOW)
    assert f.verdict == Verdict.BUSY


@pytest.mark.parametrize(("tags", "delete_opt_in", "action"), [
    ({**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}, True, ActionKind.DELETE_ENDPOINT),
    ({**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=3)).isoformat()}, True, None),  # still in grace
    ({**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}, False, Ask.JUSTIFY),  # opt-in off
    ({**PROD, "cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}, True, Ask.JUSTIFY),
])
def test_delete_only_dev_only_opted_in_only_after_the_grace(tags: dict[str, str], delete_opt_in: bool,
                                                            action: Any) -> None:
    policy = Policy.model_validate({"sagemaker": {"delete_idle_dev_endpoints": delete_opt_in}})
    [f] = classify_endpoints([endpoint(tags=tags)], {"ranker": {"AllTraffic": up()}}, policy, now=NOW)
    assert f.action == action


def test_a_busy_endpoint_loses_its_stale_mark() -> None:
    tags = {**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}
    [f] = classify_endpoints([endpoint(tags=tags)], {"ranker": {"AllTraffic": up(calls=500, gpu=[90.0])}}, POLICY,
                             now=NOW)
    assert (f.verdict, f.action) == (Verdict.BUSY, ActionKind.UNMARK_IDLE)


@pytest.mark.parametrize(("usage", "needed"), [
    ({"AllTraffic": up(calls=4000, gpu=[85.0])}, False),  # busy by its metrics: no describe
    ({"AllTraffic": up(calls=10)}, False),  # CPU-only, serving: busy, no describe
    ({"AllTraffic": up(gpu=[0.0])}, True),  # idle candidate: its price and config are needed
    ({"AllTraffic": up(calls=40, gpu=[4.0])}, True),  # underused candidate
    ({}, True),  # no instance metrics: serverless, or new
])
def test_only_candidates_are_described(usage: dict[str, VariantUsage], needed: bool) -> None:
    assert needs_description(endpoint(described=False), usage, POLICY, now=NOW) is needed


def test_an_exempt_endpoint_is_never_described() -> None:
    kept = endpoint(tags={**DEV, "cost-janitor:opt-out": "true"}, described=False)
    assert needs_description(kept, {"AllTraffic": up()}, POLICY, now=NOW) is False


@pytest.mark.parametrize(("current_tags", "gone", "deleted"), [
    (None, False, True),  # unchanged
    ({**DEV, "cost-janitor:keep-until": "2099-01-01"}, False, False),  # kept in between
    ({**PROD}, False, False),  # re-tagged prod
    (None, True, False),  # gone
])
def test_a_deletion_is_rechecked_against_the_endpoint_as_it_is(current_tags: dict[str, str] | None, gone: bool,
                                                               deleted: bool) -> None:
    tags = {**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=30)).isoformat()}
    [planned] = classify_endpoints([endpoint(tags=tags)], {"ranker": {"AllTraffic": up()}}, POLICY, now=NOW)
    assert planned.action == ActionKind.DELETE_ENDPOINT
    now_ep = None if gone else endpoint(tags={**(current_tags or tags), "cost-janitor:idle-since":
                                               tags["cost-janitor:idle-since"]} if current_tags else tags)
    after = recheck_endpoint(planned, now_ep, POLICY, now=NOW)
    assert (after.action == ActionKind.DELETE_ENDPOINT and after.action_status == "planned") is deleted


def notebook(hours: float, *, tags: dict[str, str] | None = None, lifecycle: str | None = "auto-stop",
             instance_type: str = "ml.g4dn.xlarge") -> NotebookInstance:
    return NotebookInstance(name="ana-nb", arn="arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/ana-nb",
                            region="us-east-1", account="123456789012", status="InService",
                            instance_type=instance_type, last_modified=NOW - timedelta(hours=hours),
                            lifecycle_config=lifecycle, tags=DEV if tags is None else tags)


MARKED = {**DEV, "cost-janitor:idle-since": (NOW - timedelta(hours=25)).isoformat()}


@pytest.mark.parametrize(("nb", "verdict", "action"), [
    (notebook(20), Verdict.LEFT_RUNNING, ActionKind.MARK_IDLE),  # left on overnight: marked, owner told
    (notebook(44, tags=MARKED), Verdict.LEFT_RUNNING, ActionKind.STOP_NOTEBOOK),  # still on the next night
    (notebook(20, tags=PROD), Verdict.LEFT_RUNNING, Ask.JUSTIFY),
    (notebook(3), Verdict.STARTED_RECENTLY, None),
    (notebook(3, tags=MARKED), Verdict.STARTED_RECENTLY, ActionKind.UNMARK_IDLE),  # restarted since: mark goes
    (notebook(3, lifecycle=None), Verdict.NO_AUTO_STOP, None),
    (notebook(40, tags={**DEV, "cost-janitor:opt-out": "true"}), Verdict.EXEMPT, None),
])
def test_notebook_instances(nb: NotebookInstance, verdict: Verdict, action: Any) -> None:
    [f] = classify_notebooks([nb], POLICY, now=NOW)
    assert (f.verdict, f.action) == (verdict, action), f.reason
    if verdict == Verdict.LEFT_RUNNING:
        assert f.monthly_usd == round(0.7364 * 730, 2)
        assert "no utilisation metric" in f.reason


def test_a_notebook_without_auto_stop_says_how_to_add_one() -> None:
    [f] = classify_notebooks([notebook(20, lifecycle=None)], POLICY, now=NOW)
    assert any(POLICY.sagemaker.auto_stop_docs_url in n for n in f.notes)


def test_unknown_ml_types_are_priced_unknown_never_guessed() -> None:
    assert ml_price("ml.g5.xlarge", "us-east-1").hourly_usd == 1.408
    unknown = ml_price("ml.p5.48xlarge", "us-east-1")
    assert unknown.hourly_usd is None and unknown.source.startswith("unknown")
    assert ml_price("ml.g5.xlarge", "eu-west-1").hourly_usd is None
    ep = endpoint(EndpointVariant(name="AllTraffic", instance_type="ml.p5.48xlarge", instance_count=1))
    [f] = classify_endpoints([ep], {"ranker": {"AllTraffic": up()}}, POLICY, now=NOW)
    assert f.verdict == Verdict.IDLE and f.monthly_usd is None and str(f.price_source).startswith("unknown")


@pytest.mark.parametrize(("memory", "per_accelerator", "advice"), [
    ([80.0], False, "fewer instances (2 now)"),  # sum over 4 GPUs: 20 % each, a smaller setup fits
    ([85.0], True, "GPU memory peaked at 85%"),  # one GPU's own series: the model fills it
    ([340.0], False, "GPU memory peaked at 85%"),  # 4 × 85 % summed
])
def test_gpu_memory_is_read_per_gpu_before_suggesting_a_smaller_one(memory: list[float], per_accelerator: bool,
                                                                     advice: str) -> None:
    four = EndpointVariant(name="AllTraffic", instance_type="ml.g5.12xlarge", instance_count=2)
    usage = VariantUsage(invocations=series(30.0), cpu=series(3.0), gpu=(series(12.0),),
                         gpu_memory=tuple(series(m) for m in memory), per_accelerator=per_accelerator)
    [f] = classify_endpoints([endpoint(four)], {"ranker": {"AllTraffic": usage}}, POLICY, now=NOW)
    assert f.verdict == Verdict.UNDERUSED and advice in " ".join(f.notes)


def domain(tags: dict[str, str] = DEV, **idle: bool) -> StudioDomain:
    return StudioDomain(domain_id="d-ml", name="ml-research", region="us-east-1", account="123456789012",
                        arn="arn:aws:sagemaker:us-east-1:123456789012:domain/d-ml", idle_shutdown=idle, tags=tags)


@pytest.mark.parametrize(("idle", "opt_in", "verdict", "action", "missing"), [
    ({}, False, Verdict.NO_IDLE_SHUTDOWN, None, "JupyterLab,CodeEditor"),
    ({"JupyterLab": True}, False, Verdict.NO_IDLE_SHUTDOWN, None, "CodeEditor"),
    ({}, True, Verdict.NO_IDLE_SHUTDOWN, ActionKind.ENABLE_IDLE_SHUTDOWN, "JupyterLab,CodeEditor"),
    ({"JupyterLab": True, "CodeEditor": True}, True, Verdict.COMPLIANT, None, ""),
])
def test_studio_domains_without_idle_shutdown(idle: dict[str, bool], opt_in: bool, verdict: Verdict, action: Any,
                                              missing: str) -> None:
    policy = Policy.model_validate({"sagemaker": {"enable_studio_idle_shutdown": opt_in}})
    [f] = classify_domains([domain(**idle)], policy, now=NOW)
    assert (f.verdict, f.action, f.evidence["missing"]) == (verdict, action, missing)
    assert f.name == "ml-research" and f.resource_type == "sagemaker:domain"


def app(hours: float, *, instance_type: str = "ml.g5.xlarge", tags: dict[str, str] | None = None) -> StudioApp:
    return StudioApp(arn="arn:aws:sagemaker:us-east-1:123456789012:app/d-ml/ana/jupyterlab/default",
                     domain_id="d-ml", app_type="JupyterLab", app_name="default", region="us-east-1",
                     account="123456789012", created=NOW - timedelta(hours=hours), user_profile="ana",
                     instance_type=instance_type, tags=DEV if tags is None else tags)


OPT_IN_APPS = Policy.model_validate({"sagemaker": {"delete_studio_accelerator_apps": True}})


@pytest.mark.parametrize(("a", "policy", "verdict", "action"), [
    (app(30), OPT_IN_APPS, Verdict.ACCELERATOR_APP_RUNNING, ActionKind.MARK_IDLE),
    (app(60, tags=MARKED), OPT_IN_APPS, Verdict.ACCELERATOR_APP_RUNNING, ActionKind.DELETE_APP),
    (app(60, tags=MARKED), POLICY, Verdict.ACCELERATOR_APP_RUNNING, Ask.JUSTIFY),  # deletion not opted in
    (app(30, tags=PROD), OPT_IN_APPS, Verdict.ACCELERATOR_APP_RUNNING, Ask.JUSTIFY),
    (app(3), OPT_IN_APPS, Verdict.STARTED_RECENTLY, None),
    (app(30, tags={**DEV, "cost-janitor:keep-until": "2099-01-01"}), OPT_IN_APPS, Verdict.EXEMPT, None),
])
def test_studio_apps_on_accelerators(a: StudioApp, policy: Policy, verdict: Verdict, action: Any) -> None:
    [f] = classify_apps([a], policy, now=NOW)
    assert (f.verdict, f.action) == (verdict, action), f.reason
    if verdict == Verdict.ACCELERATOR_APP_RUNNING:
        assert f.monthly_usd == round(1.408 * 730, 2) and "user profile ana" in f.reason


def test_a_prod_domain_is_only_reported_even_with_the_opt_in() -> None:
    policy = Policy.model_validate({"sagemaker": {"enable_studio_idle_shutdown": True}})
    [f] = classify_domains([domain(tags=PROD)], policy, now=NOW)
    assert (f.verdict, f.action) == (Verdict.NO_IDLE_SHUTDOWN, None) and "prod domain is only reported" in f.notes[0]


def test_studio_apps_on_cpu_instances_are_not_findings() -> None:
    assert classify_apps([app(300, instance_type="ml.t3.medium")], OPT_IN_APPS, now=NOW) == []


def test_a_restore_drops_the_aws_tags_create_endpoint_refuses() -> None:
    config, tags = restore_plan({"endpoint_config": "c", "restore_tags": json.dumps(
        {"owner": "ana@example.com", "aws:cloudformation:stack-name": "s", "AWS:Other": "x"})})
    assert (config, tags) == ("c", {"owner": "ana@example.com"})


@pytest.mark.parametrize(("status", "says"), [(None, None), ("Deleting", "still being deleted"),
                                              ("InService", "exists already"), ("Failed", "exists already")])
def test_a_name_being_deleted_and_a_name_in_use_are_two_answers(status: str | None, says: str | None) -> None:
    blocker = restore_blocker("ranker", status)
    assert (blocker is None) if says is None else (blocker is not None and says in blocker)


def test_idle_shutdown_sends_each_settings_block_back_whole() -> None:
    from cost_janitor.core.studio import idle_shutdown_settings

    current = {"ExecutionRole": "arn:aws:iam::1:role/r", "JupyterLabAppSettings": {
        "DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}, "CustomImages": [{"ImageName": "team"}],
        "AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "DISABLED",
                                                    "MaxIdleTimeoutInMinutes": 240}}}}
    got = idle_shutdown_settings(current, ["JupyterLab", "CodeEditor", "Canvas"], 60)
    assert got == {
        "JupyterLabAppSettings": {"DefaultResourceSpec": {"InstanceType": "ml.t3.medium"},
                                  "CustomImages": [{"ImageName": "team"}],
                                  "AppLifecycleManagement": {"IdleSettings": {
                                      "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60,
                                      "MaxIdleTimeoutInMinutes": 240}}},
        "CodeEditorAppSettings": {"AppLifecycleManagement": {"IdleSettings": {
            "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60}}}}


# The absence tables of the notebook and Studio app families: the one signal each is judged on removed in turn.
NOTEBOOK_ABSENT = [
    ("not in service: its LastModifiedTime is no start", {"status": "Pending"}),
    ("stopping: the same", {"status": "Stopping", "tags": MARKED}),
    ("a LastModifiedTime ahead of the clock (skew)", {"last_modified": NOW + timedelta(hours=2)}),
]


@pytest.mark.parametrize(("case", "changes"), NOTEBOOK_ABSENT, ids=[c[0] for c in NOTEBOOK_ABSENT])
def test_an_absent_signal_is_never_left_running_for_notebooks(case: str, changes: dict[str, Any]) -> None:
    nb = notebook(48).model_copy(update=changes)
    [f] = classify_notebooks([nb], POLICY, now=NOW)
    assert f.verdict != Verdict.LEFT_RUNNING and f.monthly_usd is None, f.reason
    assert f.action not in (ActionKind.MARK_IDLE, ActionKind.STOP_NOTEBOOK)


APP_ABSENT = [
    ("no instance type (no ResourceSpec)", {"instance_type": None}),
    ("the system instance (no accelerator)", {"instance_type": "system"}),
    ("not in service", {"status": "Pending"}),
    ("a creation time ahead of the clock (skew)", {"created": NOW + timedelta(hours=2)}),
]


@pytest.mark.parametrize(("case", "changes"), APP_ABSENT, ids=[c[0] for c in APP_ABSENT])
def test_an_absent_signal_is_never_an_accelerator_app_left_running(case: str, changes: dict[str, Any]) -> None:
    found = classify_apps([app(48).model_copy(update=changes)], OPT_IN_APPS, now=NOW)
    assert all(f.verdict != Verdict.ACCELERATOR_APP_RUNNING for f in found)
    assert all(f.action not in (ActionKind.MARK_IDLE, ActionKind.DELETE_APP) for f in found)
