"""The one policy model: what the janitor may do, validated at synth and read at run time from SSM."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from cost_janitor.core.errors import JanitorError

OnIdle = Literal["stop", "ask"]
Service = Literal["ec2", "sagemaker", "eks", "network", "efs", "ecr", "fsx", "amis"]
StorageClass = Literal["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]

_TAG_KEY = re.compile(r"^(?!aws:)[\w .:/=+\-@]{1,128}$", re.UNICODE)
_CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$|^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_MAX_LIFECYCLE_RULES = 1000
MAX_RULE_ID = 255  # S3 refuses longer lifecycle rule IDs
RULE_ID_PREFIX = "cost-janitor:"
# S3's transition waterfall: a rule may only move objects on to a class further down this list.
STORAGE_CLASS_ORDER: tuple[str, ...] = ("STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER",
                                        "DEEP_ARCHIVE")
IA_CLASSES = ("STANDARD_IA", "ONEZONE_IA")
MIN_DAYS = 30  # in Standard before an IA class, and in an IA class before GLACIER / DEEP_ARCHIVE


class _Strict(BaseModel):
    """Unknown keys are typos in a policy, so they fail validation instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_tag_key(value: str) -> str:
    if not _TAG_KEY.match(value):
        raise ValueError(f"{value!r} is not a usable tag key (1-128 chars, not starting with 'aws:')")
    return value


def _check_schedule(value: str) -> str:
    if not _CRON.match(value):
        raise ValueError(f"{value!r} is not an EventBridge expression like 'cron(0 2 * * ? *)' or 'rate(1 day)'")
    return value


TagKey = Annotated[str, AfterValidator(_check_tag_key)]
Schedule = Annotated[str, AfterValidator(_check_schedule)]


class EnvironmentClass(_Strict):
    """A class of environments (dev, prod, ...) and what an idle resource in it may suffer."""

    values: list[str] = Field(min_length=1, description="Tag values (case-insensitive) that mean this class.")
    on_idle: OnIdle = Field(description="'stop' after the grace period, or 'ask' the owner to justify it.")


class Environments(_Strict):
    """How the environment of a resource is read from its tags."""

    tag_key: TagKey = Field("environment", description="Tag key that names the environment.")
    classes: dict[str, EnvironmentClass] = Field(
        default_factory=lambda: {
            "dev": EnvironmentClass(values=["dev", "development", "sandbox", "test", "experiment"], on_idle="stop"),
            "prod": EnvironmentClass(values=["prod", "production", "staging"], on_idle="ask"),
        },
        description="Environment classes by name.",
    )
    default: str = Field("prod", description="Class for a resource whose tag is missing or unknown (never 'stop').")


    @model_validator(mode="after")
    def _consistent(self) -> Environments:
        if self.default not in self.classes:
            raise ValueError(f"default {self.default!r} is not one of the classes {sorted(self.classes)}")
        if self.classes[self.default].on_idle == "stop":
            raise ValueError(f"default {self.default!r} has on_idle='stop': an untagged resource must never be stopped")
        seen: dict[str, str] = {}
        for name, cls in self.classes.items():
            for value in cls.values:
                key = value.casefold()
                if key in seen:
                    raise ValueError(f"tag value {value!r} is in both {seen[key]!r} and {name!r}")
                seen[key] = name
        return self

    def class_of(self, tag_value: str | None) -> str:
        """The environment class for a tag value; the default for a missing or unknown one."""
        if tag_value:
            folded = tag_value.strip().casefold()
            for name, cls in self.classes.items():
                if folded in (v.casefold() for v in cls.values):
                    return name
        return self.default

    def stop_values(self) -> list[str]:
        """Every tag value whose class may be stopped (used for the IAM resource-tag condition)."""
        return [v for cls in self.classes.values() if cls.on_idle == "stop" for v in cls.values]


