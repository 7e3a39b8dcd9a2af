"""The weekly digest against the moto server: realized savings a test recomputes by hand from a seeded ledger,
cost per prediction from Cost Explorer's canned answers, the stand-in receiving the digest, and start events."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from cost_janitor.adapters.ledger import Ledger
from cost_janitor.capabilities.report import build, record_start, send
from cost_janitor.core.idle import classify_instances
from cost_janitor.core.models import ActionKind
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import BILL_HOW_TO
from cost_janitor.local.emulator import LocalAws, MetricSeeder, gpu_dimensions, subscribe_queue
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from cost_janitor.slack_blocks import digest_message
from tests.builders import make_instance, make_usage
from tests.conftest import load_event

NOW = datetime(2026, 11, 17, 12, tzinfo=UTC)  # mid-month: both months of invocations are in the past
POLICY = Policy.model_validate({
    "slack": {"team_channels": {"vision": "#vision"}},
    "report": {"weeks": 3, "cost_per_prediction": [{"name": "ranker", "project": "ranker",
                                                     "endpoint_name": "ranker-prod"}]}})


def _stop(ledger: Ledger, iid: str, at: datetime, instance_type: str = "g5.xlarge") -> None:
    inst = make_instance(instance_id=iid, instance_type=instance_type,
                         tags={"environment": "dev", "team": "vision",
                               "cost-janitor:idle-since": (at - timedelta(days=2)).isoformat()})
    [f] = classify_instances([inst], {iid: make_usage(cpu=1, gpus=[0.0])}, POLICY, now=at, run_id="r")
    assert f.action == ActionKind.STOP
    ledger.record([f.model_copy(update={"action_status": "done"})])


def _canned_cost_explorer(aws: LocalAws, results: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(f"{aws.endpoint}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                     data=json.dumps({"results": results}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()


@pytest.fixture
def seeded(aws: LocalAws, janitor: Any) -> dict[str, Any]:
    janitor(POLICY)
    ledger = Ledger(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    # i-a: stopped 10 days ago, never started → saving the whole of the last 10 days
    _stop(ledger, "i-0aaaaaaaaaaaaaaaa", NOW - timedelta(days=10))
    # i-b: stopped 4 days ago, started again 1 day later → 24 h saved
    _stop(ledger, "i-0bbbbbbbbbbbbbbbb", NOW - timedelta(days=4), instance_type="m5.xlarge")
    ledger.record_started("i-0bbbbbbbbbbbbbbbb", at=(NOW - timedelta(days=3)).isoformat(), source="test")
    # invocations of the ranker endpoint, two months
    seeder = MetricSeeder(aws.client("cloudwatch"))
    this_month = NOW.replace(day=1, hour=12)
    last_month = (this_month - timedelta(days=1)).replace(day=1, hour=12)
    for month, calls in ((last_month, 12_000_000.0), (this_month, 3_000_000.0)):
        seeder.series("AWS/SageMaker", "Invocations", {"EndpointName": "ranker-prod", "VariantName": "AllTraffic"},
                      [calls], end=month + timedelta(hours=1), period=3600)
    # a GPU box averaging 4 % over the week: a right-sizing candidate
    seeder.series("CWAgent", "nvidia_smi_utilization_gpu", gpu_dimensions("i-0ccccccccccccccccc"[:19], 0, "A10G"),
                  [4.0] * 160, end=NOW)
    seeder.flush()
    month = lambda d: d.strftime("%Y-%m-%d")  # noqa: E731
    _canned_cost_explorer(aws, [
        {"ResultsByTime": [
            {"TimePeriod": {"Start": month(last_month.replace(day=1)), "End": month(this_month.replace(day=1))},
             "Groups": [{"Keys": ["project$ranker"], "Metrics": {"UnblendedCost": {"Amount": "4200", "Unit": "USD"}}}],
             "Total": {}, "Estimated": False},
            {"TimePeriod": {"Start": month(this_month.replace(day=1)), "End": month(NOW)},
             "Groups": [{"Keys": ["project$ranker"], "Metrics": {"UnblendedCost": {"Amount": "900", "Unit": "USD"}}}],
             "Total": {}, "Estimated": True}]},
        {"ResultsByTime": [{"TimePeriod": {"Start": month(NOW - timedelta(days=30)), "End": month(NOW)},
                            "Groups": [{"Keys": ["USE1-DataTransfer-Out-Bytes"],
                                        "Metrics": {"UnblendedCost": {"Amount": "812.5", "Unit": "USD"}}},
                                       {"Keys": ["USE1-BoxUsage:g5.xlarge"],
                                        "Metrics": {"UnblendedCost": {"Amount": "9000", "Unit": "USD"}}}],
                            "Total": {}, "Estimated": True}]},
        {"ResultsByTime": [  # the janitor's own cost: a week of days, its stack tag and the rest of the account
            {"TimePeriod": {"Start": month(NOW - timedelta(days=7 - d)), "End": month(NOW - timedelta(days=6 - d))},
             "Groups": [{"Keys": ["cost-janitor:stack$CostJanitor"],
                         "Metrics": {"UnblendedCost": {"Amount": "1.25", "Unit": "USD"}}},
                        {"Keys": ["cost-janitor:stack$"],
                         "Metrics": {"UnblendedCost": {"Amount": "900", "Unit": "USD"}}}],
             "Total": {}, "Estimated": True} for d in range(7)]},
    ])
    return {"aws": aws, "ledger": ledger, "last_month": last_month.strftime("%Y-%m"),
            "this_month": this_month.strftime("%Y-%m")}


def test_realized_savings_are_what_a_person_computes_from_the_ledger(seeded: dict[str, Any]) -> None:
    digest = build(POLICY, Settings.from_env(), now=NOW)
    g5, m5 = 1.006, 0.192  # $/hour
    this_week = [w["realized_usd"] for w in digest.weeks]
    # week 3 (last 7 days): i-a all 168 h; i-b stopped 4 days ago, started 3 days ago: 24 h
    # week 2 (7-14 days ago): i-a stopped 10 days ago: 72 h; week 1: nothing
    assert this_week == [0.0, round(g5 * 72, 2), round(g5 * 168 + m5 * 24, 2)]
    assert digest.by_team == {"vision": this_week[-1]} and digest.actions_last_week == {"stop:done": 1}


def test_cost_per_prediction_and_egress_come_from_cost_explorer(seeded: dict[str, Any]) -> None:
    digest = build(POLICY, Settings.from_env(), now=NOW)
    [ranker] = digest.cost_per_prediction
    assert ranker["months"] == [(seeded["last_month"], 4200.0, 12_000_000.0, 0.35),
                                (seeded["this_month"], 900.0, 3_000_000.0, 0.3)]
    assert digest.egress == [("USE1-DataTransfer-Out-Bytes", 812.5)]
    assert digest.gpu_candidates and digest.gpu_candidates[0][1] == 4.0


def test_egress_lines_on_later_cost_explorer_pages_are_read(aws: LocalAws, janitor: Any) -> None:
    janitor(Policy())
    page = {"TimePeriod": {"Start": "2026-10-18", "End": "2026-11-17"}, "Total": {}, "Estimated": True}
    _canned_cost_explorer(aws, [
        {"ResultsByTime": [{**page, "Groups": [{"Keys": ["USE1-BoxUsage:g5.xlarge"], "Metrics": {
            "UnblendedCost": {"Amount": "9000", "Unit": "USD"}}}]}], "NextPageToken": "page-2"},
        {"ResultsByTime": [{**page, "Groups": [{"Keys": ["USW2-DataTransfer-Out-Bytes"], "Metrics": {
            "UnblendedCost": {"Amount": "77.5", "Unit": "USD"}}}]}]}])
    assert build(Policy(), Settings.from_env(), now=NOW).egress == [("USW2-DataTransfer-Out-Bytes", 77.5)]


def test_cost_all_under_an_empty_project_tag_says_the_tag_is_not_activated(aws: LocalAws, janitor: Any) -> None:
    janitor(POLICY)
    untagged = {"Groups": [{"Keys": ["project$"], "Metrics": {"UnblendedCost": {"Amount": "5100", "Unit": "USD"}}}],
                "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-17"}, "Total": {}, "Estimated": True}
    _canned_cost_explorer(aws, [{"ResultsByTime": [untagged]}, {"ResultsByTime": []}])
    digest = build(POLICY, Settings.from_env(), now=NOW)
    assert digest.cost_per_prediction == []
    assert "activate 'project' as a cost allocation tag" in digest.unavailable["cost_per_prediction"]
    assert "not retroactive" in digest.unavailable["cost_per_prediction"]


def test_the_janitors_own_cost_this_week_stands_beside_what_it_saved(seeded: dict[str, Any]) -> None:
    digest = build(POLICY, Settings.from_env(), now=NOW)
    realized = digest.weeks[-1]["realized_usd"]
    assert digest.own_cost == {"usd": 8.75, "share_of_savings_pct": round(100 * 8.75 / realized, 2)}
    text = json.dumps(digest_message(digest.document(), team=None))
    assert "cost-janitor's own cost:* $8.75 this week" in text


def test_an_own_cost_tag_that_is_not_activated_says_how_to_activate_it(aws: LocalAws, janitor: Any) -> None:
    janitor(Policy())
    untagged = {"TimePeriod": {"Start": "2026-11-16", "End": "2026-11-17"}, "Total": {}, "Estimated": True,
                "Groups": [{"Keys": ["cost-janitor:stack$"], "Metrics": {"UnblendedCost": {"Amount": "900",
                                                                                           "Unit": "USD"}}}]}
    _canned_cost_explorer(aws, [{"ResultsByTime": []}, {"ResultsByTime": [untagged]}])  # egress, own cost
    digest = build(Policy(), Settings.from_env(), now=NOW)
    assert digest.own_cost is None
    assert "activate 'cost-janitor:stack' as a cost allocation tag" in digest.unavailable["own_cost"]


def test_the_digest_reaches_slack_channels_and_sns(seeded: dict[str, Any]) -> None:
    standin = SlackStandIn()
    try:
        from cost_janitor.adapters.slack import SlackGateway
        tap = subscribe_queue(seeded["aws"], os.environ["FINDINGS_TOPIC_ARN"], name="digest-tap")
        digest = build(POLICY, Settings.from_env(), now=NOW)
        sent = send(digest, POLICY, Settings.from_env(), slack=SlackGateway("xoxb", base_url=standin.api_url))
        assert sent == {"sns": 1, "slack": 2}
        channels = [c.args["channel"] for c in standin.of("chat.postMessage")]
        assert channels == ["#ml-cost", "#vision"]
        summary = json.dumps(standin.of("chat.postMessage")[0].args["blocks"])
        assert f"${digest.weeks[-1]['realized_usd']:,.2f}" in summary and "Cost per 1,000 predictions" in summary
        link = ("https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"
                "#dashboards:name=cost-janitor-local")
        for post in standin.of("chat.postMessage"):  # the summary and the team's message link the charts
            assert f"<{link}|CloudWatch dashboard>" in json.dumps(post.args["blocks"])
        [message] = seeded["aws"].client("sqs").receive_message(QueueUrl=tap)["Messages"]
        assert json.loads(message["Body"])["schema"] == "cost-janitor/digest/v1"
    finally:
        standin.stop()


def test_a_stopped_box_started_again_ends_its_savings_once(seeded: dict[str, Any]) -> None:
    event = load_event("eventbridge/ec2_state_change_running.json")
    event["detail"]["instance-id"] = "i-0aaaaaaaaaaaaaaaa"
    from cost_janitor.events import Ec2StateChange
    parsed = Ec2StateChange.model_validate(event)
    assert record_start(parsed, Settings.from_env()) == {"recorded": True}
    assert record_start(parsed, Settings.from_env()) == {"recorded": False}  # already recorded
    unknown = parsed.model_copy(update={"detail": parsed.detail.model_copy(update={"instance_id": "i-0dddddddd"})})
    assert record_start(unknown, Settings.from_env()) == {"recorded": False}  # never stopped by the janitor


def test_a_section_that_fails_is_reported_not_fatal(seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.client
    from botocore.exceptions import ClientError
    original = botocore.client.BaseClient._make_api_call

    def no_cost_explorer(self: Any, operation: str, params: Any) -> Any:
        if operation == "GetCostAndUsage":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "Cost Explorer off"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_cost_explorer)
    digest = build(POLICY, Settings.from_env(), now=NOW)
    assert digest.unavailable == {"cost_per_prediction": "AccessDeniedException", "egress": "AccessDeniedException",
                                  "own_cost": "AccessDeniedException"}
    assert digest.weeks[-1]["realized_usd"] > 0



def test_a_digest_short_of_time_skips_the_sections_it_cannot_finish_and_says_so(seeded: dict[str, Any]) -> None:
    full = build(POLICY, Settings.from_env(), now=NOW)
    clock = iter([200_000, 200_000, 59_000, 59_000, 59_000, 59_000, 59_000])  # ms left before each section
    digest = build(POLICY, Settings.from_env(), now=NOW, remaining_ms=lambda: next(clock))
    assert digest.unavailable == {"gpu": "time-budget", "cost_per_prediction": "time-budget",
                                  "egress": "time-budget", "own_cost": "time-budget", "bill": "time-budget"}
    assert digest.weeks == full.weeks and digest.tag_coverage == full.tag_coverage  # what was read is all there
    assert (sum(digest.gpu_bands.values()), digest.cost_per_prediction, digest.egress) == (0, [], [])
    assert full.cost_per_prediction and sum(full.gpu_bands.values()) > 0 and full.unavailable == {}
    assert "gpu (time-budget)" in json.dumps(digest_message(digest.document(), team=None))


def test_a_channel_slack_refuses_does_not_keep_the_digest_from_the_others(seeded: dict[str, Any]) -> None:
    standin = SlackStandIn()
    try:
        from cost_janitor.adapters.slack import SlackGateway
        standin.fail_next = [500]  # the first post (the summary) fails
        digest = build(POLICY, Settings.from_env(), now=NOW)
        sent = send(digest, POLICY, Settings.from_env(), slack=SlackGateway("xoxb", base_url=standin.api_url))
        assert sent == {"sns": 1, "slack": 1, "slack_failed": {"#ml-cost": "internal_error"}}
        assert [c.args["channel"] for c in standin.of("chat.postMessage")] == ["#ml-cost", "#vision"]
    finally:
        standin.stop()


def test_the_weekly_run_delivered_twice_sends_the_digest_once(seeded: dict[str, Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from cost_janitor.handlers import report
    from cost_janitor.local.context import FakeContext

    standin = SlackStandIn()
    monkeypatch.setenv("SLACK_API_URL", standin.api_url)
    try:
        event = {**load_event("eventbridge/scheduled_nightly_sweep.json"), "id": "weekly-digest-2026-47"}
        first = report.lambda_handler(event, FakeContext("report", remaining_ms=300_000))
        again = report.lambda_handler(event, FakeContext("report", remaining_ms=300_000))  # delivered twice
        assert first == again and first["sns"] == 1 and first["slack"] == 2 and first["unavailable"] == {}
        assert len(standin.of("chat.postMessage")) == 2
    finally:
        standin.stop()


class _Bars(HTMLParser):
    """Every bar's chart, series, label and value; the own-cost figure; tags that would load something."""

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[dict[str, str]] = []
        self.own: str | None = None
        self.external: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self._section: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "g" and a.get("class") == "bar":
            self.bars.append(a)
        if a.get("id") == "own-cost":
            self.own = a["data-value"]
        if tag == "section":
            self._section = a.get("id")
        if tag == "tr":
            self._cell = []
        if tag in ("script", "link", "img", "iframe") or "http" in (a.get("src", "") + a.get("href", "")):
            self.external.append(tag)

    def handle_data(self, data: str) -> None:
        if self._cell is not None and self.lasttag == "td":
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._cell and self._section:
            self.rows.setdefault(self._section, []).append(self._cell)
            self._cell = None


