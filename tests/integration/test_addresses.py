"""The addresses family against a real moto server: an Elastic IP associated with nothing is found with its
dollars, a dev one is marked (its owner asked to release it; the janitor never releases one), a prod one is
reported, one in use is left alone — each call held to the sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import addresses
from cost_janitor.local.emulator import LocalAws, launch
from cost_janitor.settings import Settings

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _allocate(ec2: Any, tags: dict[str, str]) -> str:
    allocation: str = ec2.allocate_address(Domain="vpc", TagSpecifications=[{
        "ResourceType": "elastic-ip", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])["AllocationId"]
    return allocation


def test_the_emulator_reports_the_pool_and_border_group_as_ec2_does(aws: LocalAws) -> None:
    ec2 = aws.client("ec2")
    _allocate(ec2, {})
    [address] = ec2.describe_addresses()["Addresses"]
    assert (address["PublicIpv4Pool"], address["NetworkBorderGroup"]) == ("amazon", "us-east-1")


def test_idle_addresses_are_found_marked_in_dev_and_never_released(aws: LocalAws, janitor: Any) -> None:
    janitor()
    ec2 = aws.client("ec2")
    dev = _allocate(ec2, {"environment": "dev", "owner": "ana@example.com"})
    prod = _allocate(ec2, {"environment": "prod", "owner": "bo@example.com"})
    used = _allocate(ec2, {"environment": "dev"})
    ec2.associate_address(AllocationId=used, InstanceId=launch(ec2, "m5.large", {"environment": "dev"}))

    report = idle_sweep.run(Policy(), Settings.from_env(), now=NOW, run_id="night", dry_run=False,
                            families=[addresses.FAMILY])
    found = {f.resource_id: f for f in report.findings}
    assert (found[dev].verdict, found[dev].action, found[dev].action_status) == (
        Verdict.UNATTACHED, ActionKind.MARK_IDLE, "done")
    assert found[dev].monthly_usd == 3.65 and found[dev].owner == "ana@example.com"
    assert (found[prod].verdict, found[prod].action) == (Verdict.UNATTACHED, Ask.REVIEW)
    assert (found[used].verdict, found[used].action) == (Verdict.BUSY, None)
    assert report.api_calls["DescribeAddresses"] == 1

    def tags(allocation: str) -> dict[str, str]:
        [a] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
        return {t["Key"]: t["Value"] for t in a.get("Tags", [])}

    assert "cost-janitor:idle-since" in tags(dev) and "cost-janitor:idle-since" not in tags(prod)
    again = {f.resource_id: f for f in idle_sweep.run(Policy(), Settings.from_env(), now=NOW, run_id="night-2",
                                                     dry_run=False, families=[addresses.FAMILY]).findings}
    assert again[dev].action == Ask.REVIEW  # marked: its owner is asked again, nothing is released
    assert len(ec2.describe_addresses()["Addresses"]) == 3

    ec2.associate_address(AllocationId=dev, InstanceId=launch(ec2, "m5.large", {"environment": "dev"}))
    third = {f.resource_id: f for f in idle_sweep.run(Policy(), Settings.from_env(), now=NOW, run_id="night-3",
                                                     dry_run=False, families=[addresses.FAMILY]).findings}
    assert (third[dev].verdict, third[dev].action, third[dev].action_status) == (
        Verdict.BUSY, ActionKind.UNMARK_IDLE, "done")
    assert "cost-janitor:idle-since" not in tags(dev)


def test_dry_run_marks_nothing(aws: LocalAws, janitor: Any) -> None:
    janitor()
    ec2 = aws.client("ec2")
    dev = _allocate(ec2, {"environment": "dev"})
    [f] = idle_sweep.run(Policy(), Settings.from_env(), now=NOW, run_id="dry", dry_run=True,
                         families=[addresses.FAMILY]).findings
    assert (f.action, f.action_status) == (ActionKind.MARK_IDLE, "dry-run")
    [a] = ec2.describe_addresses(AllocationIds=[dev])["Addresses"]
    assert "cost-janitor:idle-since" not in {t["Key"] for t in a.get("Tags", [])}
