"""SageMaker endpoints (a resource family: families/endpoints.py): pure verdicts on traffic and accelerators, the
actions they call for, and the re-check before a deletion.

An endpoint is judged on the metrics AWS documents for its kind (described first: DescribeEndpointConfig says which):
- real-time: its traffic (`Invocations` per variant): no invocations over the window, on an endpoint whose instance
  metrics show it was up for the window, is idle — but only where the `Invocations` series exists; a variant with no
  series at all cannot be judged (an absent signal is never idle);
- asynchronous: `ApproximateBacklogSize` and `InvocationsProcessed` per endpoint ("Monitoring asynchronous
  endpoints": async endpoints publish no `Invocations`); without the backlog series it cannot be judged;
- serverless: billed per use, never an idle-instance finding;
- inference components: traffic is published per component (`InferenceComponentName`), which is not read: it
  cannot be judged, and is never deleted.
With traffic, the busiest accelerator decides: under the policy's threshold the endpoint is underused. SageMaker's
`GPUUtilization` for a variant is the sum over the instance's GPUs (0–100 % × GPUs); its per-instance Maximum is at
least the busiest GPU's, so "the sum never reached the threshold" safely means "no GPU did". With enhanced metrics
(an `AcceleratorId` dimension) each GPU is its own series and the busiest one decides.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from cost_janitor.core.errors import RestoreRefused
from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import expected_points, mark_then, merge_max
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, LedgerRecord, Series, Verdict, _Frozen
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import (
    HOURS_PER_MONTH,
    ML_NEURON_PREFIXES,
    PriceBook,
    accelerators,
    ml_price,
    severity,
)

ENDPOINT_TYPE = "sagemaker:endpoint"
UNMEASURED_PREFIXES = ML_NEURON_PREFIXES  # Neuron: /aws/sagemaker/Endpoints has no accelerator metric for them
RESTORABLE_TAG = "cost-janitor:deleted-endpoint"  # on an EndpointConfig: which deleted endpoint it restores

class EndpointVariant(_Frozen):
    """A production variant as DescribeEndpoint + DescribeEndpointConfig say: instance-backed or serverless."""

    name: str
    instance_type: str | None = None
    instance_count: int = 0
    serverless: bool = False
    model_name: str | None = None


class Endpoint(_Frozen):
    """An InService real-time endpoint. `variants` is None until it is described: the adapter describes only the
    endpoints whose verdict needs it (`needs_description`), never the whole fleet."""

    name: str
    arn: str
    region: str
    account: str
    created: datetime
    last_modified: datetime
    tags: dict[str, str] = {}
    config_name: str | None = None
    config_arn: str | None = None
    variants: tuple[EndpointVariant, ...] | None = None
    kind: str | None = None  # REAL_TIME | ASYNC | COMPONENTS, once described (serverless: its variants say so)


REAL_TIME, ASYNC, COMPONENTS = "real-time", "async", "inference-components"


class AsyncUsage(_Frozen):
    """An asynchronous endpoint's own metrics over the window (AWS/SageMaker, dimension EndpointName; the docs page
    "Monitoring asynchronous endpoints"). None: the series does not exist."""

    backlog: Series | None = None  # ApproximateBacklogSize, Maximum
    processed: Series | None = None  # InvocationsProcessed, Sum


class VariantUsage(_Frozen):
    """One variant's metrics over the window. None: not read; an empty Series: read, no datapoints."""

    invocations: Series | None = None
    cpu: Series | None = None
    gpu: tuple[Series, ...] = ()  # one aggregate series (sum over GPUs), or one per AcceleratorId
    gpu_memory: tuple[Series, ...] = ()
    per_accelerator: bool = False  # the GPU series are per AcceleratorId (enhanced metrics), not the sum


@dataclass(frozen=True)
class _Outcome:
    verdict: Verdict
    reason: str
    evidence: dict[str, float | int | str | None]
    suggestion: str | None = None


def _window(policy: Policy) -> timedelta:
    return timedelta(days=policy.idle.lookback_days)


def _up(usage: VariantUsage, policy: Policy) -> bool:
    """The instance metrics cover enough of the window to show the variant was serving (or could have)."""
    return usage.cpu is not None and usage.cpu.points >= policy.idle.min_coverage * expected_points(policy)