def test_the_html_report_charts_the_numbers_the_digest_prints(seeded: dict[str, Any]) -> None:
    from cost_janitor.report_html import render

    digest = build(POLICY, Settings.from_env(), now=NOW, weeks=12)
    page = _Bars()
    page.feed(render(digest.document()))
    bars = {(b["data-chart"], b.get("data-series", ""), b["data-label"]): float(b["data-value"]) for b in page.bars}
    assert len(digest.weeks) == 12
    for week in digest.weeks:
        assert bars[("weeks", "realized", week["week_of"])] == week["realized_usd"]
        assert bars[("weeks", "estimated", week["week_of"])] == week["estimated_usd"]
    assert {k[2]: v for k, v in bars.items() if k[0] == "by-team"} == digest.by_team
    assert {k[2]: v for k, v in bars.items() if k[0] == "by-action"} == digest.by_action
    assert {k[2]: v for k, v in bars.items() if k[0] == "gpu-bands"} == digest.gpu_bands
    assert {k[2]: v for k, v in bars.items() if k[0] == "tag-coverage"} == digest.tag_coverage["by_key"]  # type: ignore[index]
    assert [r[0] for r in page.rows["top-idle"]] == [r for r, _, _ in digest.top_idle]
    assert [r[0] for r in page.rows["gpu-candidates"]] == [i for i, _ in digest.gpu_candidates]
    assert page.own is not None and float(page.own) == digest.own_cost["usd"]  # type: ignore[index]
    assert page.external == []  # self-contained: nothing is loaded from anywhere


