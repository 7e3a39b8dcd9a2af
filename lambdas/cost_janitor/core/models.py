"""Core data: what adapters read, what decisions return, what the executor reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FINDING_SCHEMA = "cost-janitor/finding/v2"  # v2: resource_type is the AWS type; instance_type added


class FindingKind(StrEnum):
    """What a finding is about; the dashboard's breakdown and the Slack blocks use these, not literals."""

    IDLE_INSTANCE = "idle-instance"
    LIFECYCLE = "lifecycle"
    UNATTACHED_VOLUME = "unattached-volume"
    OLD_SNAPSHOT = "old-snapshot"
    LOG_RETENTION = "log-retention"
    TAG_COMPLIANCE = "tag-compliance"
    SPOT_INTERRUPTION = "spot-interruption"
    IDLE_ENDPOINT = "idle-endpoint"  # SageMaker real-time endpoints
    NOTEBOOK = "notebook-instance"  # SageMaker notebook instances left running
    STUDIO_DOMAIN = "studio-domain"  # SageMaker Studio domains without idle shutdown
    STUDIO_APP = "studio-app"  # Studio apps running on GPU/accelerator instances
    IDLE_ADDRESS = "idle-address"  # Elastic IP addresses associated with nothing
    EKS_GPU = "eks-gpu"  # EKS: GPU node groups and nodes, namespaces' requests, clusters without Container Insights
    ECR = "ecr"  # ECR repositories: old untagged images, images nobody pulls
    EFS = "efs"  # EFS file systems: idle ones, and lifecycle management merged into the team's
    AMI = "ami"  # AMIs nobody launches, and their snapshots
    FSX = "fsx"  # FSx for Lustre file systems left idle
    EGRESS = "egress"  # network: NAT gateways carrying S3/DynamoDB, idle NAT gateways, regions and zones crossed


class SpotEvent(StrEnum):
    """The spot event a finding answers (its evidence['event'])."""

    WARNING = "warning"
    REBALANCE = "rebalance"