def needs_description(endpoint: Endpoint, usage: dict[str, VariantUsage], policy: Policy, *, now: datetime) -> bool:
    """Whether the verdict needs the endpoint's variants (instance types, counts, serverless). A busy endpoint (traffic
    on every variant, every GPU variant above the threshold) or an exempt one is judged from its metrics and tags
    alone; idle and underused candidates, and endpoints without instance metrics (serverless, or new), are
    described — they are the ones that need a price or an action."""
    if endpoint.variants is not None:
        return False
    if evaluate_exemption(endpoint.tags, policy.exemptions, now=now).exempt:
        return False
    if not usage or any(not _up(u, policy) for u in usage.values()):
        return True
    for u in usage.values():
        if u.invocations is None or u.invocations.total <= 0:
            return True
        gpu = merge_max(u.gpu) if u.gpu else None
        if gpu is not None and (gpu.maximum or 0) < policy.sagemaker.underused_accelerator_pct:
            return True
    return False


def _async_verdict(u: AsyncUsage | None, policy: Policy, ev: dict[str, float | int | str | None]) -> _Outcome:
    """Idle only when the backlog series covers the window and stayed empty and nothing was processed."""
    processed = int(u.processed.total) if u is not None and u.processed is not None else 0
    backlog = u.backlog if u is not None else None
    ev["invocations_processed"] = processed
    if processed > 0 or (backlog is not None and (backlog.maximum or 0) > 0):
        ev["backlog_max"] = backlog.maximum if backlog is not None else None
        return _Outcome(Verdict.BUSY, f"asynchronous endpoint: {processed} requests processed in "
                        f"{policy.idle.lookback_days} days", ev)
    if backlog is None or backlog.points < policy.idle.min_coverage * expected_points(policy):
        return _Outcome(Verdict.CANNOT_JUDGE, "asynchronous endpoint: its ApproximateBacklogSize series is missing or "
                        "covers too little of the window (async endpoints publish no Invocations); not judged", ev)
    return _Outcome(Verdict.IDLE, f"asynchronous endpoint: nothing queued and nothing processed in "
                    f"{policy.idle.lookback_days} days", ev)


