"""The notifier against the moto server and the Slack stand-in: sweep → SNS → notifier → one message per owner,
re-asked and escalated on the policy's clock, rate limits, leases between notifiers, and failures that wait."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.adapters.ledger import SlackState
from cost_janitor.adapters.slack import SlackGateway
from cost_janitor.capabilities import idle_sweep, notifier
from cost_janitor.handlers import notifier as notifier_handler
from cost_janitor.local.context import FakeContext
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.integration.slack_world import ANA, BO, END, POLICY, message_to, night, posts_by_channel, swept


def test_one_message_per_owner_with_the_right_buttons(team: dict[str, Any], slack: SlackStandIn) -> None:
    assert night(team, END + timedelta(minutes=5)) == {"batchItemFailures": []}
    posts = posts_by_channel(slack)
    # the stranger's email is unknown to Slack and has no team channel → the default channel
    assert sorted(posts) == ["#ml-cost", "#vision", "U0ANA0001", "U0BO00001"]
    assert all(len(v) == 1 for v in posts.values())
    ana = json.dumps(posts[ANA][0]["blocks"])
    assert "ana-gpu" in ana and "ana-cpu" in ana and '"stop_now"' in ana and '"keep"' in ana
    bo = json.dumps(posts[BO][0]["blocks"])
    assert '"snooze"' in bo and '"not_mine"' in bo and '"stop_now"' not in bo
    assert "orphan" in json.dumps(posts["#vision"][0]["blocks"])
    assert [c.args["email"] for c in slack.of("users.lookupByEmail")].count("ana@example.com") == 1  # cached


def test_prod_requests_are_reasked_after_n_days_and_escalated_after_m(team: dict[str, Any],
                                                                        slack: SlackStandIn) -> None:
    for day in (0, 1, 3, 7):
        night(team, END - timedelta(days=7 - day) + timedelta(minutes=5))
    to_bo = [c for c in slack.of("chat.postMessage") if c.args["channel"] == BO]
    assert len(to_bo) == 3  # day 0, re-asked day 3 and day 7 (reask_after_days = 3); not day 1
    escalated = [c for c in slack.of("chat.postMessage") if c.args["channel"] == "#search"]
    assert len(escalated) == 1 and "unanswered" in escalated[0].args["text"]


def test_slack_rate_limit_is_honoured_and_errors_are_not_retried_forever(team: dict[str, Any],
                                                                          slack: SlackStandIn) -> None:
    slack.fail_next = [429]
    night(team, END + timedelta(minutes=5))
    assert len(posts_by_channel(slack)) == 4  # the 429 was retried after Retry-After
    slack.fail_next = [500] * 20
    calls_before = len(slack.calls)
    result = night(team, END + timedelta(days=1, minutes=5))
    assert result == {"batchItemFailures": []}
    assert len(slack.calls) - calls_before < 20  # each failure recorded once, not retried in a loop


def test_a_recipient_another_notifier_is_writing_to_is_handed_back_to_sqs_not_posted_twice(
        team: dict[str, Any], slack: SlackStandIn) -> None:
    now = END + timedelta(minutes=5)
    records = swept(team, now)
    state = SlackState(team["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
    assert state.claim(f"run-{now:%m%d}", ANA, holder="the-other-notifier")
    first = notifier_handler.lambda_handler({"Records": records}, FakeContext())
    carrying_ana = sorted(r["messageId"] for r in records if "ana@example.com" in r["body"])
    assert sorted(f["itemIdentifier"] for f in first["batchItemFailures"]) == carrying_ana != []
    assert ANA not in posts_by_channel(slack) and len(posts_by_channel(slack)) == 3  # everyone else got theirs
    state.release(f"run-{now:%m%d}", ANA, holder="the-other-notifier")
    redelivered = [r for r in records if {"itemIdentifier": r["messageId"]} in first["batchItemFailures"]]
    assert notifier_handler.lambda_handler({"Records": redelivered}, FakeContext()) == {"batchItemFailures": []}
    posts = posts_by_channel(slack)
    assert len(posts[ANA]) == 1 and all(len(v) == 1 for v in posts.values())


def test_two_notifiers_writing_one_runs_findings_to_one_owner_at_once_post_one_message(
        team: dict[str, Any], slack: SlackStandIn) -> None:
    now = END + timedelta(minutes=5)
    report = idle_sweep.run(POLICY, Settings.from_env(), now=now, run_id="run-race", dry_run=False)
    ana = [f for f in report.findings if f.owner == "ana@example.com" and f.publishable]
    assert len(ana) == 2
    slack.delays["chat.postMessage"] = 0.5  # the first post is in flight while the second notifier arrives
    start = threading.Barrier(2)
    reports: list[Any] = []

    def notifier_instance(findings: list[Any]) -> None:
        gateway = SlackGateway("xoxb-test", base_url=slack.api_url)
        state = SlackState(team["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
        start.wait()
        reports.append(notifier.run(findings, POLICY, gateway, state))

    threads = [threading.Thread(target=notifier_instance, args=([f],)) for f in ana]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    to_ana = posts_by_channel(slack)[ANA]
    top = [p for p in to_ana if "thread_ts" not in p]
    assert len(top) == 1  # without the lease both found no message and both posted
    # the other one found the lease held (and hands its findings back), or — on a slow machine — came after the
    # first had finished and replied in its thread (it merged into the message before #27)
    assert sum(len(r.busy) for r in reports) + (len(to_ana) - len(top)) == 1 and len(reports) == 2


def test_slack_too_slow_to_answer_is_a_recorded_failure_not_a_hang_or_a_retry_loop(
        team: dict[str, Any], slack: SlackStandIn) -> None:
    report = idle_sweep.run(POLICY, Settings.from_env(), now=END + timedelta(minutes=5), run_id="run-slow",
                            dry_run=False)
    ana = [f for f in report.findings if f.owner == "ana@example.com" and f.publishable]
    slack.delays["chat.postMessage"] = 6.0  # the gateway waits 5 s
    state = SlackState(team["aws"].client("dynamodb"), os.environ["LEDGER_TABLE"])
    started = time.monotonic()
    result = notifier.run(ana, POLICY, SlackGateway("xoxb-test", base_url=slack.api_url), state)
    assert time.monotonic() - started < 8
    assert result.failed == {ANA: "TimeoutError"} and result.messages_posted == 0
    assert slack.arrived.count("chat.postMessage") == 1  # one try, no retry loop; the next run tells them
    assert state.claim("run-slow", ANA, holder="next")  # the lease was given back


def test_a_finding_whose_notice_history_cannot_be_read_waits_and_the_rest_are_told(
        team: dict[str, Any], slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    now = END + timedelta(minutes=5)
    records = swept(team, now)
    unlucky = team["fleet"].ids["ana-gpu"]
    original = botocore.client.BaseClient._make_api_call

    def throttled(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Query" and params.get("ExpressionAttributeValues", {}).get(":pk") == {"S": unlucky}:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}}, operation)
        return original(self, operation, params)

    with monkeypatch.context() as m:
        m.setattr(botocore.client.BaseClient, "_make_api_call", throttled)
        first = notifier_handler.lambda_handler({"Records": records}, FakeContext())
    back = sorted(f["itemIdentifier"] for f in first["batchItemFailures"])
    assert back == sorted(r["messageId"] for r in records if unlucky in r["body"]) != []
    posts = posts_by_channel(slack)
    assert len(posts) == 4 and "ana-cpu" in json.dumps(posts[ANA]) and "ana-gpu" not in json.dumps(posts[ANA])
    redelivered = [r for r in records if r["messageId"] in back]
    assert notifier_handler.lambda_handler({"Records": redelivered}, FakeContext()) == {"batchItemFailures": []}
    # a later batch of the same run: a reply in the thread of the message Ana already has, not a second message
    # (#27: updating it cost chat.update calls, limited per workspace; this test merged it into that message before)
    first, reply = posts_by_channel(slack)[ANA]
    assert "thread_ts" not in first and reply["thread_ts"] == message_to(slack, ANA)[1]
    assert "ana-gpu" in json.dumps(reply["blocks"]) and "ana-gpu" not in json.dumps(first["blocks"])
    assert not slack.of("chat.update")


def test_an_owner_of_500_idle_boxes_gets_a_few_messages_slack_accepts_naming_each_once(
        aws: Any, janitor: Any, slack: SlackStandIn) -> None:
    """#27: the stand-in refuses what Slack refuses (over 50 blocks, a section over 3,000 characters, text over
    40,000). 500 idle boxes of one owner: the costliest in messages with buttons (slack.max_messages_per_recipient),
    the rest one line each in summary messages — every message accepted, every box named exactly once, and each
    message's saved state far under DynamoDB's 400 KB item limit."""
    from cost_janitor.core.idle import classify_instances
    from cost_janitor.core.policy import Policy
    from cost_janitor.slack_blocks import PER_MESSAGE, SUMMARY_PER_MESSAGE
    from tests.builders import NOW, make_instance, make_usage

    janitor()
    boxes = [make_instance(instance_id=f"i-{k:017x}", instance_type="g5.xlarge" if k % 3 else "m5.large",
                           tags={"environment": "dev", "owner": "ana@example.com", "Name": f"exp-{k:03d}"})
             for k in range(500)]
    findings = classify_instances(boxes, {b.instance_id: make_usage(cpu=1, gpus=[0.5] if b.instance_type.startswith(
        "g") else None) for b in boxes}, Policy(), now=NOW, run_id="run-500")
    assert sum(f.verdict == "idle" for f in findings) == 500
    state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    report = notifier.run(findings, Policy(), SlackGateway("xoxb-test", base_url=slack.api_url), state)
    assert not report.failed, report.failed
    posts = slack.of("chat.postMessage")
    cap = Policy().slack.max_messages_per_recipient
    assert len(posts) == (cap - 1) + -(-(500 - (cap - 1) * PER_MESSAGE) // SUMMARY_PER_MESSAGE) == 5
    named = [line.split("`")[1] for p in posts for b in p.args["blocks"] if b["type"] == "section"
             for line in b["text"]["text"].split("\n") if line.startswith("• `")]
    with_buttons = [b["block_id"].split(":", 1)[1] for p in posts for b in p.args["blocks"]
                    if b.get("block_id", "").startswith("actions:")]
    assert len(with_buttons) == (cap - 1) * PER_MESSAGE
    assert sorted(named + with_buttons) == sorted(f.resource_id for f in findings)  # each once, none lost
    assert all(len(p.args["blocks"]) <= 50 for p in posts)
    costliest = max(f.monthly_usd or 0 for f in findings)
    assert f"${costliest:,.0f}/month" in json.dumps(posts[0].args["blocks"])  # the costliest first, with buttons
    items = aws.client("dynamodb").scan(TableName=os.environ["LEDGER_TABLE"], ScanFilter={
        "sk": {"AttributeValueList": [{"S": "message"}], "ComparisonOperator": "EQ"}})["Items"]
    assert len(items) == 5
    assert max(len(json.dumps(i)) for i in items) < 400 * 1024 // 2  # at most half of DynamoDB's 400 KB


def test_the_standin_refuses_what_slack_refuses(slack: SlackStandIn) -> None:
    """The limits #27 holds the notifier to, as the stand-in enforces them (and so the tests above mean it)."""
    from slack_sdk.errors import SlackApiError

    gateway = SlackGateway("xoxb-test", base_url=slack.api_url)
    divider = {"type": "divider"}
    for blocks, error in (([divider] * 51, "invalid_blocks"),
                          ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}], "invalid_blocks")):
        with pytest.raises(SlackApiError, match=error):
            gateway.post("#ml-cost", {"text": "t", "blocks": blocks})
    with pytest.raises(SlackApiError, match="msg_too_long"):
        gateway.post("#ml-cost", {"text": "x" * 40_001, "blocks": [divider]})
    assert gateway.post("#ml-cost", {"text": "t", "blocks": [divider] * 50})[1]