class Verdict(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
    INSUFFICIENT_DATA = "insufficient-data"
    GPU_METRICS_MISSING = "gpu-metrics-missing"
    ACCELERATOR_NOT_MEASURED = "accelerator-not-measured"
    EXEMPT = "exempt"
    NOT_STOPPABLE = "not-stoppable"
    NOT_EVALUATED = "not-evaluated"
    AT_RISK = "at-risk"  # EC2 will (warning) or may soon (rebalance) take a spot instance back
    GONE = "gone"
    CHANGE_PROPOSED = "change-proposed"
    CONFLICT = "conflict"
    COMPLIANT = "compliant"
    UNATTACHED = "unattached"
    UNUSED = "unused"
    NO_RETENTION = "no-retention"
    NON_COMPLIANT = "non-compliant"
    UNDERUSED = "underused"  # serving traffic on accelerators that stay mostly unused: smaller, fewer, serverless
    SERVERLESS = "serverless"  # billed per use: reported, never idle for money
    LEFT_RUNNING = "left-running"  # a notebook instance in service past the policy's hours (no utilisation metric)
    STARTED_RECENTLY = "started-recently"
    NO_AUTO_STOP = "no-auto-stop"  # a notebook instance without an idle auto-stop lifecycle configuration
    # no signal the janitor can read for this resource (no series at all, a kind that publishes other metrics):
    # never idle, nothing marked, stopped or deleted; the owner may be asked to look
    CANNOT_JUDGE = "cannot-judge"
    # a Kubernetes node (EKS managed node group, Karpenter, any cluster-tagged instance): its controller owns it, so
    # the EC2 sweep never marks or stops it; the cluster's own metrics judge it
    CLUSTER_NODE = "cluster-node"
    NO_IDLE_SHUTDOWN = "no-idle-shutdown"  # a Studio domain whose JupyterLab / Code Editor apps never shut down
    OVER_REQUESTED = "over-requested"  # a namespace's requests far above what it uses
    NEVER_SCALED_DOWN = "never-scaled-down"  # a node group whose desired size never went below its peak
    HELD_AT_MIN = "held-at-min"  # a dev node group held at minSize > 0 while nothing wants its GPUs at night
    NO_CONTAINER_INSIGHTS = "no-container-insights"  # an EKS cluster publishing no Container Insights metrics
    ACCELERATOR_APP_RUNNING = "accelerator-app-running"  # a Studio app on a GPU/accelerator instance, for hours
    VIA_NAT = "via-nat"  # S3/DynamoDB traffic that a free gateway endpoint would carry goes through a NAT gateway
    CROSSES_REGIONS = "crosses-regions"  # data transfer between two regions (Cost Explorer), with likely resources
    CROSSES_ZONES = "crosses-zones"  # data transfer between availability zones of a region (Cost Explorer)


class ActionKind(StrEnum):
    """Things the executor does to a resource. Each has one executor function and one IAM statement."""

    MARK_IDLE = "mark-idle"
    UNMARK_IDLE = "unmark-idle"
    STOP = "stop"
    HIBERNATE = "hibernate"
    TAG_GPU_AGENT = "tag-gpu-agent"
    CHECKPOINT = "checkpoint"
    PUT_LIFECYCLE = "put-lifecycle"
    MARK_UNATTACHED = "mark-unattached"
    SNAPSHOT_VOLUME = "snapshot-volume"
    DELETE_VOLUME = "delete-volume"
    SET_LOG_RETENTION = "set-log-retention"
    TAG_CREATED_BY = "tag-created-by"
    # an owner's answers in Slack: actions like any other (executor, permissions, audit record)
    KEEP = "keep"
    SNOOZE = "snooze"
    REASSIGN = "reassign"
    SET_TAGS = "set-tags"
    # SageMaker: the endpoint goes, its EndpointConfig and Model stay (recorded), so it can be restored
    DELETE_ENDPOINT = "delete-endpoint"
    RESTORE_ENDPOINT = "restore-endpoint"
    STOP_NOTEBOOK = "stop-notebook"
    ENABLE_IDLE_SHUTDOWN = "enable-idle-shutdown"  # a Studio domain's JupyterLab / Code Editor idle shutdown
    DELETE_APP = "delete-app"  # a Studio app (its space and storage remain)
    SCALE_NODEGROUP = "scale-nodegroup"  # an EKS managed node group's minSize and desiredSize to 0 (maxSize kept)
    DEREGISTER_IMAGE = "deregister-image"  # an unused dev AMI, its own snapshots into the Recycle Bin
    DELETE_FILE_SYSTEM = "delete-file-system"  # an idle persistent FSx for Lustre file system, with a final backup
    SET_ECR_LIFECYCLE = "set-ecr-lifecycle"  # the janitor's untagged-image rule, merged into a repository's policy
    SET_EFS_LIFECYCLE = "set-efs-lifecycle"  # an EFS file system's lifecycle transitions, merged into the team's
    CREATE_GATEWAY_ENDPOINT = "create-gateway-endpoint"  # a VPC's free S3/DynamoDB gateway endpoint, on its NAT routes


STOPS = (ActionKind.STOP, ActionKind.HIBERNATE)  # the actions that take a machine away from its owner
# every action that ends a resource's hourly bill until someone brings it back (realized savings count from it)
SAVINGS_ACTIONS = (*STOPS, ActionKind.DELETE_ENDPOINT, ActionKind.STOP_NOTEBOOK, ActionKind.DELETE_APP,
                   ActionKind.SCALE_NODEGROUP, ActionKind.DELETE_FILE_SYSTEM, ActionKind.DEREGISTER_IMAGE)


def partition(region: str) -> str:
    """The ARN partition of a region: aws-cn for China, aws-us-gov for GovCloud, aws otherwise."""
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def arn(service: str, region: str, account: str, resource: str) -> str:
    """An ARN in the region's partition (S3 buckets: region and account empty)."""
    return f"arn:{partition(region)}:{service}:{'' if service == 's3' else region}:{account}:{resource}"


CONSOLES = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn",
            "aws-us-gov": "console.amazonaws-us-gov.com"}


def dashboard_url(region: str, name: str) -> str:
    """The CloudWatch console's page for a dashboard, in the region's partition."""
    return f"https://{CONSOLES[partition(region)]}/cloudwatch/home?region={region}#dashboards:name={name}"


class Ask(StrEnum):
    """Things only a person can do; carried by a finding to the notifier."""

    JUSTIFY = "ask-justification"
    INSTALL_GPU_AGENT = "install-gpu-agent"
    REVIEW = "review"
    FIX_TAGS = "fix-tags"
    RIGHT_SIZE = "right-size"  # an endpoint serving traffic on more accelerator than it uses


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Instance(_Frozen):
    """A running EC2 instance, as the inventory adapter reads it."""

    instance_id: str
    region: str
    account: str
    instance_type: str
    launch_time: datetime
    tags: dict[str, str] = Field(default_factory=dict)
    lifecycle: Literal["on-demand", "spot", "scheduled", "capacity-block"] = "on-demand"
    spot_request_type: Literal["one-time", "persistent"] | None = None
    root_device_type: Literal["ebs", "instance-store"] = "ebs"
    asg_name: str | None = None
    hibernation_configured: bool = False
    availability_zone: str | None = None
    state: str = "running"
    stop_protected: bool | None = None  # DisableApiStop; None: not read (it is read only for stop/mark candidates)

    @property
    def family(self) -> str:
        return self.instance_type.split(".", 1)[0]

    @property
    def arn(self) -> str:
        return arn("ec2", self.region, self.account, f"instance/{self.instance_id}")