class IdlePolicy(_Strict):
    """When an instance counts as idle. Idle needs every signal below its threshold with enough data."""

    schedule: Schedule = Field("cron(0 2 * * ? *)", description="EventBridge schedule of the nightly sweep (UTC).")
    lookback_days: int = Field(7, ge=1, le=14, description="Window of metrics read (CloudWatch keeps 1h data 15 days).")
    period_seconds: Literal[300, 900, 1800, 3600, 21600] = Field(3600, description="Granularity of the datapoints.")
    min_coverage: float = Field(0.8, gt=0, le=1, description="Share of the window's periods that must have data.")
    cpu_avg_pct: float = Field(5.0, gt=0, le=100, description="Idle when the window's average CPU is below this.")
    network_mb_per_day: float = Field(50.0, gt=0, description="Idle when NetworkIn+NetworkOut per day is below this.")
    gpu_max_pct: float = Field(10.0, gt=0, le=100, description="Idle when no GPU ever exceeds this utilisation.")
    gpu_memory_max_pct: float = Field(10.0, gt=0, le=100, description="…and no GPU memory utilisation exceeds this.")
    gpu_families: list[str] = Field(
        default_factory=lambda: ["p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6", "g3", "g4dn", "g4ad",
                                 "g5", "g5g", "g6", "g6e", "gr6", "trn1", "trn1n", "trn2", "inf1", "inf2", "dl1"],
        description="Instance families treated as GPU/accelerator instances (need agent GPU metrics).",
    )
    unmeasured_families: list[str] = Field(
        default_factory=lambda: ["g4ad", "inf1", "inf2", "trn1", "trn1n", "trn2", "dl1"],
        description="Accelerator families the NVIDIA agent cannot measure (AMD, Neuron, Gaudi): never judged idle "
                    "without accelerator metrics, and their owners are not told to install the agent.",
    )
    hibernate: bool = Field(False, description="Hibernate instead of stop where the instance supports it.")
    savings_after_plans: bool = Field(
        True, description="Count an EC2 stop's savings after the account's Reserved Instances and Savings Plans (Cost "
        "Explorer coverage and utilization, last 30 days: 3 calls a night plus two per instance family and region "
        "with idle boxes, $0.01 each); the list price stays beside it. Off: list price only.")
    cost_optimization_hub: bool = Field(
        False, description="Show AWS Cost Optimization Hub's estimate beside the janitor's for each priced idle box "
        "(ListRecommendations, us-east-1; needs the account enrolled). Without access the finding says it is not "
        "used.")
    services: list[Service] = Field(default_factory=lambda: list[Service](["ec2", "sagemaker"]),
                                    description="What the nightly sweep covers: EC2 instances, SageMaker endpoints "
                                    "and notebook instances, EKS GPU node groups and namespaces, network egress (NAT "
                                    "gateways, gateway endpoints, regions crossed), EFS file systems, ECR "
                                    "repositories, FSx for Lustre file systems, AMIs.", min_length=1)



class SageMakerPolicy(_Strict):
    """SageMaker real-time endpoints and notebook instances in the nightly sweep (its window and thresholds are
    the idle policy's: lookback_days, period_seconds, min_coverage)."""

    underused_accelerator_pct: float = Field(
        30.0, gt=0, le=100, description="An endpoint serving traffic whose busiest GPU never exceeds this is "
        "underused (a smaller instance, fewer instances, or serverless is suggested).")
    delete_idle_dev_endpoints: bool = Field(
        False, description="Opt-in: delete a dev endpoint with no invocations for the whole window, after the "
        "grace period (its EndpointConfig and Model stay and are recorded: 'cost-janitor restore' brings it back). "
        "Off: its owner is asked, as for prod.")
    notebook_max_hours: int = Field(12, ge=1, le=24 * 14, description="A notebook instance in service for longer "
                                    "than this at the nightly run is left running.")
    studio_idle_timeout_minutes: int = Field(
        60, ge=60, le=525_600, description="Idle shutdown timeout the janitor sets on a Studio domain (opt-in below).")
    enable_studio_idle_shutdown: bool = Field(
        False, description="Opt-in: turn on idle shutdown for JupyterLab and Code Editor apps in Studio domains "
        "that do not have it (UpdateDomain). Off: such domains are reported.")
    studio_app_max_hours: int = Field(12, ge=1, le=24 * 14, description="A Studio app on a GPU/accelerator "
                                      "instance running longer than this at the nightly run is reported.")
    delete_studio_accelerator_apps: bool = Field(
        False, description="Opt-in: delete such an app in dev after the grace period (mark → tell → delete; the "
        "space and its storage remain). Off: its owner is told.")
    auto_stop_docs_url: str = Field(
        "https://docs.aws.amazon.com/sagemaker/latest/dg/notebook-lifecycle-config.html",
        description="Where a notebook instance without an idle auto-stop lifecycle configuration is sent.")