def _owners_night(n: int) -> list[Any]:
    from cost_janitor.core.idle import classify_instances
    from cost_janitor.core.policy import Policy
    from tests.builders import NOW, make_instance, make_usage

    boxes = [make_instance(instance_id=f"i-{k:017x}", tags={"environment": "dev", "owner": f"user{k}@example.com"})
             for k in range(n)]
    return classify_instances(boxes, {b.instance_id: make_usage(cpu=1) for b in boxes}, Policy(), now=NOW,
                              run_id="busy-night")


def test_slacks_rate_limits_are_waited_out_and_what_is_left_resumes_on_redelivery_never_twice(
        aws: Any, janitor: Any) -> None:
    """#27: the stand-in enforces users.lookupByEmail's Tier 3 (50 a minute; here a minute is 3 s) and
    chat.postMessage's one a second per channel. 120 owners: with no waiting allowed, the owners still rate limited
    are handed back (as the Lambda hands their SQS messages back); each redelivery tells the rest; every owner gets
    exactly one message. (users.list answers 500 here: the one-by-one lookups are the path under test; the list's
    path is the test after the next.)"""
    from cost_janitor.core.policy import Policy

    janitor()
    slack = SlackStandIn(users={f"user{k}@example.com": f"U{k:08d}" for k in range(120)}, time_scale=20,
                         fail_method={"users.list": [500] * 20})
    try:
        findings = _owners_night(120)
        state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
        rounds, left = 0, findings
        while left:
            rounds += 1
            assert rounds <= 10, "never caught up"
            report = notifier.run(left, Policy(), SlackGateway("xoxb", base_url=slack.api_url,
                                                               max_rate_limit_retries=0), state)
            assert not report.failed, report.failed
            left = [f for f in left if f.resource_id in set(report.busy)]
            if left:
                time.sleep(1.0)  # the visibility timeout, compressed
        posts = slack.of("chat.postMessage")
        assert rounds > 1 and slack.throttled["users.lookupByEmail"] > 0  # the limit was met...
        assert sorted(p.args["channel"] for p in posts) == sorted(f"U{k:08d}" for k in range(120))  # ...once each
    finally:
        slack.stop()


