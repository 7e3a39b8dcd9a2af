"""Who hears what, and when: routing, the re-ask/escalation clock, authorisation — and Slack's limits."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cost_janitor.core.idle import classify_instances
from cost_janitor.core.models import ActionKind, Ask, Finding, Verdict, dashboard_url
from cost_janitor.core.notify import (
    NoticeHistory,
    Recipient,
    keep_until,
    may_act,
    may_stop_now,
    plan_notice,
    recipient_for,
)
from cost_janitor.core.policy import Policy
from cost_janitor.slack_blocks import MAX_BLOCKS, buttons_for, digest_message, keep_modal, owner_messages, plain_text
from tests.builders import NOW, make_instance, make_usage

POLICY = Policy.model_validate({"slack": {"team_channels": {"vision": "#vision"}, "admins": ["U0ADMIN01"]}})


def _finding(**tags: str) -> Finding:
    base = {"environment": "prod", "team": "vision", "owner": "ana@example.com"}
    inst = make_instance(tags={k: v for k, v in {**base, **tags}.items() if v})
    [f] = classify_instances([inst], {inst.instance_id: make_usage(cpu=1)}, POLICY, now=NOW, run_id="r1")
    return f


@pytest.mark.parametrize("owner, team, expected", [
    ("Ana@Example.com", "vision", Recipient("email", "ana@example.com")),
    ("U0ANA0001", "vision", Recipient("user", "U0ANA0001")),
    ("", "vision", Recipient("channel", "#vision")),
    ("someone", "vision", Recipient("channel", "#vision")),
    ("", "unknown-team", Recipient("channel", "#ml-cost")),
], ids=["email", "slack-id", "no-owner-team-channel", "unusable-owner", "no-team-default-channel"])
def test_recipient_is_the_owner_then_the_team_then_the_default(owner: str, team: str, expected: Recipient) -> None:
    assert recipient_for(_finding(owner=owner, team=team), POLICY) == expected


DAY = timedelta(days=1)


@pytest.mark.parametrize("history, notify, escalate", [
    (NoticeHistory(), True, False),
    (NoticeHistory(NOW - DAY, NOW - DAY), False, False),
    (NoticeHistory(NOW - 3 * DAY, NOW - 3 * DAY), True, False),
    (NoticeHistory(NOW - 7 * DAY, NOW - 4 * DAY), True, True),
    (NoticeHistory(NOW - 7 * DAY, NOW - 1 * DAY), False, True),
    (NoticeHistory(NOW - 9 * DAY, NOW - 3 * DAY, escalated=True), True, False),
], ids=["first-night", "asked-yesterday", "reask-after-3-days", "reask-and-escalate-after-7",
        "escalate-even-between-reasks", "escalated-once-only"])
def test_prod_request_clock(history: NoticeHistory, notify: bool, escalate: bool) -> None:
    plan = plan_notice(_finding(), history, POLICY, now=NOW)
    assert (plan.notify_owner, plan.escalate) == (notify, escalate), plan.reason


def test_actions_are_always_told_and_pending_marks_are_not_repeated() -> None:
    marked = _finding(environment="dev")
    assert marked.action == ActionKind.MARK_IDLE
    assert plan_notice(marked, NoticeHistory(NOW - DAY, NOW - DAY), POLICY, now=NOW).notify_owner
    pending = marked.model_copy(update={"action": None, "action_status": None})
    assert not plan_notice(pending, NoticeHistory(), POLICY, now=NOW).notify_owner


def test_only_the_owner_or_an_admin_may_act() -> None:
    assert may_act("U1", "U1", POLICY) and may_act("U0ADMIN01", "U1", POLICY)
    assert not may_act("U2", "U1", POLICY) and not may_act("U2", None, POLICY)


def test_stop_now_only_where_the_policy_may_stop() -> None:
    assert may_stop_now("dev", POLICY) and not may_stop_now("prod", POLICY) and not may_stop_now("qa", POLICY)


def test_keep_is_capped_by_the_policy() -> None:
    assert keep_until(NOW, 365, POLICY) == (NOW + timedelta(days=90)).date().isoformat()


@pytest.mark.parametrize("environment, action, expected", [
    ("prod", Ask.JUSTIFY, ["keep", "snooze", "not_mine"]),
    ("dev", ActionKind.MARK_IDLE, ["keep", "stop_now"]),
    ("dev", Ask.INSTALL_GPU_AGENT, [None, "not_mine"]),
    ("dev", ActionKind.STOP, []),
], ids=["prod-ask", "dev-about-to-stop", "gpu-agent-link", "already-stopped"])
def test_buttons_by_case(environment: str, action: object, expected: list[str | None]) -> None:
    f = _finding(environment=environment).model_copy(update={"action": action})
    buttons = buttons_for(f, POLICY)
    assert [b.action_id for b in buttons] == expected


def test_buttons_carry_what_their_modal_shows_so_it_opens_without_reading_anything() -> None:
    keep = buttons_for(_finding().model_copy(update={"action": Ask.JUSTIFY}), POLICY)[0]
    assert json.loads(str(keep.value)) == {"resource": "i-0123456789abcdef0", "region": "us-east-1", "max_days": 90}
    tagging = _finding().model_copy(update={"kind": "tag-compliance", "verdict": Verdict.NON_COMPLIANT,
                                            "evidence": {"missing": "project,environment", "invalid": ""}})
    [fix] = buttons_for(tagging, POLICY.model_validate({"tagging": {"required": {
        "project": [], "environment": ["dev", "prod"]}}}))
    assert json.loads(str(fix.value))["keys"] == ["project", "environment"]
    assert json.loads(str(fix.value))["allowed"] == {"environment": ["dev", "prod"]}
    huge = POLICY.model_validate({"tagging": {"required": {"environment": [f"v{n:04d}" for n in range(400)]}}})
    [fix] = buttons_for(tagging.model_copy(update={"evidence": {"missing": "environment"}}), huge)
    assert len(str(fix.value)) <= 2000 and json.loads(str(fix.value))["resource"] == "i-0123456789abcdef0"


def test_many_findings_are_split_under_slacks_block_limit_and_none_is_lost() -> None:
    """(Four messages of buttons before #27; now at most three a recipient, the rest one line each.)"""
    instances = [make_instance(instance_id=f"i-{k:017x}", tags={"environment": "prod", "owner": "a@b.co",
                                                                "Name": "x" * 400}) for k in range(40)]
    findings = classify_instances(instances, {i.instance_id: make_usage(cpu=1) for i in instances}, POLICY, now=NOW)
    messages = owner_messages(findings, POLICY)
    # slack.max_messages_per_recipient (3): two messages of 12 with buttons, the other 16 named in a summary
    assert len(messages) == 3
    seen = []
    for m in messages:
        assert len(m["blocks"]) <= MAX_BLOCKS and len(m["text"]) <= 150
        for block in m["blocks"]:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
                seen += [block["block_id"].split(":", 1)[1]] if block.get("block_id", "").startswith("finding:") \
                    else [line.split("`")[1] for line in block["text"]["text"].split("\n")]
    assert sorted(seen) == sorted(f.resource_id for f in findings)


def test_keep_modal_requires_a_reason_and_offers_no_more_than_the_policy_allows() -> None:
    view = keep_modal(resource_id="i-1", max_days=30, metadata={"resource": "i-1"})
    [reason] = [b for b in view["blocks"] if b.get("block_id") == "reason"]
    assert reason["element"]["min_length"] == 10 and not reason.get("optional")
    [days] = [b for b in view["blocks"] if b.get("block_id") == "days"]
    assert max(int(o["value"]) for o in days["element"]["options"]) == 30
    assert json.loads(view["private_metadata"]) == {"resource": "i-1"}


def test_verdicts_needing_no_answer_are_not_sent() -> None:
    busy = _finding().model_copy(update={"verdict": Verdict.BUSY, "action": None, "notes": ()})
    assert not plan_notice(busy, NoticeHistory(), POLICY, now=NOW).notify_owner


@pytest.mark.parametrize("status, error, says", [
    ("done", None, "Stopped: idle past the grace period"),
    ("failed", "OperationNotPermitted", "Could not be stopped (OperationNotPermitted); it is still running."),
    ("skipped", "instance-terminated", "Not stopped: it changed before the janitor acted (instance-terminated)."),
])
def test_the_owner_is_told_what_became_of_a_stop(status: str, error: str | None, says: str) -> None:
    f = _finding(environment="dev").model_copy(update={"action": ActionKind.STOP, "action_status": status,
                                                       "action_error": error})
    [message] = owner_messages([f], POLICY)
    assert says in json.dumps(message["blocks"])


@pytest.mark.parametrize(("region", "host"), [("us-west-2", "console.aws.amazon.com"),
                                              ("cn-north-1", "console.amazonaws.cn"),
                                              ("us-gov-west-1", "console.amazonaws-us-gov.com")])
def test_the_digest_links_the_dashboard_in_its_partitions_console(region: str, host: str) -> None:
    url = dashboard_url(region, "cost-janitor-CostJanitor")
    assert url == f"https://{host}/cloudwatch/home?region={region}#dashboards:name=cost-janitor-CostJanitor"
    doc = {"weeks": [{"realized_usd": 12.5, "estimated_usd": 20.0}]}
    message = digest_message(doc, team=None, dashboard=url)
    assert f"<{url}|CloudWatch dashboard>" in json.dumps(message["blocks"])
    email = plain_text(message)  # the same digest by email: no Slack markup around the link
    assert f"CloudWatch dashboard: {url}" in email and "<" not in email
    assert "CloudWatch dashboard" not in json.dumps(digest_message(doc, team=None)["blocks"])  # none wired, none shown


def test_the_digest_has_a_sagemaker_line_when_sagemaker_saved_something() -> None:
    doc = {"weeks": [{"realized_usd": 40.0, "estimated_usd": 50.0}],
           "by_action": {"stop": 20.0, "delete-endpoint": 14.08, "stop-notebook": 5.9}}
    text = json.dumps(digest_message(doc, team=None)["blocks"])
    assert "*SageMaker this week:* endpoints deleted $14.08, notebook instances stopped $5.90" in text
    assert "SageMaker" not in json.dumps(digest_message({**doc, "by_action": {"stop": 20.0}}, team=None)["blocks"])


def test_the_hub_hears_a_member_only_about_its_own_account_and_only_a_listed_member() -> None:
    from cost_janitor.core.notify import admit_forwarded

    own = _finding().model_copy(update={"account": "210987654321"})
    other = _finding().model_copy(update={"account": "310987654321", "resource_id": "i-other"})
    assert admit_forwarded("210987654321", [own, other], {"210987654321", "310987654321"}) == ([own], [other])
    assert admit_forwarded("999999999999", [own], {"210987654321"}) == ([], [own])