class EksPolicy(_Strict):
    """GPU waste on EKS (families/eks.py), judged from Container Insights; its window and coverage are the idle
    policy's (lookback_days, period_seconds, min_coverage), its GPU utilisation threshold idle.gpu_max_pct."""

    scale_idle_dev_nodegroups: bool = Field(
        False, description="Opt-in: scale a dev managed node group whose GPUs no pod requested for the whole window "
        "to zero (minSize and desiredSize 0, maxSize kept), after the mark and the grace period, and only if no pod "
        "requests a GPU on it just before. Off: its owner is asked, as for prod.")
    min_node_hours: int = Field(24, ge=1, le=24 * 14, description="A node younger than this is not judged (it has "
                                "not been up long enough to say no pod wants its GPUs).")
    overrequest_factor: float = Field(3.0, gt=1, le=100, description="A namespace whose GPU (or CPU, memory) "
                                      "requests are at least this many times what it uses over the window is "
                                      "over-requesting.")
    reserved_gpu_pct: float = Field(50.0, gt=0, le=100, description="A node group that never scaled below its peak "
                                    "while its GPUs were requested on average below this share scales down "
                                    "reluctantly.")
    night_hours: int = Field(4, ge=1, le=12, description="The hours before the nightly sweep read again: a dev node "
                             "group held at minSize > 0 with no GPU requested in them is reported.")
    namespace_teams: dict[str, str] = Field(default_factory=dict, description="Kubernetes namespace → team (its "
                                            "Slack channel, its share of the digest); unmapped: the cluster's team.")


class NetworkPolicy(_Strict):
    """Network egress (families/network.py): S3 and DynamoDB traffic paying NAT gateway prices, idle NAT gateways,
    data crossing regions and availability zones. Its window and coverage are the idle policy's."""

    create_gateway_endpoints: bool = Field(
        False, description="Opt-in: on a dev VPC whose route tables send S3 or DynamoDB traffic through a NAT gateway, "
        "create the free gateway endpoint on exactly those route tables, after the mark and the grace period, only if "
        "it is still missing just before and no bucket policy admits only the NAT's public IP. Off: its owner is "
        "asked, as for prod.")
    min_nat_gb_per_month: float = Field(10.0, ge=0, description="A VPC whose NAT gateways process less than this "
                                        "(GB a month, at the window's rate) is not worth an endpoint finding.")
    top_region_pairs: int = Field(5, ge=1, le=50, description="The region pairs with the most data-transfer dollars "
                                  "(Cost Explorer, last 30 days) reported with their likely resources.")
    max_buckets_per_region: int = Field(100, ge=1, le=1000, description="At most this many buckets of a region have "
                                        "their policies, tags and replication read (the nightly call bound).")


EfsTransition = Literal["AFTER_1_DAY", "AFTER_7_DAYS", "AFTER_14_DAYS", "AFTER_30_DAYS", "AFTER_60_DAYS",
                        "AFTER_90_DAYS", "AFTER_180_DAYS", "AFTER_270_DAYS", "AFTER_365_DAYS"]  # EFS API reference


class EfsPolicy(_Strict):
    """EFS file systems (families/efs.py): idle ones reported, lifecycle management merged into the team's. Its window
    and coverage are the idle policy's."""

    transition_to_ia: EfsTransition = Field("AFTER_30_DAYS", description="The transition to Infrequent Access the "
                                            "janitor adds where the team set none.")
    transition_to_archive: EfsTransition | None = Field(
        "AFTER_90_DAYS", description="The transition to Archive it adds where the team set none and EFS offers it "
        "(Elastic throughput, General Purpose performance); null: never.")
    set_lifecycle: bool = Field(
        False, description="Opt-in: add those transitions to a dev file system's lifecycle configuration after the "
        "mark and the grace period, merged with the team's (never dropping or changing one). Off: its owner is asked.")

    @model_validator(mode="after")
    def _archive_after_ia(self) -> EfsPolicy:
        def n(v: str) -> int:
            return int(v.split("_")[1])

        if self.transition_to_archive and n(self.transition_to_archive) <= n(self.transition_to_ia):
            raise ValueError("efs.transition_to_archive must come after efs.transition_to_ia (EFS refuses otherwise)")
        return self