def _endpoint_verdict(e: Endpoint, usage: dict[str, VariantUsage], policy: Policy, now: datetime,
                      async_usage: AsyncUsage | None = None) -> _Outcome:
    exemption = evaluate_exemption(e.tags, policy.exemptions, now=now)
    if exemption.exempt:
        return _Outcome(Verdict.EXEMPT, exemption.reason, {})
    variants = {v.name: v for v in e.variants or ()}
    names = sorted(set(variants) | set(usage))
    ev: dict[str, float | int | str | None] = {"variants": len(names), "expected_points": expected_points(policy)}
    if variants and all(v.serverless for v in variants.values()):
        calls = sum(u.invocations.total for u in usage.values() if u.invocations is not None)
        ev["invocations"] = int(calls)
        return _Outcome(Verdict.SERVERLESS, f"serverless: billed per use ({int(calls)} invocations in "
                        f"{policy.idle.lookback_days} days), never idle for money", ev)
    if e.kind == COMPONENTS:
        return _Outcome(Verdict.CANNOT_JUDGE, "endpoint with inference components: SageMaker publishes its traffic "
                        "per component (InferenceComponentName), which the janitor does not read; not judged, never "
                        "deleted", ev)
    instance_names = [n for n in names if not (n in variants and variants[n].serverless)]
    window_start = now - _window(policy)
    up = [n for n in instance_names if _up(usage.get(n, VariantUsage()), policy)]
    if e.created > window_start:
        return _Outcome(Verdict.INSUFFICIENT_DATA, f"created {e.created:%Y-%m-%d %H:%M}, less than the "
                        f"{policy.idle.lookback_days}-day window ago", ev)
    if len(up) < len(instance_names) or not instance_names:
        seen = min((usage.get(n, VariantUsage()).cpu or Series()).points for n in instance_names) \
            if instance_names else 0
        return _Outcome(Verdict.INSUFFICIENT_DATA, f"instance metrics cover only {seen} of {expected_points(policy)} "
                        "periods of the window (updated or scaled from zero recently); not judged", ev)
    if e.kind == ASYNC:
        return _async_verdict(async_usage, policy, ev)
    missing = [n for n in instance_names if usage[n].invocations is None]
    if missing:
        return _Outcome(Verdict.CANNOT_JUDGE, f"no Invocations series for variant(s) {', '.join(missing)}: no "
                        "traffic signal to judge by, so never called idle (an endpoint idle for over two weeks "
                        "has none either — please look at it)", ev)
    invocations = {n: int((usage[n].invocations or Series()).total) for n in instance_names}
    total = sum(invocations.values()) + sum(
        int((u.invocations or Series()).total) for n, u in usage.items() if n not in instance_names)
    ev["invocations"] = total
    if total == 0 and e.kind != REAL_TIME:
        return _Outcome(Verdict.CANNOT_JUDGE, "no invocations, but the endpoint's kind is not known (not described): "
                        "a kind that publishes other metrics is never called idle", ev)
    if total == 0:
        return _Outcome(Verdict.IDLE, f"no invocations in {policy.idle.lookback_days} days while up the whole window "
                        f"({len(instance_names)} instance variant(s))", ev)
    threshold = policy.sagemaker.underused_accelerator_pct
    idle_variants, underused, unmeasured = [], [], []
    for n in instance_names:
        v = variants.get(n)
        if invocations[n] == 0:
            idle_variants.append(n)
            continue
        gpu = merge_max(usage[n].gpu) if usage[n].gpu else None
        if gpu is not None and gpu.maximum is not None:
            ev[f"{n}:gpu_max_pct"] = round(gpu.maximum, 2)
            memory = merge_max(usage[n].gpu_memory) if usage[n].gpu_memory else None
            if memory is not None and memory.maximum is not None:
                # the aggregate is the sum over the GPUs: per GPU, it is the sum shared out (a sharded model)
                gpus = accelerators(v.instance_type) if v is not None and v.instance_type else 0
                share = gpus if gpus > 1 and not usage[n].per_accelerator else 1
                ev[f"{n}:gpu_memory_max_pct"] = round(memory.maximum / share, 2)
            if gpu.maximum < threshold:
                underused.append(n)
        elif v is not None and v.instance_type and v.instance_type.startswith(UNMEASURED_PREFIXES):
            unmeasured.append(n)
    if not idle_variants and not underused:
        if unmeasured:
            return _Outcome(Verdict.ACCELERATOR_NOT_MEASURED, f"serving traffic ({total} invocations); Neuron "
                            "accelerator utilisation is not published for endpoint variants, so it cannot be "
                            "judged underused", ev)
        return _Outcome(Verdict.BUSY, f"serving traffic ({total} invocations in {policy.idle.lookback_days} days)", ev)
    parts, advice = [], []
    if underused:
        peak = max(float(ev[f'{n}:gpu_max_pct'] or 0) for n in underused)
        summed = any(not usage[n].per_accelerator and variants.get(n) is not None
                     and accelerators(str(variants[n].instance_type or "")) > 1 for n in underused)
        what = "GPU utilisation summed over their GPUs" if summed else "their busiest GPU"
        parts.append(f"variant(s) {', '.join(underused)} serve traffic but {what} never exceeded {peak:g}% "
                     f"(underused below {threshold:g}% on any GPU)")
        advice.append(_advice(variants, underused, ev, threshold))
    if idle_variants:
        parts.append(f"variant(s) {', '.join(idle_variants)} had no invocations while others did")
        advice.append(f"remove variant(s) {', '.join(idle_variants)} (or set their weight to 0 and scale them in)")
    return _Outcome(Verdict.UNDERUSED, "; ".join(parts), ev, suggestion="; ".join(advice))


def _advice(variants: dict[str, EndpointVariant], names: list[str], ev: dict[str, float | int | str | None],
            threshold: float) -> str:
    out = []
    for n in names:
        v = variants.get(n)
        memory = ev.get(f"{n}:gpu_memory_max_pct")
        if isinstance(memory, (int, float)) and memory >= threshold:
            out.append(f"{n}: fewer instances or scale-to-zero — its GPU memory peaked at {memory:g}%, so a smaller "
                       "GPU may not hold the model")
        elif v is not None and v.instance_count > 1:
            out.append(f"{n}: fewer instances ({v.instance_count} now)")
        elif v is not None and v.instance_type and accelerators(v.instance_type) > 1:
            out.append(f"{n}: a type with fewer GPUs than {v.instance_type}")
        else:
            out.append(f"{n}: a smaller instance, or serverless / scale-to-zero")
    return "; ".join(out)


def endpoint_monthly(e: Endpoint, prices: PriceBook | None = None) -> tuple[float | None, str]:
    """What its instance variants cost a month at list price (instances × hourly), or None naming what is unknown;
    `prices`: the Price List API's, for what the offline table does not know."""
    total, sources = 0.0, set()
    for v in e.variants or ():
        if v.serverless:
            continue
        if not v.instance_type:
            return None, "unknown: variant instance type not read"
        price = ml_price(v.instance_type, e.region, prices)
        if price.hourly_usd is None:
            return None, price.source
        total += price.hourly_usd * HOURS_PER_MONTH * max(v.instance_count, 1)
        sources.add(price.source)
    if e.variants is None:
        return None, "unknown: not described (busy by its metrics)"
    return round(total, 2), "; ".join(sorted(sources))


