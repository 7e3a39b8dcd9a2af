"""The findings contract on SNS: one attribute set per message, under the size limit, readable by email."""

from __future__ import annotations

import json

from cost_janitor.adapters.sns import MAX_MESSAGE_BYTES, render_messages
from cost_janitor.core.idle import classify_instances
from cost_janitor.core.models import FINDING_SCHEMA, Finding
from cost_janitor.core.policy import Policy
from tests.builders import NOW, make_instance, make_usage


def _findings(n: int, gpus: list[float] | None = None, **instance: object) -> list[Finding]:
    instances = [make_instance(instance_id=f"i-{k:017x}", **instance) for k in range(n)]
    return classify_instances(instances, {i.instance_id: make_usage(cpu=1, gpus=gpus) for i in instances}, Policy(),
                              now=NOW, run_id="run-1")


def test_thousands_of_findings_are_chunked_under_the_sns_limit_and_none_is_lost() -> None:
    findings = _findings(3000, gpus=[1.0], instance_type="g5.xlarge", tags={"environment": "dev", "owner": "a" * 200})
    findings = [f.model_copy(update={"reason": f.reason + " " + "x" * 300}) for f in findings]
    messages = render_messages(findings, run_id="run-1")
    assert len(messages) > 1
    seen = []
    for _attrs, subject, message in messages:
        assert len(message.encode()) < MAX_MESSAGE_BYTES - 1024
        assert len(subject) < 100 and "\n" not in subject
        body = json.loads(json.loads(message)["default"])
        assert body["schema"] == FINDING_SCHEMA and body["run_id"] == "run-1"
        seen += [f["resource_id"] for f in body["findings"]]
    assert sorted(seen) == sorted(f.resource_id for f in findings)


def test_each_message_holds_one_attribute_set_so_subscription_filters_work() -> None:
    findings = _findings(3) + _findings(2, tags={"environment": "prod"})
    messages = render_messages(findings, run_id="run-1")
    assert sorted((a["environment"], a["action"]) for a, _, _ in messages) == [
        ("dev", "mark-idle"), ("prod", "ask-justification")]
    for attrs, _, message in messages:
        for f in json.loads(json.loads(message)["default"])["findings"]:
            assert (f["environment"], f["action"], f["kind"], f["severity"]) == (
                attrs["environment"], attrs["action"], attrs["kind"], attrs["severity"])


def test_email_subscribers_get_a_readable_body() -> None:
    [(_, subject, message)] = render_messages(_findings(1, gpus=[2.0], instance_type="g5.xlarge"), run_id="run-1")
    text = json.loads(message)["email"]
    assert subject.startswith("cost-janitor: 1 idle-instance finding(s), dev, action mark-idle, ~$734/month")
    assert "i-00000000000000000 (g5.xlarge, us-east-1, dev, owner ana@example.com): idle" in text
    assert "$734.38/month" in text