def test_with_slack_sdks_waits_one_invocation_tells_every_owner_despite_429s(aws: Any, janitor: Any) -> None:
    from cost_janitor.core.policy import Policy

    janitor()
    slack = SlackStandIn(users={f"user{k}@example.com": f"U{k:08d}" for k in range(80)}, time_scale=20,
                         fail_method={"users.list": [500]})  # the lookups one by one (the list: the next test)
    try:
        state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
        report = notifier.run(_owners_night(80), Policy(), SlackGateway("xoxb", base_url=slack.api_url), state)
        assert not report.failed and not report.busy
        assert slack.throttled["users.lookupByEmail"] > 0 and len(slack.of("chat.postMessage")) == 80
    finally:
        slack.stop()


def test_many_owners_new_to_the_directory_are_found_in_one_users_list_walk_not_a_lookup_each(aws: Any,
                                                                                            janitor: Any) -> None:
    """#27 "email → user lookups are cached": an organization's first night has hundreds of owners the directory does
    not know; users.lookupByEmail (Tier 3, 50 a minute) would take minutes. One users.list walk (Tier 2, 200 members a
    page) finds them and the directory keeps every member, so the next night lists nobody and looks nobody up."""
    from cost_janitor.core.policy import Policy

    janitor()
    users = {f"user{k}@example.com": f"U{k:08d}" for k in range(300)}
    slack = SlackStandIn(users=users, time_scale=20)
    try:
        state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
        report = notifier.run(_owners_night(60), Policy(), SlackGateway("xoxb", base_url=slack.api_url,
                                                                         directory=state), state)
        assert report.messages_posted == 60 and not report.busy and not report.failed
        assert len(slack.of("users.list")) == 2 and slack.of("users.lookupByEmail") == []  # 300 members: 2 pages
        assert state.slack_user("user7@example.com", now=datetime.now(UTC)) == (True, "U00000007")
        assert state.slack_user("user299@example.com", now=datetime.now(UTC)) == (True, "U00000299")  # not an owner
        tomorrow = [f.model_copy(update={"run_id": "night-2", "resource_id": f"{f.resource_id}-2"})
                    for f in _owners_night(60)]
        notifier.run(tomorrow, Policy(), SlackGateway("xoxb", base_url=slack.api_url, directory=state), state)
        assert len(slack.of("users.list")) == 2 and slack.of("users.lookupByEmail") == []  # the directory's
        assert len(slack.of("chat.postMessage")) == 120
    finally:
        slack.stop()


