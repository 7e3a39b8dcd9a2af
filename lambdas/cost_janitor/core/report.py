"""The dollars: realized savings from the ledger, what the findings estimated, cost per prediction, egress lines,
the fleet's GPU utilisation — pure functions a digest, the CLI and the dashboard share."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cost_janitor.core.answers import ENDS_A_REQUEST
from cost_janitor.core.models import SAVINGS_ACTIONS, STOPS, FindingKind, LedgerRecord, UsageCost

HOURS_PER_MONTH = 730.0
STOP_KINDS = tuple(str(a) for a in SAVINGS_ACTIONS)  # each saves until 'started' (or restored)
INSTANCE_STOPS = tuple(str(a) for a in STOPS)


@dataclass
class Savings:
    realized_usd: float = 0.0
    estimated_usd: float = 0.0
    by_team: dict[str, float] = field(default_factory=dict)
    by_action: dict[str, float] = field(default_factory=dict)
    by_account: dict[str, float] = field(default_factory=dict)  # the lifecycle rates' buckets: their account unknown
    # what was stopped or deleted with no price known, by "type in region": counted, shown, never dropped (its account
    # is listed in by_account at $0 all the same)
    unpriced: dict[str, int] = field(default_factory=dict)
    # stops counted after Savings Plans (core/commitments.py): how many, their realized dollars and the same hours at
    # list price, side by side
    after_plans: dict[str, float] = field(default_factory=dict)


def _list_monthly(e: LedgerRecord) -> float | None:
    """The list price a stop recorded beside its realized dollars when a Savings Plan covered it."""
    try:
        value = json.loads(e.evidence or "{}").get("list_monthly_usd")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _overlap_hours(a: datetime, b: datetime, start: datetime, end: datetime) -> float:
    lo, hi = max(a, start), min(b, end)
    return max(0.0, (hi - lo).total_seconds() / 3600)


def realized_savings(entries: list[LedgerRecord], *, start: datetime, end: datetime,
                     lifecycle_monthly: dict[str, tuple[str | None, float]] | None = None) -> Savings:
    """Within [start, end): each stop (an instance's, a notebook instance's, an endpoint's deletion) saves its hourly
    price until it is started again or restored (a 'started' entry) or the window ends; a deleted volume saves its
    price from deletion on; buckets whose lifecycle the janitor wrote save their measured monthly rate.
    `estimated` assumes every stop lasted the whole window."""
    out = Savings()
    team_total: dict[str, float] = defaultdict(float)
    action_total: dict[str, float] = defaultdict(float)
    account_total: dict[str, float] = defaultdict(float)
    by_resource: dict[str, list[LedgerRecord]] = defaultdict(list)
    for e in entries:
        by_resource[e.resource_id].append(e)
    unpriced: dict[str, int] = defaultdict(int)
    plans: dict[str, float] = defaultdict(float)
    for events in by_resource.values():
        events.sort(key=lambda e: e.at)
        for n, e in enumerate(events):
            if e.status != "done" or e.at >= end:
                continue
            if e.monthly_usd is None:
                if e.action in STOP_KINDS or e.action == "delete-volume":
                    restart = next((x.at for x in events[n + 1:] if x.action == "started"), end)
                    if _overlap_hours(e.at, restart, start, end) > 0:
                        unpriced[f"{e.instance_type or e.resource_type or e.action} in {e.region or '?'}"] += 1
                        account_total[e.account or "(this account)"] += 0.0
                continue
            hourly = e.monthly_usd / HOURS_PER_MONTH
            if e.action in STOP_KINDS:
                restart = next((x.at for x in events[n + 1:] if x.action == "started"), end)
                hours = _overlap_hours(e.at, restart, start, end)
                out.estimated_usd += hourly * _overlap_hours(e.at, end, start, end)
            elif e.action == "delete-volume":
                hours = _overlap_hours(e.at, end, start, end)
                out.estimated_usd += hourly * hours
            else:
                continue
            usd = hourly * hours
            if e.action in STOP_KINDS and (listed := _list_monthly(e)) is not None:
                plans["stops"] += 1
                plans["realized_usd"] += usd
                plans["list_usd"] += listed / HOURS_PER_MONTH * hours
            out.realized_usd += usd
            team_total[e.team or "(no team)"] += usd
            action_total[e.action] += usd
            account_total[e.account or "(this account)"] += usd
    for _bucket, (team, monthly) in (lifecycle_monthly or {}).items():
        usd = monthly / HOURS_PER_MONTH * _overlap_hours(start, end, start, end)
        out.realized_usd += usd
        out.estimated_usd += usd
        team_total[team or "(no team)"] += usd
        action_total["put-lifecycle"] += usd
    out.realized_usd = round(out.realized_usd, 2)
    out.estimated_usd = round(out.estimated_usd, 2)
    out.by_team = {k: round(v, 2) for k, v in sorted(team_total.items(), key=lambda kv: -kv[1])}
    out.by_action = {k: round(v, 2) for k, v in sorted(action_total.items(), key=lambda kv: -kv[1])}
    out.by_account = {k: round(v, 2) for k, v in sorted(account_total.items(), key=lambda kv: -kv[1])}
    out.unpriced = dict(sorted(unpriced.items()))
    out.after_plans = {k: round(v, 2) for k, v in plans.items()}
    return out


# Cost Explorer's resource-level data (GetCostAndUsageWithResources): "The range must be within the last 14 days (the
# start date cannot be earlier than 14 days ago)" (its API reference); an opt-in of the account's Cost Explorer settings
BILL_DAYS = 14
BILL_HOW_TO = ("to see the bill's figure beside each stop's estimate, turn on resource-level data for EC2-Instances "
               "on Cost Explorer's Settings page (an opt-in, per the GetCostAndUsageWithResources reference)")


def bill_window(now: datetime) -> tuple[date, date]:
    """The whole days resource-level data covers: from 13 days ago to today (exclusive: today is not over)."""
    return (now - timedelta(days=BILL_DAYS - 1)).date(), now.date()


def instance_stops(entries: Sequence[LedgerRecord], *, now: datetime) -> dict[str, LedgerRecord]:
    """EC2 instances the janitor stopped inside the bill's window and that were not started again: the last stop of
    each."""
    start, _ = bill_window(now)
    out: dict[str, LedgerRecord] = {}
    for e in sorted(entries, key=lambda e: e.at):
        if e.resource_id.startswith("i-") and e.action == "started":
            out.pop(e.resource_id, None)
        elif (e.resource_id.startswith("i-") and e.action in INSTANCE_STOPS and e.status == "done"
              and e.at.date() >= start):
            out[e.resource_id] = e
    return out


def bill_figures(stops: dict[str, LedgerRecord], daily: dict[str, dict[str, float]], *,
                 now: datetime) -> list[dict[str, object]]:
    """Each stopped instance's cost a month by the bill (Cost Explorer's amortized cost per day, Savings Plans and
    reservations at their effective rate): the whole days before its stop and after it, beside the estimate the
    stop recorded. A side with no whole day in the window is None; an instance the bill has no line for at all is
    None on both sides (not $0)."""
    start, end = bill_window(now)
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    out: list[dict[str, object]] = []
    for rid, e in sorted(stops.items()):
        costs = daily.get(rid)
        stopped = e.at.date()

        def monthly(span: list[date], costs: dict[str, float] | None = costs) -> float | None:
            if costs is None or not span:
                return None
            return round(sum(costs.get(d.isoformat(), 0.0) for d in span) / len(span) * HOURS_PER_MONTH / 24, 2)

        out.append({"resource_id": rid, "stopped": stopped.isoformat(), "estimate_monthly_usd": e.monthly_usd,
                    "bill_before_monthly_usd": monthly([d for d in days if d < stopped]),
                    "bill_after_monthly_usd": monthly([d for d in days if d > stopped]),
                    "account": e.account, "region": e.region})
    return out


def weekly(entries: list[LedgerRecord], *, now: datetime, weeks: int,
           lifecycle_monthly: dict[str, tuple[str | None, float]] | None = None) -> list[tuple[datetime, Savings]]:
    """Savings for each of the last `weeks` seven-day windows ending at `now`, oldest first."""
    return [(now - timedelta(days=7 * (k + 1)),
             realized_savings(entries, start=now - timedelta(days=7 * (k + 1)), end=now - timedelta(days=7 * k),
                              lifecycle_monthly=lifecycle_monthly)) for k in reversed(range(weeks))]


def open_requests(entries: list[LedgerRecord], *, now: datetime) -> list[tuple[str, int, float | None]]:
    """Prod boxes asked to justify and not answered since: (resource, days open, $/month), oldest first."""
    out = []
    by_resource: dict[str, list[LedgerRecord]] = defaultdict(list)
    for e in entries:
        by_resource[e.resource_id].append(e)
    for resource, events in by_resource.items():
        events.sort(key=lambda e: e.at)
        last_answer = max((e.at for e in events if e.action in ENDS_A_REQUEST),
                          default=None)
        asks = [e for e in events if e.action == "ask-justification" and (last_answer is None or e.at > last_answer)]
        if asks and now - asks[-1].at <= timedelta(days=2):  # still being asked: the sweep re-asks nightly
            out.append((resource, (now - asks[0].at).days, asks[-1].monthly_usd))
    return sorted(out, key=lambda r: -r[1])


def top_idle(entries: list[LedgerRecord], *, now: datetime, top: int = 10) -> list[tuple[str, str, float]]:
    """The costliest resources found idle in the last week (any action), most expensive first."""
    latest: dict[str, LedgerRecord] = {}
    for e in entries:
        recent_idle = e.kind == FindingKind.IDLE_INSTANCE and e.monthly_usd and now - e.at <= timedelta(days=7)
        if recent_idle and (e.resource_id not in latest or e.at > latest[e.resource_id].at):
            latest[e.resource_id] = e
    ranked = sorted(latest.values(), key=lambda e: -(e.monthly_usd or 0))[:top]
    return [(e.resource_id, e.action, float(e.monthly_usd or 0)) for e in ranked]


@dataclass(frozen=True)
class CostPerPrediction:
    name: str
    months: list[tuple[str, float, float, float | None]]  # (month, cost USD, predictions, USD per 1,000)


def tag_not_activated(tag: str, costs_by_value: dict[str, dict[str, float]]) -> str | None:
    """Why grouping cost by a tag gave nothing to attribute: every dollar came back under an empty value, which
    is what Cost Explorer answers while the tag is not activated as a cost allocation tag. None when it is."""
    if not costs_by_value or any(value for value in costs_by_value):
        return None
    return (f"tag-not-activated: all cost came back without a '{tag}' value; activate '{tag}' as a cost allocation "
            "tag (Billing → Cost allocation tags). Activation is not retroactive: costs count from then on")


def own_cost(tag: str, costs_by_value: dict[str, dict[str, float]], realized_usd: float) -> tuple[
        dict[str, float] | None, str | None]:
    """What the janitor itself cost (everything carrying its stack tag) beside what it saved; or, when Cost
    Explorer cannot say yet, why. Returns ({usd, share_of_savings_pct}, None) or (None, reason)."""
    problem = tag_not_activated(tag, costs_by_value)
    if problem:
        return None, problem
    usd = round(sum(v for value, periods in costs_by_value.items() if value for v in periods.values()), 2)
    if not costs_by_value:
        return None, (f"no-cost-yet: Cost Explorer has no cost under '{tag}' (activate it as a cost allocation tag; "
                      "costs count from activation, with a day's delay)")
    share = round(100 * usd / realized_usd, 2) if realized_usd > 0 else None
    return {"usd": usd, **({"share_of_savings_pct": share} if share is not None else {})}, None


def cost_per_prediction(name: str, costs: dict[str, float], predictions: dict[str, float]) -> CostPerPrediction:
    """Monthly cost ÷ predictions, per 1,000 predictions, month over month."""
    months = []
    for month in sorted(costs):
        n = predictions.get(month, 0.0)
        months.append((month, round(costs[month], 2), n, round(costs[month] / n * 1000, 4) if n else None))
    return CostPerPrediction(name, months)


def gpu_distribution(averages: dict[str, float]) -> tuple[dict[str, int], list[tuple[str, float]]]:
    """How many GPU instances average in each utilisation band; those under 50 % are right-sizing candidates
    (a smaller type, MIG or sharing)."""
    bands = {"0-10%": 0, "10-25%": 0, "25-50%": 0, "50-75%": 0, "75-100%": 0}
    for avg in averages.values():
        key = "0-10%" if avg < 10 else "10-25%" if avg < 25 else "25-50%" if avg < 50 else \
            "50-75%" if avg < 75 else "75-100%"
        bands[key] += 1
    candidates = sorted(((i, round(a, 1)) for i, a in averages.items() if a < 50), key=lambda x: x[1])
    return bands, candidates


def egress_lines(costs: list[UsageCost], *, top: int = 5) -> list[tuple[str, float]]:
    """Data-transfer usage types by cost (out to the internet, inter-region, NAT), most expensive first."""
    wanted = ("DataTransfer-Out", "DataTransfer-Regional", "NatGateway-Bytes", "DataTransfer-xAZ", "AWS-Out-Bytes")
    lines: dict[str, float] = defaultdict(float)
    for c in costs:
        if any(w in c.usage_type for w in wanted):
            lines[c.usage_type] += c.usd
    return sorted(((k, round(v, 2)) for k, v in lines.items()), key=lambda kv: -kv[1])[:top]


def ends_savings(history: list[LedgerRecord], at: datetime, *, resource_type: str = "") -> bool:
    """Whether a start at `at` ends savings the ledger counts: the janitor's last stop or deletion of it is done,
    no start was recorded since, and this start came after it."""
    own = [e for e in history if not resource_type or e.resource_type in (resource_type, "")]
    stops = [e for e in own if e.action in SAVINGS_ACTIONS and e.status == "done"]
    starts = [e for e in own if e.action == "started"]
    return bool(stops) and not (starts and starts[-1].at >= stops[-1].at) and at > stops[-1].at


def storage_digest(entries: Sequence[LedgerRecord], *, kind: FindingKind, label: str, now: datetime) -> list[str]:
    """A storage family's digest line (EFS, ECR, FSx, AMIs): the last week's latest finding per resource, its
    dollars at stake by verdict and the unpriced ones counted (never dropped), and the changes the janitor made."""
    latest: dict[str, LedgerRecord] = {}
    for e in entries:
        if e.kind == kind and now - e.at <= timedelta(days=7) and (
                e.resource_id not in latest or e.at > latest[e.resource_id].at):
            latest[e.resource_id] = e
    priced: dict[str, float] = defaultdict(float)
    unpriced: dict[str, int] = defaultdict(int)
    done: dict[str, int] = defaultdict(int)
    for e in latest.values():
        if e.status == "done" and e.action not in ("mark-idle", "unmark-idle"):
            done[e.action] += 1
        if e.verdict in ("idle", "unused", "change-proposed", "conflict"):
            if e.monthly_usd:
                priced[e.verdict] += e.monthly_usd
            else:
                unpriced[e.verdict] += 1
    if not priced and not unpriced and not done:
        return []
    parts = [f"{verdict} ${usd:,.0f}/month" for verdict, usd in sorted(priced.items(), key=lambda kv: -kv[1])]
    parts += [f"{n} {verdict} unpriced" for verdict, n in sorted(unpriced.items())]
    parts += [f"{n} {action} done" for action, n in sorted(done.items())]
    return [f"*Storage ({label}):* " + ", ".join(parts)]
