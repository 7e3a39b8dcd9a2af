"""One pydantic model per inbound event shape. Every file in events/ is parsed by a test."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsModel
from pydantic import BaseModel, ConfigDict, Field, Json, RootModel, ValidationError

from cost_janitor.core.errors import BadEventError
from cost_janitor.core.models import Finding, Started


class SweepRequest(BaseModel):
    """The detail of a scheduled sweep; empty from a schedule, or narrowed by hand (`regions`)."""

    model_config = ConfigDict(extra="forbid")

    regions: list[str] = Field(default_factory=list)


class ScheduledEvent(EventBridgeModel):
    """EventBridge 'Scheduled Event' (rules) or EventBridge Scheduler's equivalent."""

    source: Literal["aws.events", "aws.scheduler", "cost-janitor.cli"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: SweepRequest = Field(default_factory=SweepRequest)


class SpotWarningDetail(BaseModel):
    instance_id: str = Field(alias="instance-id", pattern=r"^i-[0-9a-f]{8,17}$")
    instance_action: Literal["terminate", "stop", "hibernate"] = Field(alias="instance-action")


class RebalanceDetail(BaseModel):
    instance_id: str = Field(alias="instance-id", pattern=r"^i-[0-9a-f]{8,17}$")


class SpotInterruptionWarning(EventBridgeModel):
    """EC2 Spot Instance Interruption Warning (the 2-minute notice)."""

    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Spot Instance Interruption Warning"] = Field(alias="detail-type")
    detail: SpotWarningDetail


class RebalanceRecommendation(EventBridgeModel):
    """EC2 Instance Rebalance Recommendation (elevated risk, no deadline)."""

    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Instance Rebalance Recommendation"] = Field(alias="detail-type")
    detail: RebalanceDetail


class SpotEvent(RootModel[Annotated[SpotInterruptionWarning | RebalanceRecommendation,
                                    Field(discriminator="detail_type")]]):
    """Either spot event the spot_interruption Lambda receives."""


class CloudTrailDetail(BaseModel):
    """The CloudTrail record inside an "AWS API Call via CloudTrail" event (only the fields the janitor reads)."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: str = Field(alias="eventID")
    event_source: str = Field(alias="eventSource")
    event_name: str = Field(alias="eventName")
    aws_region: str = Field(alias="awsRegion")
    user_identity: dict[str, Any] = Field(alias="userIdentity")
    request_parameters: dict[str, Any] | None = Field(None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(None, alias="responseElements")
    error_code: str | None = Field(None, alias="errorCode")
    recipient_account_id: str | None = Field(None, alias="recipientAccountId")


class CloudTrailApiCall(EventBridgeModel):
    """EventBridge "AWS API Call via CloudTrail" (creation calls, for tag compliance)."""

    detail_type: Literal["AWS API Call via CloudTrail"] = Field(alias="detail-type")
    detail: CloudTrailDetail


class CreationQueueEvent(SqsModel):
    """SQS (the delay queue) → Lambda batch; each body is a CloudTrailApiCall, parsed one by one."""


class StateChangeDetail(BaseModel):
    instance_id: str = Field(alias="instance-id", pattern=r"^i-[0-9a-f]{8,17}$")
    state: str


class Ec2StateChange(EventBridgeModel):
    """EC2 Instance State-change Notification (a stopped box started again ends its savings)."""

    source: Literal["aws.ec2"]
    detail_type: Literal["EC2 Instance State-change Notification"] = Field(alias="detail-type")
    detail: StateChangeDetail


class StartedDetail(BaseModel):
    started: list[Started] = Field(min_length=1, max_length=500)


class StartedAgain(EventBridgeModel):
    """A member's resources started again (seen by its nightly sweep, in any region), forwarded to the hub's bus;
    EventBridge stamps `account` with the sender's."""

    source: Literal["cost-janitor"]
    detail_type: Literal["cost-janitor resource started again"] = Field(alias="detail-type")
    detail: StartedDetail


class ReportEvent(RootModel[Annotated[ScheduledEvent | Ec2StateChange | StartedAgain,
                                      Field(discriminator="detail_type")]]):
    """What the report Lambda receives: its weekly schedule, instance state changes, or members' restarts."""


class FindingsDocument(BaseModel):
    """One findings message from the topic (the SQS body, raw delivery): the versioned contract."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["cost-janitor/finding/v1", "cost-janitor/finding/v2"] = Field(alias="schema")  # v1: in flight
    run_id: str
    findings: list[Finding] = Field(min_length=1)


class BusEnvelope(BaseModel):
    """A findings batch as the hub's bus delivers it to the notifier's queue (organization mode): EventBridge sets
    `account` to the account that put the event, so a member cannot speak for another."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    detail_type: Literal["cost-janitor findings"] = Field(alias="detail-type")
    source: Literal["cost-janitor"]
    account: str = Field(pattern=r"^\d{12}$")
    detail: FindingsDocument


def findings_message(body: str) -> tuple[FindingsDocument, str | None]:
    """A findings message from the notifier's queue: the topic's raw body, or the hub bus's event (then also the
    sending account). Anything else raises pydantic's ValidationError."""
    try:
        data = json.loads(body)
    except ValueError:
        return FindingsDocument.model_validate_json(body), None  # raises ValidationError naming the JSON problem
    if isinstance(data, dict) and "detail-type" in data:
        envelope = BusEnvelope.model_validate(data)
        return envelope.detail, envelope.account
    return FindingsDocument.model_validate(data), None


class FindingsQueueEvent(SqsModel):
    """SQS → Lambda batch of findings messages; bodies are parsed one by one so one bad body fails alone."""


class SlackUser(BaseModel):
    id: str


class SlackContainer(BaseModel):
    channel_id: str
    message_ts: str


class SlackButtonValue(BaseModel):
    """The JSON the janitor put in a button's value: the resource, its region, and what the button's modal shows
    (the longest keep, the tags to ask for and their allowed values)."""

    resource: str = Field(max_length=2048)
    region: str = Field("", max_length=64)
    max_days: int | None = Field(None, ge=1, le=365)
    keys: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list, max_length=50)
    allowed: dict[str, list[Annotated[str, Field(max_length=256)]]] = Field(default_factory=dict)


