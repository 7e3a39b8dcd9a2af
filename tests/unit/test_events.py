"""Every sample in events/ parses with its model (*/invalid/ samples are rejected), so a stale sample fails CI."""

from __future__ import annotations

import json
from fnmatch import fnmatch
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel
from pydantic import BaseModel

from cost_janitor.core.errors import BadEventError
from cost_janitor.events import (
    CloudTrailApiCall,
    FindingsDocument,
    FindingsQueueEvent,
    ReportEvent,
    ScheduledEvent,
    SlackInteraction,
    SpotEvent,
    parse_event,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
MODELS: dict[str, type[BaseModel]] = {
    "eventbridge/scheduled_*.json": ScheduledEvent,
    "eventbridge/spot_*.json": SpotEvent,
    "eventbridge/ec2_state_change_*.json": ReportEvent,
    "sqs/findings_*.json": FindingsQueueEvent,
    "slack/*.json": SlackInteraction,
    "function_url/slack_*.json": LambdaFunctionUrlModel,
    "cloudtrail/*.json": CloudTrailApiCall,
}


def _samples() -> list[Path]:
    return sorted(EVENTS.rglob("*.json"))


def _model_for(relative: str) -> type[BaseModel]:
    """SOURCE/NAME.json and SOURCE/invalid/NAME.json share a model; invalid ones must be rejected by it."""
    key = relative.replace("/invalid/", "/")
    matches = [m for glob, m in MODELS.items() if fnmatch(key, glob)]
    assert len(matches) == 1, f"{relative}: matched by {len(matches)} model patterns; add it to MODELS"
    return matches[0]


@pytest.mark.parametrize("path", _samples(), ids=lambda p: str(p.relative_to(EVENTS)))
def test_sample_event_matches_its_model(path: Path) -> None:
    relative = str(path.relative_to(EVENTS))
    model = _model_for(relative)
    event = json.loads(path.read_text())
    if "/invalid/" in relative:
        with pytest.raises(BadEventError, match=model.__name__):
            parse_event(model, event)
    else:
        assert isinstance(parse_event(model, event), model)


def test_schedule_event_without_detail_is_accepted() -> None:
    event = json.loads((EVENTS / "eventbridge/scheduled_nightly_sweep.json").read_text())
    del event["detail"]
    assert parse_event(ScheduledEvent, event).detail.regions == []


@pytest.mark.parametrize("mutation, reason", [
    ({"detail-type": "Object Created"}, "detail-type"),
    ({"detail": {"regions": "us-east-1"}}, "detail.regions"),
    ({"detail": {"dry_run": False}}, "detail.dry_run"),
    ({"time": "yesterday"}, "time"),
], ids=["wrong-detail-type", "regions-not-a-list", "dry-run-cannot-come-from-an-event", "bad-time"])
def test_malformed_scheduled_event_is_rejected_with_the_field_named(mutation: dict[str, object], reason: str) -> None:
    event = json.loads((EVENTS / "eventbridge/scheduled_nightly_sweep.json").read_text())
    event.update(mutation)
    with pytest.raises(BadEventError, match=reason):
        parse_event(ScheduledEvent, event)


def test_findings_queue_sample_bodies_are_findings_documents() -> None:
    event = parse_event(FindingsQueueEvent, json.loads((EVENTS / "sqs/findings_batch.json").read_text()))
    [doc] = [FindingsDocument.model_validate_json(str(r.body)) for r in event.Records]
    assert doc.findings[0].action == "ask-justification"