def test_a_notifier_short_of_time_hands_back_what_it_did_not_start_and_the_redelivery_sends_only_that(
        aws: Any, janitor: Any, slack: SlackStandIn) -> None:
    """#27: the notifier's Lambda has a minute; with less than notifier.RESERVE_MS left nothing new starts, and what
    did not start goes back to SQS (busy). The redelivery tells the rest: every owner once, none twice."""
    from cost_janitor.core.policy import Policy

    janitor()
    state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    findings = [f.model_copy(update={"owner": owner}) for f, owner in zip(
        _owners_night(2), ["ana@example.com", "bo@example.com"], strict=True)]
    clock = iter([60_000, 60_000, 60_000, 5_000])  # ms left at each check: the second recipient is late
    first = notifier.run(findings, Policy().model_copy(update={"slack": Policy().slack.model_copy(
        update={"delivery_concurrency": 1})}), SlackGateway("xoxb", base_url=slack.api_url), state,
        remaining_ms=lambda: next(clock, 5_000))
    assert first.messages_posted == 1 and len(first.busy) == 1
    late = [f for f in findings if f.resource_id in first.busy]
    second = notifier.run(late, Policy(), SlackGateway("xoxb", base_url=slack.api_url), state,
                          remaining_ms=lambda: 60_000)
    assert second.messages_posted == 1 and not second.busy
    assert sorted(p.args["channel"] for p in slack.of("chat.postMessage")) == sorted([ANA, BO])
    nothing = notifier.run(findings, Policy(), SlackGateway("xoxb", base_url=slack.api_url), state)
    assert nothing.messages_posted == 0  # a third delivery of both: both already told