class SlackViewMetadata(BaseModel):
    """The JSON the janitor put in a modal's private_metadata: the resource and the message it came from."""

    resource: str = Field(max_length=2048)
    region: str = Field("", max_length=64)
    channel: str = Field(max_length=64)
    ts: str = Field(max_length=64)


class SlackAction(BaseModel):
    action_id: str
    action_ts: str
    value: Json[SlackButtonValue] | None = None  # a link button carries none


class SlackBlockActions(BaseModel):
    """A button click (Slack interactivity payload, type block_actions)."""

    type: Literal["block_actions"]
    user: SlackUser
    trigger_id: str
    response_url: str = Field(pattern=r"^https?://[^\s]+$")
    container: SlackContainer
    actions: list[SlackAction] = Field(min_length=1)


class SlackView(BaseModel):
    id: str
    callback_id: Literal["keep", "reassign", "fix_tags"]
    private_metadata: Json[SlackViewMetadata]
    state: dict[str, Any]


class SlackViewSubmission(BaseModel):
    """A modal submitted (Slack interactivity payload, type view_submission)."""

    type: Literal["view_submission"]
    user: SlackUser
    view: SlackView


class AnswersQueueEvent(SqsModel):
    """SQS → the answers Lambda: each body is a SlackInteraction the interactivity endpoint accepted."""


class SlackInteraction(RootModel[Annotated[SlackBlockActions | SlackViewSubmission, Field(discriminator="type")]]):
    """What Slack posts to the interactivity URL, as the JSON in its `payload` form field."""


def parse_event(model: type[BaseModel], event: Any) -> Any:
    """Validate an event at the edge; a mismatch is a BadEventError with pydantic's reasons, not a crash."""
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())
        raise BadEventError(f"{model.__name__} rejected the event: {reasons}") from None