class Series(_Frozen):
    """One CloudWatch series over the window, summarised as it is read: bit n of `mask` says period n of the
    window has a datapoint; `total` and `maximum` are over those datapoints. A summary keeps a 10,000-instance
    fleet's week of metrics in a few MB, and is all the idle decision needs (coverage, average, sum, max)."""

    mask: int = 0
    total: float = 0.0
    maximum: float | None = None

    @property
    def points(self) -> int:
        return self.mask.bit_count()

    @classmethod
    def of(cls, points: Iterable[tuple[int, float]]) -> Series:
        """From (period index, value) pairs."""
        mask, total, maximum = 0, 0.0, None
        for index, value in points:
            mask |= 1 << index
            total += value
            maximum = value if maximum is None or value > maximum else maximum
        return cls(mask=mask, total=total, maximum=maximum)


class Usage(_Frozen):
    """The metrics read for one instance. None means 'not read'; an empty Series means 'read, no data'."""

    cpu: Series | None = None
    network_in: Series | None = None
    network_out: Series | None = None
    gpu_util: tuple[Series, ...] | None = None
    gpu_memory: tuple[Series, ...] | None = None


class ActionResult(_Frozen):
    """What the executor did with one planned action."""

    kind: ActionKind
    resource_id: str
    region: str
    status: Literal["done", "dry-run", "failed", "skipped"]
    error_code: str | None = None
    message: str = ""


class Finding(_Frozen):
    """One resource's verdict with its reason, evidence and dollars — the versioned SNS contract."""

    schema_: str = Field(FINDING_SCHEMA, alias="schema")
    kind: FindingKind
    resource_id: str
    resource_arn: str
    resource_type: str  # the AWS resource type, service:type ("ec2:instance", "s3:bucket")
    instance_type: str | None = None  # the instance type, for instances ("g5.xlarge")
    name: str | None = None
    account: str
    region: str
    owner: str | None = None
    team: str | None = None
    environment: str
    verdict: Verdict
    reason: str
    evidence: dict[str, float | int | str | None] = Field(default_factory=dict)
    notes: tuple[str, ...] = ()
    monthly_usd: float | None = None
    price_source: str | None = None
    action: ActionKind | Ask | None = None
    action_status: Literal["planned", "done", "dry-run", "failed", "skipped"] | None = None
    action_error: str | None = None
    act_after: datetime | None = None
    severity: Literal["info", "low", "medium", "high"] = "info"
    run_id: str = ""
    observed_at: datetime

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    @property
    def type_label(self) -> str:
        """What people read as its type: the instance type for instances, else the AWS resource type."""
        return self.instance_type or self.resource_type

    @property
    def publishable(self) -> bool:
        """Worth telling someone: a verdict with something to do, or an exemption that needs fixing."""
        quiet = (Verdict.BUSY, Verdict.EXEMPT, Verdict.INSUFFICIENT_DATA, Verdict.COMPLIANT, Verdict.SERVERLESS,
                 Verdict.STARTED_RECENTLY)
        return self.action is not None or bool(self.notes) or self.verdict not in quiet


@dataclass(frozen=True)
class LedgerRecord:
    """One ledger item, as the ledger adapter reads it: an action or request a run made, an owner's answer, a notice,
    or an instance started again. `key` is its sort key (time#what)."""

    resource_id: str
    action: str
    status: str
    at: datetime
    monthly_usd: float | None = None
    team: str | None = None
    kind: str = ""
    reason: str = ""
    region: str = ""
    resource_type: str = ""
    instance_type: str = ""
    evidence: str = ""  # the finding's evidence, JSON
    key: str = ""
    actor: str = ""
    detail: str = ""
    verdict: str = ""
    account: str = ""  # the resource's account (organization mode: the hub's ledger holds every member's)


class UsageCost(_Frozen):
    """One usage type's cost over a period (Cost Explorer, grouped by USAGE_TYPE), and its usage where read (GB for
    data transfer and NAT bytes, hours for NAT hours)."""

    usage_type: str
    usd: float
    quantity: float | None = None


class Started(_Frozen):
    """A resource the janitor stopped or deleted that runs again (its owner started or restored it): its realized
    savings end `at`."""

    resource_id: str
    resource_type: str
    region: str
    at: datetime


@dataclass(frozen=True)
class Volume:
    """An unattached EBS volume."""

    volume_id: str
    size_gb: int
    volume_type: str
    availability_zone: str | None
    tags: dict[str, str]


@dataclass(frozen=True)
class Snapshot:
    """An EBS snapshot the account owns."""

    snapshot_id: str
    size_gb: int
    start_time: datetime
    tags: dict[str, str]


@dataclass(frozen=True)
class LogGroup:
    """A CloudWatch Logs group and what it keeps."""

    name: str
    arn: str
    retention_days: int | None
    stored_bytes: int