class EcrPolicy(_Strict):
    """ECR repositories (families/ecr.py): old untagged images, images nobody pulls."""

    untagged_expire_days: int = Field(14, ge=1, le=3650, description="The janitor's rule expires untagged images this "
                                      "many days after their push (merged after the team's rules).")
    unpulled_days: int = Field(90, ge=1, le=3650, description="Tagged images with no recorded pull for this many days "
                               "are reported (never expired by the janitor).")
    put_lifecycle_policies: bool = Field(
        False, description="Opt-in: add the janitor's rule to a dev repository's lifecycle policy after the mark and "
        "the grace period, merged by priority (never replacing or renumbering a team rule). Off: its owner is asked.")


class FsxPolicy(_Strict):
    """FSx for Lustre file systems (families/fsx.py); its window and coverage are the idle policy's."""

    idle_gb_per_day: float = Field(1.0, ge=0, description="Idle when the window's read and write bytes stay under "
                                   "this many GB a day.")
    recheck_hours: int = Field(3, ge=1, le=24, description="The hours read again just before a delete: bytes moving "
                               "in them, or not readable, and nothing is deleted.")
    delete_idle_dev_file_systems: bool = Field(
        False, description="Opt-in: delete an idle persistent dev file system after the mark and the grace period, "
        "with a final backup (the way back). Scratch file systems are never deleted (they cannot be backed up). "
        "Off: its owner is asked, as for prod.")


class AmiPolicy(_Strict):
    """AMIs and their snapshots (families/amis.py)."""

    unused_days: int = Field(90, ge=7, le=3650, description="An image not launched for this many days that nothing "
                             "uses is reported.")
    deregister_unused_dev_images: bool = Field(
        False, description="Opt-in: deregister such a dev image and delete its own snapshots after the mark and the "
        "grace period, only where a Recycle Bin retention rule for EBS snapshots exists in its region (the way back). "
        "Off: its owner is asked.")


class GracePolicy(_Strict):
    """How long the owner has between being told and the action."""

    dev_stop_after_hours: int = Field(24, ge=1, le=24 * 30,
                                      description="Hours between marking an idle dev box and stopping it.")
    reask_after_days: int = Field(3, ge=1,
                                  description="Re-ask an unanswered justification request after this many days.")
    escalate_after_days: int = Field(7, ge=1, description="Escalate an unanswered request to the team channel.")

    @model_validator(mode="after")
    def _order(self) -> GracePolicy:
        if self.escalate_after_days < self.reask_after_days:
            raise ValueError("escalate_after_days must not be shorter than reask_after_days")
        return self


class ExemptionPolicy(_Strict):
    """Tags that exempt a resource; written by the Slack flow or by hand."""

    keep_until_tag: TagKey = Field("cost-janitor:keep-until",
                                description="ISO date (or datetime) until which the resource is kept.")
    reason_tag: TagKey = Field("cost-janitor:keep-reason", description="Why it is kept.")
    by_tag: TagKey = Field("cost-janitor:keep-by", description="Who kept it.")
    opt_out_tag: TagKey = Field("cost-janitor:opt-out", description="'true' exempts the resource indefinitely.")
    idle_since_tag: TagKey = Field("cost-janitor:idle-since",
                                description="Written when an idle dev resource is first marked.")
    max_keep_days: int = Field(90, ge=1, le=365, description="Longest keep a justification may ask for.")