def classify_endpoints(endpoints: list[Endpoint], usage: dict[str, dict[str, VariantUsage]], policy: Policy, *,
                       now: datetime, run_id: str = "", not_read: Collection[str] = (),
                       async_usage: dict[str, AsyncUsage] | None = None,
                       prices: PriceBook | None = None) -> list[Finding]:
    """One finding per endpoint: verdict, reason, evidence, dollars and what the policy calls for. `not_read`:
    endpoints whose metrics could not be read this run (not evaluated, never idle). `async_usage`: the asynchronous
    endpoints' own metrics. `prices`: hosting prices read from the Price List API (else the offline table)."""
    return [_endpoint_finding(e, usage.get(e.name, {}), policy, now, run_id, e.name in not_read,
                              (async_usage or {}).get(e.name), prices) for e in endpoints]


def _endpoint_finding(e: Endpoint, usage: dict[str, VariantUsage], policy: Policy, now: datetime,
                      run_id: str, not_read: bool = False, async_usage: AsyncUsage | None = None,
                      prices: PriceBook | None = None) -> Finding:
    outcome = _Outcome(Verdict.NOT_EVALUATED, "metrics could not be read this run; not judged idle", {}) \
        if not_read else _endpoint_verdict(e, usage, policy, now, async_usage)
    who = policy.ownership(e.tags)
    monthly, source = endpoint_monthly(e, prices)
    notes = list(evaluate_exemption(e.tags, policy.exemptions, now=now).notes)
    if outcome.suggestion:
        notes.append(f"suggestion: {outcome.suggestion}")
    evidence = dict(outcome.evidence)
    if e.config_name:
        evidence["endpoint_config"] = e.config_name
    types = sorted({f"{v.instance_type}×{v.instance_count}" for v in e.variants or () if v.instance_type})
    action, act_after = _endpoint_action(e, outcome.verdict, str(who["environment"]), policy, now, notes)
    if action == ActionKind.DELETE_ENDPOINT:  # what a restore needs, recorded in the ledger with the deletion
        evidence.update(restore_evidence(e, policy))
    dollars = outcome.verdict in (Verdict.IDLE, Verdict.UNDERUSED)
    return Finding(kind=FindingKind.IDLE_ENDPOINT, resource_id=e.name, resource_arn=e.arn,
                   resource_type=ENDPOINT_TYPE, instance_type=", ".join(types) or None, account=e.account,
                   region=e.region, **who, verdict=outcome.verdict, reason=outcome.reason, evidence=evidence,
                   notes=tuple(notes), monthly_usd=monthly if dollars else None,
                   price_source=source if dollars else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity=_severity(outcome.verdict, monthly), run_id=run_id, observed_at=now)


def restore_evidence(e: Endpoint, policy: Policy) -> dict[str, float | int | str | None]:
    """The endpoint as it can be recreated: its EndpointConfig (kept), its models (kept) and its tags (less the
    janitor's idle mark)."""
    tags = {k: v for k, v in e.tags.items() if k != policy.exemptions.idle_since_tag}
    return {"endpoint_config": e.config_name, "endpoint_config_arn": e.config_arn,
            "models": ",".join(sorted({v.model_name for v in e.variants or () if v.model_name})),
            "restore_tags": json.dumps(tags, sort_keys=True)}


def restore_plan(evidence: dict[str, object]) -> tuple[str, dict[str, str]]:
    """The EndpointConfig and tags a deletion recorded; RestoreRefused when the record cannot bring it back."""
    config = evidence.get("endpoint_config")
    if not isinstance(config, str) or not config:
        raise RestoreRefused("the deletion record names no EndpointConfig")
    raw = evidence.get("restore_tags")
    tags = json.loads(raw) if isinstance(raw, str) and raw else {}
    # an endpoint made by CloudFormation, CDK or SageMaker Projects carries aws: tags, which AWS sets itself and
    # CreateEndpoint refuses ("aws:" is a reserved prefix): restored without them
    return config, {str(k): str(v) for k, v in tags.items() if not str(k).lower().startswith("aws:")}


def deletion_of(history: list[LedgerRecord]) -> LedgerRecord:
    """The janitor's last deletion of this endpoint that has not been restored since."""
    deletions = [e for e in history if e.action == ActionKind.DELETE_ENDPOINT and e.status == "done"
                 and e.resource_type in (ENDPOINT_TYPE, "")]
    if not deletions:
        raise RestoreRefused("cost-janitor has no record of deleting this endpoint (only endpoints it deleted can be "
                             "restored; check the name and the region)")
    last = deletions[-1]
    if any(e.action == "started" and e.at >= last.at for e in history):
        raise RestoreRefused(f"already restored since its deletion on {last.at:%Y-%m-%d %H:%M} UTC")
    return last


