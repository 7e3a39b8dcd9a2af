"""Signed Slack form posts with broken payloads, against the moto server and the Slack stand-in: whatever the
payload, the answer is 2xx or 4xx — never a 5xx or a crash — and a resource its clicker does not own is left
exactly as it was. (Bad signatures, replays, methods and sizes are in tests/integration/test_slack_interactivity.py.)"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_janitor.adapters.ledger import MessageState, SlackState
from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.policy import Policy
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.slack_standin import SlackStandIn
from cost_janitor.settings import Settings
from tests.hardening.test_hostile_input import json_values
from tests.integration.fleet import Fleet
from tests.integration.slack_helpers import click, deliver, signed_request, submit_keep, submit_reassign

ANA, STRANGER = "U0ANA0001", "U0ZED0001"
CHANNEL, TS = "D0ANA0001", "1764300000.000001"
POLICY = Policy.model_validate({"slack": {"admins": ["U0ADMIN01"]}})
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def world(aws: LocalAws, janitor: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Ana's idle dev box, announced to her in a message the janitor remembers; a stranger does the clicking."""
    janitor(POLICY)
    monkeypatch.setenv("COST_JANITOR_DRY_RUN", "false")
    slack = SlackStandIn(users={"ana@example.com": ANA})
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    fleet = Fleet(aws, END)
    fleet.add("ana-dev", "m5.large", {"environment": "dev", "team": "vision", "owner": "ana@example.com"}, cpu=1.0)
    fleet.done()
    [finding] = idle_sweep.run(POLICY, Settings.from_env(), now=END, run_id="run-1", dry_run=False).findings
    SlackState(aws.client("dynamodb"), str(Settings.from_env().ledger_table)).save_message(
        MessageState(channel=CHANNEL, ts=TS, run_id="run-1", recipient=ANA, findings=[finding]))
    resource = fleet.ids["ana-dev"]
    where = {"resource": resource, "user": STRANGER, "channel": CHANNEL, "ts": TS}
    bases = [click(action, response_url=slack.response_url(), **where)
             for action in ("keep", "snooze", "stop_now", "not_mine", "fix_tags")]
    bases += [submit_keep(reason="I need it for the demo on Friday", **where),
              submit_reassign(new_owner=STRANGER, **where)]
    owner = {**where, "user": ANA}
    fix_tags = submit_keep(reason="-", view_id="V0TAGS0001", **owner)
    fix_tags["view"]["callback_id"] = "fix_tags"
    fix_tags["view"]["state"] = {"values": {
        "tag:project": {"value": {"type": "plain_text_input", "value": "detector"}},
        "tag:environment": {"value": {"type": "static_select", "selected_option": {"value": "dev"}}}}}
    answers = [submit_keep(reason="I need it for the demo on Friday", **owner), fix_tags,
               submit_reassign(new_owner=ANA, **owner)] + [
        click(action, response_url=slack.response_url(), **owner) for action in ("keep", "snooze", "not_mine")]
    yield {"fleet": fleet, "slack": slack, "bases": bases, "answers": answers,
           "before": (fleet.tags("ana-dev"), fleet.state("ana-dev"))}
    slack.stop()


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        yield from _leaves(child, (*path, key))


def _mutate(payload: dict[str, Any], data: st.DataObject) -> Any:
    """One change somewhere: a value replaced by any JSON, a key removed, or a JSON-in-a-string field (button
    values, private_metadata) replaced by other JSON."""
    paths = [p for p in _leaves(payload) if p]
    path = data.draw(st.sampled_from(paths))
    parent = payload
    for key in path[:-1]:
        parent = parent[key]
    how = data.draw(st.sampled_from(["replace", "delete", "json-string"]))
    if how == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif how == "json-string":
        parent[path[-1]] = json.dumps(data.draw(json_values))
    else:
        parent[path[-1]] = data.draw(json_values)
    return payload


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_broken_payload_is_answered_2xx_or_4xx_and_changes_nothing(world: dict[str, Any],
                                                                      data: st.DataObject) -> None:
    payload = _mutate(copy.deepcopy(data.draw(st.sampled_from(world["bases"]))), data)
    body = data.draw(st.sampled_from([
        "payload=" + urllib.parse.quote(json.dumps(payload)),
        "payload=" + urllib.parse.quote(json.dumps(payload))[: len(json.dumps(payload)) // 2],  # cut short
        urllib.parse.urlencode({"payload": json.dumps(payload), "payload2": "x"}),
        json.dumps(payload),  # JSON where a form belongs
    ]))
    response = deliver(signed_request(body=body))
    assert 200 <= response["statusCode"] < 500, response
    assert (world["fleet"].tags("ana-dev"), world["fleet"].state("ana-dev")) == world["before"]


def test_the_unbroken_payloads_are_refused_to_the_stranger(world: dict[str, Any]) -> None:
    """The bases themselves: well-formed, signed, and still changing nothing (the property test's baseline)."""
    for payload in world["bases"]:
        response = deliver(signed_request(payload))
        assert response["statusCode"] == 200
    assert (world["fleet"].tags("ana-dev"), world["fleet"].state("ana-dev")) == world["before"]
    slack = world["slack"]
    # Clicks that act are refused at once (snooze, stop now); those that open a form open it — the endpoint has
    # 3 seconds and reads nothing — and the form is refused when it comes back (both submissions here).
    refusals = [c for c in slack.of("response_url") if "Only the owner" in str(c.args.get("text"))]
    assert len(refusals) == 2
    assert sorted(c.args["view"]["callback_id"] for c in slack.of("views.open")) == ["fix_tags", "keep", "reassign"]
    refused_forms = [c for c in slack.of("chat.postEphemeral") if c.args["user"] == STRANGER]
    assert len(refused_forms) == 2 and all("You cannot answer" in c.args["text"] for c in refused_forms)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_owners_answers_broken_anywhere_are_answered_2xx_or_4xx(world: dict[str, Any],
                                                                   data: st.DataObject) -> None:
    """The owner gets past authorisation, so this reaches the modal-state parsing the stranger never does."""
    payload = _mutate(copy.deepcopy(data.draw(st.sampled_from(world["answers"]))), data)
    unique = data.draw(st.uuids()).hex  # a fresh view id / action ts, so idempotency does not answer from cache
    if isinstance(payload.get("view"), dict):
        payload["view"]["id"] = unique
    if isinstance(payload.get("actions"), list) and payload["actions"] and isinstance(payload["actions"][0], dict):
        payload["actions"][0]["action_ts"] = unique
    response = deliver(signed_request(payload))
    assert 200 <= response["statusCode"] < 500, response
    assert world["fleet"].state("ana-dev") == "running"  # no answer here stops anything