def test_cli_report_html_writes_one_self_contained_page(seeded: dict[str, Any], tmp_path: Any) -> None:
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "report.html"
    cli = str(Path(sys.executable).parent / "cost-janitor")
    result = subprocess.run([cli, "report", "--html", str(out)], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "<script" not in html


def test_the_report_in_a_real_browser_is_not_blank(seeded: dict[str, Any], tmp_path: Any) -> None:
    """Headless Chromium (Debian's package; `make report-screenshot` installs it) renders the page."""
    import shutil
    import subprocess

    from cost_janitor.report_html import render
    from tests.png import ink

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed here (make report-screenshot installs it)")
    page, shot = tmp_path / "report.html", tmp_path / "report.png"
    page.write_text(render(build(POLICY, Settings.from_env(), now=NOW, weeks=12).document()))
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=820,1600", f"--screenshot={shot}", page.as_uri()], check=True,
                   capture_output=True, timeout=120)
    blank = tmp_path / "blank.png"
    (tmp_path / "blank.html").write_text("<!doctype html><html><body></body></html>")
    subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=820,1600",
                    f"--screenshot={blank}", (tmp_path / "blank.html").as_uri()], check=True, capture_output=True,
                   timeout=120)
    assert ink(blank.read_bytes()) < 0.001  # the measure itself: a blank page has no ink
    assert ink(shot.read_bytes()) > 0.02  # text, bars and tables