class TaggingPolicy(_Strict):
    """The cost-allocation tags every resource must carry."""

    required: dict[str, list[str]] = Field(
        default_factory=lambda: {key: list[str]() for key in ("team", "project", "environment", "cost-center")},
        description="Required tag keys and their allowed values (empty list: any non-empty value).",
    )
    owner_tag: TagKey = Field("owner", description="Tag naming the owner (email or Slack user id).")
    team_tag: TagKey = Field("team", description="Tag naming the team (its Slack channel, its share of the digest).")
    created_by_tag: TagKey = Field("created-by", description="Tag the janitor writes with the creator's identity.")
    check_delay_seconds: int = Field(180, ge=0, le=900,
                                     description="Wait this long after creation before checking tags (SQS delay).")
    report_schedule: Schedule = Field("cron(30 2 * * ? *)", description="EventBridge schedule of the coverage report.")
    watched_events: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "ec2.amazonaws.com": ["RunInstances", "CreateVolume", "CreateSnapshot"],
            "s3.amazonaws.com": ["CreateBucket"],
            "sagemaker.amazonaws.com": ["CreateNotebookInstance", "CreateEndpoint", "CreateTrainingJob"],
            "rds.amazonaws.com": ["CreateDBInstance"],
            "eks.amazonaws.com": ["CreateNodegroup"],
        },
        description="CloudTrail creation calls checked, by event source.")


    @field_validator("required")
    @classmethod
    def _required(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for key in v:
            _check_tag_key(key)
        return v



class Transition(_Strict):
    days: int = Field(ge=0, description="Days after creation (S3 accepts 0 for every class but the IA ones).")
    storage_class: StorageClass


class LifecycleRule(_Strict):
    """One janitor-owned lifecycle rule for a prefix."""

    prefix: str = Field(description="Key prefix the rule applies to ('' for the whole bucket).")
    transitions: list[Transition] = Field(default_factory=list)
    expire_days: PositiveInt | None = None
    noncurrent_expire_days: PositiveInt | None = None
    abort_multipart_days: PositiveInt | None = None

    def rule_id(self, profile: str) -> str:
        """The ID the janitor writes this rule under; what makes a rule the janitor's."""
        return f"{RULE_ID_PREFIX}{profile}:{self.prefix or '*'}"

    @model_validator(mode="after")
    def _valid_for_s3(self) -> LifecycleRule:
        if not (self.transitions or self.expire_days or self.noncurrent_expire_days or self.abort_multipart_days):
            raise ValueError(f"rule for prefix {self.prefix!r} does nothing")
        last: Transition | None = None
        in_ia: Transition | None = None
        for t in self.transitions:
            if t.storage_class in IA_CLASSES and t.days < MIN_DAYS:
                raise ValueError(f"S3 rejects a transition to {t.storage_class} before {MIN_DAYS} days (got {t.days})")
            if last is not None and t.days <= last.days:
                raise ValueError(f"transitions for prefix {self.prefix!r} must be in increasing order of days")
            if last is not None and (STORAGE_CLASS_ORDER.index(t.storage_class)
                                     <= STORAGE_CLASS_ORDER.index(last.storage_class)):
                raise ValueError(f"transitions for prefix {self.prefix!r} are out of order: S3 moves objects only "
                                 f"to colder classes ({' → '.join(STORAGE_CLASS_ORDER)}), not from "
                                 f"{last.storage_class} to {t.storage_class}")
            if t.storage_class in ("GLACIER", "DEEP_ARCHIVE") and in_ia and t.days < in_ia.days + MIN_DAYS:
                raise ValueError(f"prefix {self.prefix!r}: S3 needs objects to stay {MIN_DAYS} days in "
                                 f"{in_ia.storage_class} (day {in_ia.days}) before {t.storage_class}, so not before "
                                 f"day {in_ia.days + MIN_DAYS} (got {t.days})")
            in_ia = t if t.storage_class in IA_CLASSES and in_ia is None else in_ia
            last = t
        if self.expire_days is not None and last is not None and self.expire_days <= last.days:
            raise ValueError(f"expiry for prefix {self.prefix!r} must come after its last transition")
        return self


class LifecycleProfile(_Strict):
    rules: list[LifecycleRule] = Field(min_length=1, max_length=_MAX_LIFECYCLE_RULES)


def _default_ml_profile() -> LifecycleProfile:
    return LifecycleProfile(rules=[
        LifecycleRule(prefix="training-data/", transitions=[Transition(days=30, storage_class="STANDARD_IA"),
                                                           Transition(days=90, storage_class="GLACIER")]),
        LifecycleRule(prefix="experiments/", expire_days=180),
        LifecycleRule(prefix="checkpoints/", noncurrent_expire_days=30),
        LifecycleRule(prefix="", abort_multipart_days=7),
    ])


class LifecyclePolicy(_Strict):
    """Which lifecycle profile applies to which bucket."""

    schedule: Schedule = Field("cron(0 3 ? * SUN *)", description="EventBridge schedule of the lifecycle run (UTC).")
    profile_tag: TagKey = Field("cost-janitor:lifecycle-profile", description="Bucket tag naming its profile.")
    profiles: dict[str, LifecycleProfile] = Field(default_factory=lambda: {"ml": _default_ml_profile()},
                                                  description="Named sets of janitor-owned lifecycle rules.")
    buckets: dict[str, str] = Field(default_factory=dict, description="Bucket name → profile name, besides tags.")



    @model_validator(mode="after")
    def _known_profiles(self) -> LifecyclePolicy:
        for bucket, profile in self.buckets.items():
            if profile not in self.profiles:
                raise ValueError(f"bucket {bucket!r} names unknown profile {profile!r}; known: {sorted(self.profiles)}")
        for name, rules in self.profiles.items():
            for rule in rules.rules:
                rule_id = rule.rule_id(name)
                if len(rule_id) > MAX_RULE_ID:
                    raise ValueError(f"profile {name!r}: the rule ID {rule_id[:40]}… for prefix {rule.prefix[:40]!r}… "
                                     f"is {len(rule_id)} characters; S3 allows {MAX_RULE_ID} (shorten the profile "
                                     "name or the prefix)")
        return self


class SlackPolicy(_Strict):
    """Where people hear from the janitor."""

    default_channel: str = Field("#ml-cost", description="Channel for findings whose owner is unknown.")
    team_channels: dict[str, str] = Field(default_factory=dict, description="Team tag value → channel.")
    admins: list[str] = Field(default_factory=list, description="Slack user ids allowed to act on any resource.")
    max_messages_per_recipient: int = Field(
        3, ge=1, le=20, description="Messages with buttons one recipient gets in a run (12 resources each, the "
        "costliest first); the rest are named one line each in summary messages of 200.")
    delivery_concurrency: int = Field(
        4, ge=1, le=16, description="Recipients the notifier writes to at once. Slack limits chat.postMessage per "
        "channel (one a second), so different owners' messages can go out together; its workspace-wide limit is not "
        "published, and slack-sdk waits out any 429 it meets (bench/org_night.py: the organization's night).")
    gpu_agent_docs_url: str = Field(
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-NVIDIA-GPU.html",
        description="Where the 'gpu-metrics-missing' button sends people.")


class SpotPolicy(_Strict):
    """What happens on a spot interruption warning."""

    checkpoint_tag: TagKey = Field("cost-janitor:checkpoint-command",
                                description="Instance tag holding its own checkpoint shell command.")
    checkpoint_command: str = Field(
        "kill -USR1 $(cat /run/cost-janitor/spot-watch.pid)",
        description="Default checkpoint command: signals agent/spot_watch.py, which tells the training process.")
    diversify_after: int = Field(3, ge=1, description="Interruptions of one type in 30 days that suggest diversifying.")



class AgentPolicy(_Strict):
    """Where the CloudWatch agent with GPU metrics is installed (by an SSM State Manager association)."""

    tag_key: TagKey = Field("cost-janitor:gpu-agent", description="Instances tagged <key>=true get the agent.")
    neuron_tag_key: TagKey = Field("cost-janitor:neuron-agent", description="Instances tagged <key>=true get the "
                                   "Neuron pusher (agent/neuron_metrics.py: per-NeuronCore utilisation).")
    install_on_gpu_families: bool = Field(
        False, description="Tag GPU instances reported as gpu-metrics-missing, so the association installs it.")
    per_gpu_series: bool = Field(
        False, description="Keep one series per GPU (agent/cloudwatch-agent-per-gpu.json; the pusher's --per-gpu): "
        "the per-GPU view right-sizing needs, at the GPUs-per-box times the custom-metric cost. Off: one series per "
        "instance whose Maximum is the busiest GPU's (idle only when every GPU was).")



class StoragePolicy(_Strict):
    """Storage waste besides lifecycle rules; every destructive action is off unless turned on here."""

    unattached_since_tag: TagKey = Field("cost-janitor:unattached-since",
                                      description="Written on an unattached volume when first seen.")
    snapshot_tag: TagKey = Field("cost-janitor:snapshot-id",
                              description="Written on a volume with the id of the snapshot taken before deleting it.")
    unattached_volume_days: int = Field(14, ge=1, description="Report volumes unattached for this many days.")
    delete_unattached_volumes: bool = Field(
        False, description="Opt-in: snapshot, then delete, old unattached volumes in environments that may stop.")
    snapshot_max_age_days: int = Field(180, ge=1, description="Report snapshots older than this that no AMI uses.")
    log_retention_days: int = Field(90, ge=1, description="Longest CloudWatch Logs retention the policy accepts.")
    set_log_retention: bool = Field(False, description="Opt-in: set retention on log groups without one (or longer).")


    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        allowed = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                   3288, 3653)
        if v not in allowed:
            raise ValueError(f"CloudWatch Logs accepts only {allowed}")
        return v


