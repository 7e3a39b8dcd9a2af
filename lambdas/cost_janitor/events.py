"""One pydantic model per inbound event shape. Every file in events/ is parsed by a test."""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cost_janitor.errors import BadEventError


class SweepRequest(BaseModel):
    """The detail of a scheduled sweep; empty from a schedule, or narrowed by hand (`regions`)."""

    model_config = ConfigDict(extra="forbid")

    regions: list[str] = Field(default_factory=list)


class ScheduledEvent(EventBridgeModel):
    """EventBridge 'Scheduled Event' (rules) or EventBridge Scheduler's equivalent."""

    source: Literal["aws.events", "aws.scheduler", "cost-janitor.cli"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: SweepRequest = Field(default_factory=SweepRequest)


def parse_event(model: type[BaseModel], event: Any) -> Any:
    """Validate an event at the edge; a mismatch is a BadEventError with pydantic's reasons, not a crash."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())
        raise BadEventError(f"{model.__name__} rejected the event: {reasons}") from None