def test_the_bill_stands_beside_the_estimate_for_stopped_boxes(aws: LocalAws, janitor: Any) -> None:
    """#26 "realized savings from the bill where the bill can say it": with resource-level data on, each box stopped
    in the last 14 days gets its cost a month by the bill before its stop and after it, beside the estimate (a box the
    bill has no line for says so, never $0); the Slack digest and the HTML report show it. With it off, one line
    says how to turn it on and nothing else is lost."""
    from cost_janitor.local.emulator.seeding import seed_resource_costs
    from cost_janitor.report_html import render

    janitor(POLICY)
    ledger = Ledger(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    _stop(ledger, "i-0aaaaaaaaaaaaaaaa", now - timedelta(days=5))
    _stop(ledger, "i-0bbbbbbbbbbbbbbbb", now - timedelta(days=3), instance_type="m5.xlarge")
    stopped = (now - timedelta(days=5)).date()
    days = [(now - timedelta(days=n)).date() for n in range(1, 14)]
    seed_resource_costs({"i-0aaaaaaaaaaaaaaaa": {d.isoformat(): (20.0 if d < stopped else 0.5 if d == stopped else 0.0)
                                                 for d in days}})
    digest = build(POLICY, Settings.from_env(), now=now)
    assert digest.bill is not None and "resource-level data" in digest.bill["source"]
    lines = {b["resource_id"]: b for b in digest.bill["lines"]}
    a, b = lines["i-0aaaaaaaaaaaaaaaa"], lines["i-0bbbbbbbbbbbbbbbb"]
    assert a["bill_before_monthly_usd"] == round(20.0 * 730 / 24, 2) and a["bill_after_monthly_usd"] == 0.0
    assert a["estimate_monthly_usd"] == round(1.006 * 730, 2) and a["stopped"] == stopped.isoformat()
    assert b["bill_before_monthly_usd"] is None and b["bill_after_monthly_usd"] is None  # no line: not $0
    doc = digest.document()
    slack = json.dumps(digest_message(doc, team=None))
    assert f"i-0aaaaaaaaaaaaaaaa ${20.0 * 730 / 24:,.2f}/mo before its stop" in slack
    assert "i-0bbbbbbbbbbbbbbbb no line/mo before its stop" in slack
    assert 'id="bill"' in render(doc) and "i-0aaaaaaaaaaaaaaaa" in render(doc)

    seed_resource_costs({}, enabled=False)
    off = build(POLICY, Settings.from_env(), now=now)
    assert off.bill == {"not_used": f"DataUnavailableException: {BILL_HOW_TO}"}
    assert "*From the bill:* not used" in json.dumps(digest_message(off.document(), team=None))
    assert off.weeks[-1]["realized_usd"] == digest.weeks[-1]["realized_usd"] > 0
