"""Weekly digest: realized vs estimated savings from the ledger, open justifications, the costliest idle
resources, tag coverage, spot interruptions, the fleet's GPU utilisation, cost per prediction and egress —
to Slack (team channels and a summary) and SNS. Also ends a stopped box's savings clock when it starts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError

from cost_janitor.adapters.clients import client
from cost_janitor.adapters.cloudwatch import (
    AGENT_NAMESPACE,
    GPU_UTIL_METRIC,
    CloudWatchReader,
    MetricQuery,
    daily_sums,
    dimension_sets,
)
from cost_janitor.adapters.cost import CostExplorer
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.core.models import ActionKind, LedgerRecord, Started, dashboard_url
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import (
    BILL_HOW_TO,
    bill_figures,
    bill_window,
    cost_per_prediction,
    egress_lines,
    gpu_distribution,
    instance_stops,
    open_requests,
    own_cost,
    tag_not_activated,
    top_idle,
    weekly,
)
from cost_janitor.core.spot import checkpoints, interruption_stats
from cost_janitor.core.storage import GB, S3_PRICES
from cost_janitor.delivery import end_savings, publish_digest
from cost_janitor.events import Ec2StateChange, StartedAgain
from cost_janitor.families import every
from cost_janitor.observability import METRIC_GPU_CANDIDATES, METRIC_REALIZED_SAVINGS, logger, metrics
from cost_janitor.settings import Settings

DIGEST_SCHEMA = "cost-janitor/digest/v1"
SECTION_RESERVE_MS = 60_000  # kept for the sections already read to reach Slack and SNS
STORAGE_TYPES = {"StandardIAStorage": "STANDARD_IA", "OneZoneIAStorage": "ONEZONE_IA",
                 "GlacierInstantRetrievalStorage": "GLACIER_IR", "GlacierStorage": "GLACIER",
                 "DeepArchiveStorage": "DEEP_ARCHIVE"}


@dataclass
class Digest:
    generated_at: str
    weeks: list[dict[str, Any]]
    by_team: dict[str, float]
    by_action: dict[str, float]
    actions_last_week: dict[str, int]
    open_requests: list[tuple[str, int, float | None]]
    top_idle: list[tuple[str, str, float]]
    tag_coverage: dict[str, Any] | None = None
    spot: dict[str, Any] | None = None
    gpu_bands: dict[str, int] = field(default_factory=dict)
    gpu_candidates: list[tuple[str, float]] = field(default_factory=list)
    cost_per_prediction: list[dict[str, Any]] = field(default_factory=list)
    egress: list[tuple[str, float]] = field(default_factory=list)
    own_cost: dict[str, float] | None = None  # the janitor's own cost this week, and its share of the savings
    by_account: dict[str, float] = field(default_factory=dict)  # realized this week per account (organization)
    unpriced: dict[str, int] = field(default_factory=dict)  # this week's stops without a price, by type and region
    after_plans: dict[str, float] = field(default_factory=dict)  # this week's stops counted after Savings Plans
    families: list[str] = field(default_factory=list)  # the resource families' own lines (EKS: one per cluster)
    # the bill's figure for the instances stopped in the last 14 days (core/report.bill_figures), or why not
    bill: dict[str, Any] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {"schema": DIGEST_SCHEMA, **asdict(self)}


def build(policy: Policy, settings: Settings, *, now: datetime, weeks: int | None = None,
          remaining_ms: Callable[[], int] | None = None) -> Digest:
    """The digest's content; the Lambda, the CLI and the demo call it. With `remaining_ms` (the Lambda's clock) a
    section is not started with less than SECTION_RESERVE_MS left: the digest goes out without it and says so."""
    weeks = weeks or policy.report.weeks
    ledger = Ledger(client("dynamodb", settings.region), str(settings.ledger_table))
    entries = ledger.since((now - timedelta(days=7 * weeks + 30)).isoformat())
    digest = Digest(generated_at=now.isoformat(), weeks=[], by_team={}, by_action={}, actions_last_week={},
                    open_requests=open_requests(entries, now=now), top_idle=top_idle(entries, now=now))
    lifecycle = _section(digest, "lifecycle", remaining_ms, lambda: _lifecycle_rates(entries, now), {})
    for start, s in weekly(entries, now=now, weeks=weeks, lifecycle_monthly=lifecycle):
        digest.weeks.append({"week_of": start.date().isoformat(), "realized_usd": s.realized_usd,
                             "estimated_usd": s.estimated_usd})
        digest.by_team, digest.by_action = s.by_team, s.by_action  # the last (current) week's split
        digest.by_account, digest.unpriced, digest.after_plans = s.by_account, s.unpriced, s.after_plans
    janitor_actions = {str(k) for k in ActionKind}
    digest.actions_last_week = dict(Counter(f"{e.action}:{e.status}" for e in entries
                                            if now - e.at <= timedelta(days=7) and e.action in janitor_actions
                                            and e.status in ("done", "failed")))
    digest.families = [line for family in every() for line in family.digest(entries, now=now)]
    digest.tag_coverage = _section(digest, "tag_coverage", remaining_ms, lambda: _coverage(policy, settings), None)
    spot = interruption_stats(checkpoints(entries), policy, now=now)
    digest.spot = {"by_type_and_az": [asdict(s) for s in spot.by_type_and_az], "suggestions": spot.suggestions}
    bands = _section(digest, "gpu", remaining_ms, lambda: _gpu_averages(policy, settings, now), {})
    digest.gpu_bands, digest.gpu_candidates = gpu_distribution(bands)
    digest.cost_per_prediction = _section(digest, "cost_per_prediction", remaining_ms,
                                          lambda: _cpp(policy, settings, now, digest), [])
    digest.egress = _section(digest, "egress", remaining_ms, lambda: egress_lines(
        CostExplorer(client("ce", "us-east-1")).usage_type_costs(now=now)), [])
    digest.own_cost = _section(digest, "own_cost", remaining_ms, lambda: _own_cost(policy, digest, now), None)
    digest.bill = _section(digest, "bill", remaining_ms, lambda: _bill(entries, now), None)
    if digest.weeks:
        metrics.add_metric(name=METRIC_REALIZED_SAVINGS, unit=MetricUnit.Count, value=digest.weeks[-1]["realized_usd"])
    metrics.add_metric(name=METRIC_GPU_CANDIDATES, unit=MetricUnit.Count, value=len(digest.gpu_candidates))
    return digest


def _bill(entries: list[LedgerRecord], now: datetime) -> dict[str, Any] | None:
    """The bill's figure for this fortnight's instance stops: Cost Explorer's resource-level data where the account
    turned it on; where it did not (any refusal), the one-line how-to instead. None when nothing was stopped."""
    stops = instance_stops(entries, now=now)
    if not stops:
        return None
    start, end = bill_window(now)
    try:
        daily = CostExplorer(client("ce", "us-east-1")).resource_costs(list(stops), start=start, end=end)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        logger.info("resource-level cost data not read", extra={"error": code})
        return {"not_used": f"{code}: {BILL_HOW_TO}"}
    return {"source": f"Cost Explorer resource-level data, amortized cost a day, {start} to {end} (exclusive)",
            "lines": bill_figures(stops, daily, now=now)}


def _own_cost(policy: Policy, digest: Digest, now: datetime) -> dict[str, float] | None:
    """Last week's cost of everything the stack tagged, beside last week's realized savings."""
    end = now.date()
    costs = CostExplorer(client("ce", "us-east-1")).by_tag(policy.report.own_cost_tag, start=end - timedelta(days=7),
                                                          end=end, granularity="DAILY")
    realized = digest.weeks[-1]["realized_usd"] if digest.weeks else 0.0
    line, problem = own_cost(policy.report.own_cost_tag, costs, realized)
    if problem:
        digest.unavailable["own_cost"] = problem
    return line


def _section(digest: Digest, name: str, remaining_ms: Callable[[], int] | None, read: Any, empty: Any) -> Any:
    """One section failing (Cost Explorer not enabled, access denied) or not started for lack of time leaves the
    others; the digest says so."""
    if remaining_ms is not None and remaining_ms() < SECTION_RESERVE_MS:
        digest.unavailable[name] = "time-budget"
        logger.warning("digest section skipped: time ran short", extra={"section": name})
        return empty
    try:
        return read()
    except ClientError as exc:
        digest.unavailable[name] = exc.response["Error"]["Code"]
        logger.warning("digest section unavailable", extra={"section": name, "error": digest.unavailable[name]})
        return empty


def _lifecycle_rates(entries: list[LedgerRecord], now: datetime) -> dict[str, tuple[str | None, float]]:
    """For buckets whose lifecycle the janitor wrote: bytes now in colder classes × the price gap to Standard."""
    buckets = {e.resource_id: e for e in entries if e.action == "put-lifecycle" and e.status == "done"}
    out: dict[str, tuple[str | None, float]] = {}
    for region in {e.region or "us-east-1" for e in buckets.values()}:
        mine = [b for b, e in buckets.items() if (e.region or "us-east-1") == region]
        queries = [MetricQuery((b, t), "AWS/S3", "BucketSizeBytes", (("BucketName", b), ("StorageType", t)),
                               "Maximum") for b in mine for t in STORAGE_TYPES]
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        found, _ = CloudWatchReader(client("cloudwatch", region)).read(queries, start=day - timedelta(days=3),
                                                                       end=day, period=86400)
        for b in mine:
            rate = sum((found[(b, t)].maximum or 0) / GB * (S3_PRICES["STANDARD"] - S3_PRICES[cls])
                       for t, cls in STORAGE_TYPES.items() if (b, t) in found)
            out[b] = (buckets[b].team, round(rate, 2))
    return out


def _coverage(policy: Policy, settings: Settings) -> dict[str, Any]:
    from cost_janitor.capabilities.tag_compliance import coverage_report

    c = coverage_report(policy, settings)
    return {"resources": c.resources, "by_key": c.by_key, "by_team": c.by_team}


def _gpu_averages(policy: Policy, settings: Settings, now: datetime) -> dict[str, float]:
    """Each GPU instance's average utilisation over the week (the mean of its GPUs' averages)."""
    out: dict[str, float] = {}
    for region in policy.regions or [settings.region]:
        reader = CloudWatchReader(client("cloudwatch", region))
        dims = reader.gpu_dimensions()
        queries = [MetricQuery((iid, n), AGENT_NAMESPACE, GPU_UTIL_METRIC, d, "Average")
                   for iid, sets in dims.items() for n, d in enumerate(sets)]
        end = now.replace(minute=0, second=0, microsecond=0)
        found, _ = reader.read(queries, start=end - timedelta(days=7), end=end, period=7 * 86400)
        per: dict[str, list[float]] = {}
        for key, s in found.items():
            if s.points:
                per.setdefault(str(key[0]), []).append(s.total / s.points)  # type: ignore[index]
        out.update({iid: sum(v) / len(v) for iid, v in per.items()})
    return out


def _cpp(policy: Policy, settings: Settings, now: datetime, digest: Digest) -> list[dict[str, Any]]:
    if not policy.report.cost_per_prediction:
        return []
    costs = CostExplorer(client("ce", "us-east-1")).monthly_by_tag(policy.report.project_tag, now=now)
    problem = tag_not_activated(policy.report.project_tag, costs)
    if problem:  # every model would show $0: say why instead
        digest.unavailable["cost_per_prediction"] = problem
        return []
    cloudwatch = client("cloudwatch", settings.region)
    out = []
    for model in policy.report.cost_per_prediction:
        if model.endpoint_name:
            sets = dimension_sets(cloudwatch, "AWS/SageMaker", "Invocations", {"EndpointName": model.endpoint_name})
            queries = [MetricQuery(n, "AWS/SageMaker", "Invocations", d, "Sum") for n, d in enumerate(sets)]
        else:
            queries = [MetricQuery(0, str(model.metric_namespace), str(model.metric_name),
                                   tuple(sorted(model.metric_dimensions.items())), "Sum")]
        start = (now - timedelta(days=95)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        sums = daily_sums(cloudwatch, queries, start=start, end=now)
        predictions: dict[str, float] = {}
        for months in sums.values():
            for month, n in months.items():
                predictions[month] = predictions.get(month, 0.0) + n
        result = cost_per_prediction(model.name, costs.get(model.project, {}), predictions)
        out.append({"name": result.name, "months": result.months})
    return out


def send(digest: Digest, policy: Policy, settings: Settings, *, slack: Any | None) -> dict[str, Any]:
    """SNS (one message, attribute kind=weekly-digest) and Slack: a summary and one message per team channel.
    A channel Slack refuses (the app not invited, Slack down) is recorded and the others still get theirs:
    failing the run would make the schedule retry it and send everyone else the digest again."""
    from cost_janitor.slack_blocks import digest_message, plain_text

    doc = digest.document()
    dashboard = dashboard_url(settings.region, settings.dashboard_name) if settings.dashboard_name else None
    summary = digest_message(doc, team=None, dashboard=dashboard)
    email = plain_text(summary)
    sent: dict[str, Any] = {"sns": publish_digest(doc, email, settings), "slack": 0}
    if slack is None:
        return sent
    from cost_janitor.adapters.slack import error_code

    messages = [(policy.slack.default_channel, summary)] + [
        (channel, digest_message(doc, team=team, dashboard=dashboard))
        for team, channel in policy.slack.team_channels.items()
        if team in digest.by_team or (digest.tag_coverage or {}).get("by_team", {}).get(team) is not None]
    failed: dict[str, str] = {}
    for channel, message in messages:
        try:
            slack.post(channel, message)
            sent["slack"] += 1
        except Exception as exc:  # recorded, reported, not retried: the next week's digest goes out as usual
            failed[channel] = error_code(exc)
            logger.warning("digest not delivered to a channel", extra={"channel": channel, "error": failed[channel]})
    if failed:
        sent["slack_failed"] = failed
    return sent


def record_start(event: Ec2StateChange, settings: Settings) -> dict[str, Any]:
    """A box the janitor stopped is running again: its realized savings stop counting."""
    if event.detail.state != "running":
        return {"recorded": False}
    ledger = Ledger(client("dynamodb", settings.region), str(settings.ledger_table))
    start = Started(resource_id=event.detail.instance_id, resource_type="", region=event.region, at=event.time)
    return {"recorded": bool(end_savings([start], ledger, source=lambda _: "ec2-state-change"))}


def record_member_starts(event: StartedAgain, settings: Settings) -> dict[str, Any]:
    """A member's resources started again (its sweep saw them, in any region): the hub's digest stops counting
    their savings. Only the member's own resources are in its event (EventBridge stamps the sender's account)."""
    ledger = Ledger(client("dynamodb", settings.region), str(settings.ledger_table))
    recorded = end_savings(event.detail.started, ledger,
                           source=lambda s: f"{s.resource_type} started again in {event.account}/{s.region}")
    return {"recorded": len(recorded)}


def run(policy: Policy, settings: Settings, *, now: datetime, slack: Any | None,
        remaining_ms: Callable[[], int] | None = None) -> dict[str, Any]:
    """The weekly digest, built and sent (the report Lambda's schedule; `record_start` is its other trigger)."""
    digest = build(policy, settings, now=now, remaining_ms=remaining_ms)
    return {"weeks": digest.weeks, "unavailable": digest.unavailable, **send(digest, policy, settings, slack=slack)}