class PredictionCost(_Strict):
    """One model's cost per prediction: its cost by project tag, its predictions from a CloudWatch metric."""

    name: str
    project: str = Field(description="Value of the project tag whose Cost Explorer cost is counted.")
    endpoint_name: str | None = Field(None, description="SageMaker endpoint: Invocations (all variants) count.")
    metric_namespace: str | None = None
    metric_name: str | None = None
    metric_dimensions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> PredictionCost:
        if bool(self.endpoint_name) == bool(self.metric_namespace and self.metric_name):
            raise ValueError(f"{self.name}: give either endpoint_name or metric_namespace + metric_name")
        return self


class ReportPolicy(_Strict):
    """The weekly digest."""

    schedule: Schedule = Field("cron(0 8 ? * MON *)", description="EventBridge schedule of the weekly digest (UTC).")
    weeks: int = Field(4, ge=1, le=12, description="Weeks of realized savings in the digest.")
    project_tag: str = Field("project", description="Cost allocation tag that groups cost per model/project.")
    cost_per_prediction: list[PredictionCost] = Field(default_factory=list,
                                                      description="Models whose cost per prediction is tracked.")
    own_cost_tag: TagKey = Field("cost-janitor:stack", description="Tag the stack puts on everything it creates "
                                 "(activate it as a cost allocation tag): the digest's own-cost line.")