def restore_blocker(name: str, status: str | None) -> str | None:
    """Why an endpoint cannot be recreated now, from DescribeEndpoint's status (None: no endpoint of that name)."""
    if status is None:
        return None
    if status == "Deleting":
        return (f"{name!r} is still being deleted; SageMaker frees the name when the deletion ends — try again in a "
                "few minutes")
    return f"an endpoint named {name!r} exists already (status {status}): nothing to restore"


def _endpoint_action(e: Endpoint, verdict: Verdict, environment: str, policy: Policy, now: datetime,
                     notes: list[str]) -> tuple[ActionKind | Ask | None, datetime | None]:
    """Idle dev (opt-in): mark → tell → delete after the grace period. Otherwise the owner is asked. Underused: a
    suggestion to right-size. A mark on an endpoint that is busy or exempt again is removed."""
    mark = e.tags.get(policy.exemptions.idle_since_tag)
    if verdict in (Verdict.BUSY, Verdict.EXEMPT, Verdict.SERVERLESS, Verdict.UNDERUSED,
                   Verdict.CANNOT_JUDGE) and mark is not None:
        return ActionKind.UNMARK_IDLE, None
    if verdict == Verdict.UNDERUSED:
        return Ask.RIGHT_SIZE, None
    if verdict != Verdict.IDLE:
        return None, None
    may_delete = policy.environments.classes[environment].on_idle == "stop"
    if may_delete and not policy.sagemaker.delete_idle_dev_endpoints:
        notes.append("deleting idle dev endpoints is off (sagemaker.delete_idle_dev_endpoints): the owner is asked")
    if not (may_delete and policy.sagemaker.delete_idle_dev_endpoints):
        return Ask.JUSTIFY, None
    return mark_then(ActionKind.DELETE_ENDPOINT, mark, policy, now, notes)


def recheck_endpoint(planned: Finding, current: Endpoint | None, policy: Policy, *, now: datetime) -> Finding:
    """A deletion decided minutes ago, checked against the endpoint as it is just before acting: gone, not in
    service, re-tagged (prod, a keep tag, the mark removed) → not deleted, and the finding says why."""
    if planned.action != ActionKind.DELETE_ENDPOINT:
        return planned
    if current is None:
        return planned.model_copy(update={"action_status": "skipped", "action_error": "endpoint-gone",
                                          "notes": (*planned.notes, "not deleted: the endpoint was gone")})
    env = policy.ownership(current.tags)["environment"]
    notes: list[str] = []
    still_dev = policy.environments.classes[str(env)].on_idle == "stop"
    kept = evaluate_exemption(current.tags, policy.exemptions, now=now).exempt
    action, _ = mark_then(ActionKind.DELETE_ENDPOINT, current.tags.get(policy.exemptions.idle_since_tag), policy,
                           now, notes) if still_dev and not kept else (None, None)
    if action == ActionKind.DELETE_ENDPOINT:
        return planned
    why = "kept" if kept else "no longer dev" if not still_dev else "its idle mark changed"
    return planned.model_copy(update={"action": None, "action_status": None,
                                      "notes": (*planned.notes, f"not deleted: changed between read and act ({why})")})


def _severity(verdict: Verdict, monthly: float | None) -> str:
    return severity(monthly) if verdict in (Verdict.IDLE, Verdict.UNDERUSED) else "info"


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack about an endpoint (families/endpoints.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE:
        return (f"Marked idle. It will be deleted after {when} unless you keep it; its EndpointConfig and model stay, "
                "and Restore brings it back exactly." if when else "Marked idle.")
    if f.action == ActionKind.DELETE_ENDPOINT:
        return {"done": f"Deleted: no invocations for the whole window after the grace period. Its EndpointConfig "
                        f"`{f.evidence.get('endpoint_config')}` and model are kept: Restore (or `cost-janitor restore "
                        f"{f.resource_id} --region {f.region}`) recreates it.",
                "failed": f"Could not be deleted ({f.action_error}); it is still serving.",
                "skipped": f"Not deleted: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Deletion {f.action_status}.")
    if f.action == Ask.RIGHT_SIZE:
        return "It serves traffic on more accelerator than it uses: see the suggestion below, or keep it as it is."
    return None
