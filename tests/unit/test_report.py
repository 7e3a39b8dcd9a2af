"""The dollars, recomputed by hand: realized vs estimated savings, requests left open, cost per prediction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cost_janitor.core.models import LedgerRecord, UsageCost
from cost_janitor.core.report import (
    cost_per_prediction,
    egress_lines,
    gpu_distribution,
    open_requests,
    realized_savings,
    top_idle,
    weekly,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)
D = timedelta(days=1)
G5 = 734.38  # g5.xlarge $/month


def test_a_stop_saves_its_hourly_price_until_the_instance_is_started_again() -> None:
    entries = [LedgerRecord("i-1", "stop", "done", T0 + 10 * H, G5, "vision"),
               LedgerRecord("i-1", "started", "done", T0 + 58 * H)]
    s = realized_savings(entries, start=T0, end=T0 + 7 * D)
    assert s.realized_usd == round(G5 / 730 * 48, 2)  # 48 hours stopped
    assert s.estimated_usd == round(G5 / 730 * (168 - 10), 2)  # had it stayed stopped all week
    assert s.by_team == {"vision": s.realized_usd} and s.by_action == {"stop": s.realized_usd}


@pytest.mark.parametrize("entries, hours", [
    ([LedgerRecord("i-1", "stop", "done", T0 - 3 * D, 73.0)], 168),
    ([LedgerRecord("i-1", "stop", "done", T0 + 7 * D + H, 73.0)], 0),
    ([LedgerRecord("i-1", "stop", "failed", T0, 73.0)], 0),
    ([LedgerRecord("i-1", "stop", "dry-run", T0, 73.0)], 0),
    ([LedgerRecord("i-1", "stop", "done", T0, 73.0), LedgerRecord("i-1", "started", "done", T0 + 5 * H),
      LedgerRecord("i-1", "stop", "done", T0 + 2 * D, 73.0)], 5 + 120),
], ids=["stopped-before-the-week", "stopped-after-it", "failed-stop-saves-nothing", "dry-run-saves-nothing",
        "stopped-twice"])
def test_stopped_hours_inside_the_window(entries: list[LedgerRecord], hours: int) -> None:
    assert realized_savings(entries, start=T0, end=T0 + 7 * D).realized_usd == round(73.0 / 730 * hours, 2)


def test_deleted_volumes_and_lifecycle_buckets_count_too() -> None:
    entries = [LedgerRecord("vol-1", "delete-volume", "done", T0 + 2 * D, 40.0, "vision")]
    s = realized_savings(entries, start=T0, end=T0 + 7 * D, lifecycle_monthly={"ml-data": ("vision", 198.66)})
    assert s.realized_usd == round(40.0 / 730 * 120 + 198.66 / 730 * 168, 2)
    assert set(s.by_action) == {"delete-volume", "put-lifecycle"}


def test_weekly_windows_are_consecutive_and_oldest_first() -> None:
    entries = [LedgerRecord("i-1", "stop", "done", T0 + 8 * D, 73.0)]
    weeks = weekly(entries, now=T0 + 14 * D, weeks=2)
    assert [w[0] for w in weeks] == [T0, T0 + 7 * D]
    assert [w[1].realized_usd for w in weeks] == [0.0, round(73.0 / 730 * 144, 2)]


def test_open_requests_are_asks_without_an_answer_since() -> None:
    entries = [LedgerRecord("i-prod", "ask-justification", "requested", T0, 734.0),
               LedgerRecord("i-prod", "ask-justification", "requested", T0 + 6 * D, 734.0),
               LedgerRecord("i-kept", "ask-justification", "requested", T0, 100.0),
               LedgerRecord("i-kept", "justified", "done", T0 + D),
               LedgerRecord("i-old", "ask-justification", "requested", T0 - 30 * D, 50.0)]
    assert open_requests(entries, now=T0 + 7 * D) == [("i-prod", 7, 734.0)]


def test_top_idle_is_the_costliest_idle_resources_of_the_last_week() -> None:
    entries = [LedgerRecord("i-a", "mark-idle", "done", T0, 100.0, kind="idle-instance"),
               LedgerRecord("i-b", "ask-justification", "requested", T0, 700.0, kind="idle-instance"),
               LedgerRecord("i-c", "mark-idle", "done", T0 - 30 * D, 900.0, kind="idle-instance")]
    assert top_idle(entries, now=T0 + D) == [("i-b", "ask-justification", 700.0), ("i-a", "mark-idle", 100.0)]


def test_cost_per_prediction_month_over_month() -> None:
    cpp = cost_per_prediction("ranker", {"2026-09": 4200.0, "2026-10": 3900.0},
                              {"2026-09": 12_000_000, "2026-10": 15_600_000})
    assert cpp.months == [("2026-09", 4200.0, 12_000_000, 0.35), ("2026-10", 3900.0, 15_600_000, 0.25)]


def test_gpu_distribution_and_right_sizing_candidates() -> None:
    bands, candidates = gpu_distribution({"i-a": 3.0, "i-b": 45.0, "i-c": 91.0})
    assert bands == {"0-10%": 1, "10-25%": 0, "25-50%": 1, "50-75%": 0, "75-100%": 1}
    assert candidates == [("i-a", 3.0), ("i-b", 45.0)]


def test_egress_lines_keep_only_data_transfer() -> None:
    groups = [UsageCost(usage_type="USE1-DataTransfer-Out-Bytes", usd=812.50),
              UsageCost(usage_type="USE1-NatGateway-Bytes", usd=301.2),
              UsageCost(usage_type="USE1-BoxUsage:g5.xlarge", usd=9000)]
    assert egress_lines(groups) == [("USE1-DataTransfer-Out-Bytes", 812.5), ("USE1-NatGateway-Bytes", 301.2)]


@pytest.mark.parametrize("costs, realized, line, says", [
    ({"CostJanitor": {"d1": 1.0, "d2": 2.5}, "": {"d1": 50.0}}, 350.0, {"usd": 3.5, "share_of_savings_pct": 1.0},
     None),
    ({"CostJanitor": {"d1": 1.0}}, 0.0, {"usd": 1.0}, None),
    ({"": {"d1": 50.0}}, 350.0, None, "tag-not-activated"),
    ({}, 350.0, None, "no-cost-yet"),
], ids=["tagged-cost-beside-savings", "nothing-saved-yet", "tag-not-activated", "no-data-yet"])
def test_the_janitors_own_cost_line(costs: dict[str, dict[str, float]], realized: float,
                                    line: dict[str, float] | None, says: str | None) -> None:
    from cost_janitor.core.report import own_cost

    got, problem = own_cost("cost-janitor:stack", costs, realized)
    assert got == line and (problem or "").startswith(says or "")


def test_a_storage_familys_digest_line_prices_what_it_can_and_counts_what_it_cannot() -> None:
    from cost_janitor.core.models import FindingKind
    from cost_janitor.core.report import storage_digest

    now = datetime(2026, 12, 6, 12, tzinfo=UTC)

    def rec(rid: str, verdict: str, usd: float | None, action: str = "review", status: str = "planned",
            days: float = 1) -> LedgerRecord:
        return LedgerRecord(resource_id=rid, action=action, status=status, at=now - timedelta(days=days),
                            monthly_usd=usd, kind="fsx", verdict=verdict)

    lines = storage_digest([rec("fs-1", "idle", 240.0), rec("fs-2", "idle", None), rec("fs-3", "busy", None),
                            rec("fs-4", "idle", None, "delete-file-system", "done"),
                            rec("fs-5", "idle", 99.0, days=30)], kind=FindingKind.FSX, label="FSx", now=now)
    assert lines == ["*Storage (FSx):* idle $240/month, 2 idle unpriced, 1 delete-file-system done"]
    assert storage_digest([], kind=FindingKind.FSX, label="FSx", now=now) == []


def test_a_stop_with_no_price_is_counted_shown_and_its_account_listed_never_dropped() -> None:
    """A member's box in a region the price table does not know was stopped: the dollars cannot count it, but the
    digest says so (type and region), and 'By account' still lists that account."""
    from cost_janitor.core.report import realized_savings
    from cost_janitor.slack_blocks import digest_message, plain_text

    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    entries = [LedgerRecord(resource_id="i-1", action="stop", status="done", at=now - timedelta(days=2),
                            monthly_usd=None, instance_type="g5.xlarge", region="ap-southeast-2",
                            account="222222222222"),
               LedgerRecord(resource_id="i-2", action="stop", status="done", at=now - timedelta(days=9),
                            monthly_usd=None, instance_type="g5.xlarge", region="ap-southeast-2",
                            account="222222222222"),  # started before the week: still saving, still unpriced
               LedgerRecord(resource_id="i-3", action="stop", status="done", at=now - timedelta(days=1),
                            monthly_usd=73.0, instance_type="m5.large", region="us-east-1", account="")]
    s = realized_savings(entries, start=now - timedelta(days=7), end=now)
    assert s.unpriced == {"g5.xlarge in ap-southeast-2": 2}
    assert set(s.by_account) == {"222222222222", "(this account)"} and s.by_account["222222222222"] == 0.0
    text = plain_text(digest_message({"weeks": [{"realized_usd": s.realized_usd, "estimated_usd": s.estimated_usd}],
                                      "by_account": s.by_account, "unpriced": s.unpriced}, team=None))
    assert "*By account:*" in text and "222222222222 $0.00" in text
    assert "*Unpriced:* 2 stop(s)" in text and "g5.xlarge in ap-southeast-2 ×2" in text
    from cost_janitor.report_html import render

    assert 'id="unpriced"' in render({"unpriced": s.unpriced}) and "g5.xlarge in ap-southeast-2" in render(
        {"unpriced": s.unpriced})


def test_stops_counted_after_savings_plans_show_their_realized_dollars_beside_list_in_digest_slack_and_report(
        ) -> None:
    """A stop whose finding was counted after a Savings Plan recorded its list price beside the realized dollars:
    the week counts the realized ones, and the digest, Slack and the HTML report show both."""
    import json

    from cost_janitor.core.report import realized_savings
    from cost_janitor.report_html import render
    from cost_janitor.slack_blocks import digest_message, plain_text

    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    week = now - timedelta(days=7)
    entries = [LedgerRecord(resource_id="i-covered", action="stop", status="done", at=week, monthly_usd=0.0,
                            instance_type="g5.xlarge", region="us-east-1",
                            evidence=json.dumps({"list_monthly_usd": 730.0, "savings_plan_covered_pct": 100.0})),
               LedgerRecord(resource_id="i-plain", action="stop", status="done", at=week, monthly_usd=73.0,
                            instance_type="m5.large", region="us-east-1", evidence="{}")]
    s = realized_savings(entries, start=week, end=now)
    assert s.after_plans == {"stops": 1, "realized_usd": 0.0, "list_usd": round(730.0 / 730 * 168, 2)}
    assert s.realized_usd == round(73.0 / 730 * 168, 2)  # the covered stop adds $0, its list price is not counted
    text = plain_text(digest_message({"weeks": [{"realized_usd": s.realized_usd, "estimated_usd": s.estimated_usd}],
                                      "after_plans": s.after_plans}, team=None))
    assert "*After Savings Plans:* 1 stop(s) counted at $0.00 ($168.00 at list price)" in text
    assert "saves $0 until its commitment is used elsewhere" in text
    assert 'id="after-plans"' in render({"after_plans": s.after_plans})