class Policy(_Strict):
    """Everything that tunes the janitor. Defaults are what a careful platform team would choose."""

    version: Literal[1] = Field(1, description="Policy schema version.")
    dry_run: bool = Field(True, description="Plan and report only; EC2 calls go out with DryRun=True.")
    regions: list[str] = Field(default_factory=list, description="Regions to sweep; empty means the stack's region.")
    environments: Environments = Field(default_factory=Environments)
    idle: IdlePolicy = Field(default_factory=IdlePolicy)
    grace: GracePolicy = Field(default_factory=GracePolicy)
    exemptions: ExemptionPolicy = Field(default_factory=ExemptionPolicy)
    tagging: TaggingPolicy = Field(default_factory=TaggingPolicy)
    lifecycle: LifecyclePolicy = Field(default_factory=LifecyclePolicy)
    slack: SlackPolicy = Field(default_factory=SlackPolicy)
    spot: SpotPolicy = Field(default_factory=SpotPolicy)
    storage: StoragePolicy = Field(default_factory=StoragePolicy)
    report: ReportPolicy = Field(default_factory=ReportPolicy)
    agent: AgentPolicy = Field(default_factory=AgentPolicy)
    sagemaker: SageMakerPolicy = Field(default_factory=SageMakerPolicy)
    eks: EksPolicy = Field(default_factory=EksPolicy)
    network: NetworkPolicy = Field(default_factory=NetworkPolicy)
    efs: EfsPolicy = Field(default_factory=EfsPolicy)
    ecr: EcrPolicy = Field(default_factory=EcrPolicy)
    fsx: FsxPolicy = Field(default_factory=FsxPolicy)
    amis: AmiPolicy = Field(default_factory=AmiPolicy)

    def ownership(self, tags: dict[str, str]) -> dict[str, str | None]:
        """Who a resource belongs to, from its tags: its Name, owner, team and environment class (every finding)."""
        return {"name": tags.get("Name"), "owner": tags.get(self.tagging.owner_tag),
                "team": tags.get(self.tagging.team_tag),
                "environment": self.environments.class_of(tags.get(self.environments.tag_key))}

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        for region in v:
            if not _REGION.match(region):
                raise ValueError(f"{region!r} is not an AWS region name")
        if len(set(v)) != len(v):
            raise ValueError("regions are listed twice")
        return v


class PolicyError(JanitorError, ValueError):
    """A policy that does not validate; the message names each bad field and why."""


def load_policy(data: object) -> Policy:
    """Validate raw policy data, turning pydantic's errors into one message that names each field."""
    from pydantic import ValidationError

    try:
        return Policy.model_validate(data if data is not None else {})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "policy"
            lines.append(f"  policy.{where}: {err['msg']}")
        raise PolicyError("invalid cost-janitor policy:\n" + "\n".join(lines)) from None


def merge_overrides(base: dict[str, object], overrides: dict[str, object]) -> dict[str, object]:
    """Deep-merge overrides into a policy dict (for `cdk deploy -c policy_overrides='{...}'`)."""
    out = dict(base)
    for key, value in overrides.items():
        current = out.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            out[key] = merge_overrides(current, value)
        else:
            out[key] = value
    return out
