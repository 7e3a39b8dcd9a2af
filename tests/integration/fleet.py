"""A small ML fleet in the emulator: instances with tags and a week of metrics, placed relative to `end`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.core.policy import Policy
from cost_janitor.local.emulator import LocalAws, MetricSeeder, launch, seed_instance_metrics

DAYS = 9  # a little more than the 7-day window, so a second night still sees a full week


@dataclass
class Fleet:
    aws: LocalAws
    end: datetime
    hours: int = DAYS * 24
    ids: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    account: str | None = None  # another account of the emulator (organization tests); None: the default

    def __post_init__(self) -> None:
        self.ec2 = self.aws.client("ec2", self.region, account=self.account)
        self.seeder = MetricSeeder(self.aws.client("cloudwatch", self.region, account=self.account))

    def add(self, name: str, instance_type: str, tags: dict[str, str], *, cpu: float, hours: int | None = None,
            net: float = 0.5, gpus: list[tuple[float, float]] | None = None, **launch_args: Any) -> str:
        instance_id = launch(self.ec2, instance_type, {"Name": name, **tags}, **launch_args)
        seed_instance_metrics(self.seeder, instance_id, end=self.end, hours=hours or self.hours, cpu=cpu,
                              network_mb_per_hour=net, gpus=gpus)
        self.ids[name] = instance_id
        return instance_id

    def done(self) -> Fleet:
        self.seeder.flush()
        return self

    def tags(self, name: str) -> dict[str, str]:
        [reservation] = self.ec2.describe_instances(InstanceIds=[self.ids[name]])["Reservations"]
        return {t["Key"]: t["Value"] for t in reservation["Instances"][0].get("Tags", [])}

    def state(self, name: str) -> str:
        [reservation] = self.ec2.describe_instances(InstanceIds=[self.ids[name]])["Reservations"]
        state: str = reservation["Instances"][0]["State"]["Name"]
        return state


def night(end: datetime, n: int) -> datetime:
    """The sweep time of night n (0 = the first), a day apart, all inside the seeded data."""
    return end - timedelta(days=1) + timedelta(days=n, minutes=5)


DEV = {"environment": "dev", "owner": "ana@example.com", "team": "vision"}
PROD = {"environment": "prod", "owner": "bo@example.com", "team": "search"}


def default_policy(**changes: Any) -> Policy:
    return Policy.model_validate(changes)