def test_owners_looked_up_once_are_remembered_across_nights_so_the_tier_3_limit_is_met_once(
        aws: Any, janitor: Any, slack: SlackStandIn) -> None:
    """users.lookupByEmail is Tier 3 (50 a minute): an organization's 800 owners looked up every night would take 16
    minutes. The notifier keeps email → user in the ledger (7 days; an email Slack does not know, 1 day): the second
    night looks nobody up; an unknown email is asked again once its day is over."""
    from cost_janitor.core.policy import Policy

    janitor()
    state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    findings = [f.model_copy(update={"owner": owner}) for f, owner in zip(
        _owners_night(3), ["ana@example.com", "bo@example.com", "nobody@example.com"], strict=True)]
    for night_ in range(2):
        gateway = SlackGateway("xoxb", base_url=slack.api_url, directory=state)
        tonight = [f.model_copy(update={"run_id": f"night-{night_}", "resource_id": f"{f.resource_id}-{night_}"})
                   for f in findings]  # new boxes each night: all told
        report = notifier.run(tonight, Policy(), gateway, state)
        assert report.messages_posted == 3
    looked_up = [c.args["email"] for c in slack.of("users.lookupByEmail")]
    assert sorted(looked_up) == ["ana@example.com", "bo@example.com", "nobody@example.com"]  # the first night only
    assert state.slack_user("ana@example.com", now=datetime.now(UTC)) == (True, ANA)
    assert state.slack_user("nobody@example.com", now=datetime.now(UTC)) == (True, None)
    assert state.slack_user("nobody@example.com", now=datetime.now(UTC) + timedelta(days=2)) == (False, None)


def test_a_later_batch_of_the_run_is_a_thread_reply_and_a_redelivered_one_sends_nothing(
        aws: Any, janitor: Any, slack: SlackStandIn) -> None:
    """#27's organization night: an owner's findings arrive in several batches of one run. The first batch posts;
    a later one replies in that message's thread (chat.postMessage, limited per channel) instead of updating it
    (chat.update, limited per workspace); a batch SQS delivers twice sends nothing the second time."""
    from cost_janitor.core.policy import Policy

    janitor()
    state = SlackState(aws.client("dynamodb"), os.environ["LEDGER_TABLE"])
    findings = [f.model_copy(update={"owner": "ana@example.com"}) for f in _owners_night(3)]
    gateway = SlackGateway("xoxb", base_url=slack.api_url, directory=state)
    first = notifier.run(findings[:1], Policy(), gateway, state)
    later = notifier.run(findings[1:], Policy(), gateway, state)
    again = notifier.run(findings[1:], Policy(), gateway, state)
    assert (first.messages_posted, later.messages_posted, again.messages_posted) == (1, 1, 0)
    top, reply = slack.of("chat.postMessage")
    assert "thread_ts" not in top.args and reply.args["thread_ts"] == message_to(slack, ANA)[1]
    assert not slack.of("chat.update")


def test_the_stand_in_enforces_chat_update_and_views_open_tiers_and_the_view_size() -> None:
    """#27: chat.update is Tier 3 (50 a minute) and views.open Tier 4 (100 a minute) on their reference pages; over
    them Slack answers 429 with Retry-After; a view over 250 kB is view_too_large. A client without slack-sdk's
    retry handlers meets them; the janitor's gateway waits them out."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    slack, fast = SlackStandIn(), SlackStandIn(time_scale=60.0)  # real minutes; a minute in 1 s
    try:
        bare = WebClient(token="xoxb", base_url=slack.api_url)
        bare.retry_handlers.clear()

        def statuses(method: str, n: int, **args: Any) -> list[int]:
            out = []
            for _ in range(n):
                try:
                    bare.api_call(method, json=args)
                    out.append(200)
                except SlackApiError as exc:
                    out.append(exc.response.status_code)
            return out

        updates = statuses("chat.update", 55, channel="D0ANA0001", ts="1.000001", text="x")
        assert updates.count(200) >= 50 and 429 in updates and slack.throttled["chat.update"] > 0
        views = statuses("views.open", 105, trigger_id="1.2.abc", view={"type": "modal", "blocks": []})
        assert views.count(200) >= 100 and 429 in views and slack.throttled["views.open"] > 0
        huge = {"type": "modal", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}] * 90}
        with pytest.raises(SlackApiError, match="view_too_large"):  # a fresh workspace: under its limit
            WebClient(token="xoxb", base_url=fast.api_url).api_call("views.open", json={"trigger_id": "1.2.abc",
                                                                                    "view": huge})
        gateway = SlackGateway("xoxb", base_url=fast.api_url)
        for _ in range(60):  # over a minute's 50: slack-sdk's handler waits out each Retry-After
            gateway.update("D0ANA0001", "1.000001", {"text": "y", "blocks": []})
        assert fast.throttled["chat.update"] > 0 and len(fast.of("chat.update")) == 60
    finally:
        slack.stop()
        fast.stop()
