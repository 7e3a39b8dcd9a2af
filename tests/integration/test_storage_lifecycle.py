"""The storage run against the moto server: lifecycle merges that keep every user rule, conflicts reported,
no write when nothing changes, one bad bucket not stopping the rest, and volumes/snapshots/log groups."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from cost_janitor.adapters.ledger import Ledger
from cost_janitor.capabilities import storage_lifecycle
from cost_janitor.core.models import ActionKind, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.local.emulator import LocalAws
from cost_janitor.settings import Settings

ACCOUNT = "123456789012"
USER_RULES = [
    {"ID": "logs-expire", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
    {"ID": "tagged", "Filter": {"Tag": {"Key": "tier", "Value": "cold"}}, "Status": "Enabled",
     "Transitions": [{"Days": 0, "StorageClass": "GLACIER"}]},
    {"ID": "and", "Filter": {"And": {"Prefix": "raw/", "Tags": [{"Key": "a", "Value": "b"}]}}, "Status": "Disabled",
     "Expiration": {"Days": 10}},
]  # (a legacy rule-level Prefix rule cannot sit beside these: S3 refuses the mix, and so does the emulator)
LEGACY_RULES = [{"ID": "legacy", "Prefix": "tmp/", "Status": "Enabled", "Expiration": {"Days": 1}}]
ML_TAG = {"Key": "cost-janitor:lifecycle-profile", "Value": "ml"}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every AWS API call the janitor makes, by operation (a botocore-level hook)."""
    counted: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        counted[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return counted


@pytest.fixture
def buckets(aws: LocalAws, janitor: Any) -> dict[str, Any]:
    janitor()
    s3 = aws.client("s3")
    for name, versioned, rules in (("ml-training", True, USER_RULES), ("ml-scratch", False, []),
                                   ("ml-conflict", True, [{"ID": "team-tiering", "Filter": {
                                       "Prefix": "training-data/"}, "Status": "Enabled",
                                       "Transitions": [{"Days": 60, "StorageClass": "GLACIER_IR"}]}]),
                                   ("web-assets", False, [USER_RULES[0]])):
        s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if rules:
            s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
        if name.startswith("ml-"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [ML_TAG, {"Key": "owner", "Value": "ana@x.io"}]})
    before = {n: _rules(aws, n) for n in ("ml-training", "ml-conflict", "web-assets")}
    return {"s3": s3, "before": before}


def _rules(aws: LocalAws, bucket: str) -> list[dict[str, Any]]:
    try:
        rules: list[dict[str, Any]] = aws.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError:
        return []
    return rules


def _run(dry_run: bool = False, policy: Policy | None = None, now: datetime | None = None) -> Any:
    return storage_lifecycle.run(policy or Policy(), Settings.from_env(), now=now or datetime.now(UTC), run_id="w1",
                       dry_run=dry_run, account=ACCOUNT)


def _by_id(report: Any) -> dict[str, Any]:
    return {f.resource_id: f for f in report.findings}


def test_profiles_are_merged_and_every_user_rule_survives_byte_for_byte(aws: LocalAws,
                                                                       buckets: dict[str, Any]) -> None:
    report = _run()
    found = _by_id(report)
    assert (found["ml-training"].verdict, found["ml-training"].action_status) == (Verdict.CHANGE_PROPOSED, "done")
    after = _rules(aws, "ml-training")
    assert after[: len(USER_RULES)] == buckets["before"]["ml-training"]
    assert {r["ID"] for r in after[len(USER_RULES):]} == {"cost-janitor:ml:training-data/",
                                                          "cost-janitor:ml:experiments/",
                                                          "cost-janitor:ml:checkpoints/", "cost-janitor:ml:*"}
    assert "web-assets" not in found and _rules(aws, "web-assets") == buckets["before"]["web-assets"]


def test_the_emulator_refuses_what_s3_refuses(aws: LocalAws, buckets: dict[str, Any]) -> None:
    s3 = buckets["s3"]
    for rules, code in ((USER_RULES + LEGACY_RULES, "InvalidRequest"),
                        ([{"ID": "x" * 256, "Filter": {"Prefix": ""}, "Status": "Enabled",
                           "Expiration": {"Days": 1}}], "InvalidArgument"),
                        ([{"ID": "ia", "Filter": {"Prefix": ""}, "Status": "Enabled", "Transitions": [
                            {"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 50, "StorageClass": "GLACIER"}]}],
                         "InvalidArgument")):
        with pytest.raises(ClientError, match=code):
            s3.put_bucket_lifecycle_configuration(Bucket="web-assets", LifecycleConfiguration={"Rules": rules})
    assert _rules(aws, "web-assets") == buckets["before"]["web-assets"]


def test_a_bucket_with_legacy_v1_rules_is_reported_and_never_written(aws: LocalAws, buckets: dict[str, Any],
                                                                    calls: Counter[str]) -> None:
    s3 = buckets["s3"]
    s3.create_bucket(Bucket="ml-legacy")
    s3.put_bucket_lifecycle_configuration(Bucket="ml-legacy", LifecycleConfiguration={"Rules": LEGACY_RULES})
    s3.put_bucket_tagging(Bucket="ml-legacy", Tagging={"TagSet": [ML_TAG]})
    calls.clear()
    report = _run()
    finding = _by_id(report)["ml-legacy"]
    assert (finding.verdict, finding.action) == (Verdict.CONFLICT, None) and "legacy V1 form" in finding.reason
    assert _rules(aws, "ml-legacy") == LEGACY_RULES
    assert report.failed == {} and calls["PutBucketLifecycleConfiguration"] == 3  # the other three buckets


def test_the_buckets_default_minimum_object_size_survives_the_merge(aws: LocalAws, buckets: dict[str, Any]) -> None:
    s3 = buckets["s3"]
    s3.put_bucket_lifecycle_configuration(Bucket="ml-training", LifecycleConfiguration={"Rules": USER_RULES},
                                          TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    assert _by_id(_run())["ml-training"].action_status == "done"
    after = s3.get_bucket_lifecycle_configuration(Bucket="ml-training")
    assert after["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    assert len(after["Rules"]) == len(USER_RULES) + 4


def test_unversioned_bucket_gets_no_noncurrent_rule_and_says_so(aws: LocalAws, buckets: dict[str, Any]) -> None:
    found = _by_id(_run())
    assert "cost-janitor:ml:checkpoints/" not in {r["ID"] for r in _rules(aws, "ml-scratch")}
    assert any("versioning was never enabled" in n for n in found["ml-scratch"].notes)


def test_a_user_rule_on_the_same_prefix_is_reported_and_left_alone(aws: LocalAws,
                                                                   buckets: dict[str, Any]) -> None:
    found = _by_id(_run())
    rules = _rules(aws, "ml-conflict")
    assert rules[0] == buckets["before"]["ml-conflict"][0]
    assert "cost-janitor:ml:training-data/" not in {r["ID"] for r in rules}
    assert any("team-tiering" in n for n in found["ml-conflict"].notes)


def test_nothing_is_written_when_nothing_changes(aws: LocalAws, buckets: dict[str, Any], calls: Counter[str]) -> None:
    _run()
    assert calls["PutBucketLifecycleConfiguration"] == 3
    calls.clear()
    again = _by_id(_run())
    assert calls["PutBucketLifecycleConfiguration"] == 0
    assert {again[b].verdict for b in ("ml-training", "ml-scratch")} == {Verdict.COMPLIANT}


def test_dry_run_shows_the_exact_diff_and_writes_nothing(aws: LocalAws, buckets: dict[str, Any],
                                                         calls: Counter[str]) -> None:
    report = _run(dry_run=True)
    assert calls["PutBucketLifecycleConfiguration"] == 0
    assert _rules(aws, "ml-training") == buckets["before"]["ml-training"]
    assert '+      "ID": "cost-janitor:ml:experiments/",' in report.diffs["ml-training"]
    assert _by_id(report)["ml-training"].action_status == "dry-run"


def test_a_failure_on_one_bucket_does_not_stop_the_rest(aws: LocalAws, buckets: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    original = botocore.client.BaseClient._make_api_call

    def deny_one(self: Any, operation: str, params: Any) -> Any:
        if operation == "GetBucketLifecycleConfiguration" and params.get("Bucket") == "ml-conflict":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", deny_one)
    emitted: list[tuple[str, float]] = []
    monkeypatch.setattr(storage_lifecycle.metrics, "add_metric",
                        lambda name, unit, value: emitted.append((name, value)))
    report = _run()
    assert report.failed == {"ml-conflict": "AccessDenied"}
    assert _by_id(report)["ml-training"].action_status == "done"
    assert ("ResourcesNotEvaluated", 1) in emitted  # partial coverage reaches the alarm


def test_a_run_short_of_time_stops_starting_buckets_and_the_next_run_starts_where_it_stopped(
        aws: LocalAws, buckets: dict[str, Any]) -> None:
    settings = Settings.from_env()
    ledger = Ledger(aws.client("dynamodb"), str(settings.ledger_table))
    clock = iter([600_000, 600_000, 600_000, 90_000])  # ms left: the region, ml-conflict, ml-scratch, then too little
    first = storage_lifecycle.run(Policy(), settings, now=datetime.now(UTC), run_id="w1", dry_run=True, account=ACCOUNT,
                        remaining_ms=lambda: next(clock))
    assert first.not_reached_buckets == ["ml-training", "web-assets"] and first.not_reached_regions == []
    assert [f.resource_id for f in first.findings if f.kind == "lifecycle"] == ["ml-conflict", "ml-scratch"]
    assert first.summary()["not_reached_buckets"] == 2 and ledger.cursor("storage-buckets") == "ml-scratch"
    second = storage_lifecycle.run(Policy(), settings, now=datetime.now(UTC), run_id="w2", dry_run=True,
                                   account=ACCOUNT, remaining_ms=lambda: 600_000)
    assert [f.resource_id for f in second.findings if f.kind == "lifecycle"] == [
        "ml-training", "ml-conflict", "ml-scratch"]  # behind the cursor first, then round to the rest
    assert second.not_reached_buckets == [] and ledger.cursor("storage-buckets") is None


def test_a_run_with_no_time_at_all_reaches_nothing_and_keeps_the_cursor(aws: LocalAws,
                                                                       buckets: dict[str, Any]) -> None:
    settings = Settings.from_env()
    ledger = Ledger(aws.client("dynamodb"), str(settings.ledger_table))
    ledger.set_cursor("storage-buckets", "ml-conflict")
    report = storage_lifecycle.run(Policy(), settings, now=datetime.now(UTC), run_id="w1", dry_run=True,
                                   account=ACCOUNT, remaining_ms=lambda: 60_000)
    assert report.not_reached_regions == ["us-east-1"] and report.findings == []
    assert report.not_reached_buckets == ["ml-scratch", "ml-training", "web-assets", "ml-conflict"]
    assert ledger.cursor("storage-buckets") == "ml-conflict"


def test_savings_come_from_s3_storage_metrics_and_say_what_they_assume(aws: LocalAws,
                                                                      buckets: dict[str, Any]) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    dims = [{"Name": "BucketName", "Value": "ml-training"}, {"Name": "StorageType", "Value": "StandardStorage"}]
    aws.client("cloudwatch").put_metric_data(Namespace="AWS/S3", MetricData=[{
        "MetricName": "BucketSizeBytes", "Value": 10 * 1024 ** 4, "Unit": "Bytes",
        "Timestamp": today - timedelta(hours=20), "Dimensions": dims}])
    finding = _by_id(_run(dry_run=True))["ml-training"]
    assert finding.monthly_usd == round(10 * 1024 * (0.023 - 0.0036), 2)
    assert "10.0 TB in Standard moved to GLACIER" in str(finding.price_source)


@pytest.fixture
def volumes(aws: LocalAws, janitor: Any) -> dict[str, str]:
    janitor()
    ec2 = aws.client("ec2")
    out = {}
    for name, env in (("scratch", "dev"), ("prod-data", "prod")):
        tags = [{"Key": "environment", "Value": env}, {"Key": "Name", "Value": name}]
        out[name] = ec2.create_volume(AvailabilityZone="us-east-1a", Size=500, VolumeType="gp3",
                                      TagSpecifications=[{"ResourceType": "volume", "Tags": tags}])["VolumeId"]
    return out


def test_unattached_dev_volume_is_marked_then_snapshotted_then_deleted_never_lost(aws: LocalAws,
                                                                                 volumes: dict[str, str]) -> None:
    opt_in = Policy.model_validate({"storage": {"delete_unattached_volumes": True}})
    now = datetime.now(UTC)
    first = _by_id(_run(policy=opt_in, now=now))
    assert first[volumes["scratch"]].action == ActionKind.MARK_UNATTACHED
    later = now + timedelta(days=15)
    second = _by_id(_run(policy=opt_in, now=later))
    assert (second[volumes["scratch"]].action, second[volumes["scratch"]].action_status) == (
        ActionKind.SNAPSHOT_VOLUME, "done")
    assert second[volumes["prod-data"]].action is None and second[volumes["prod-data"]].verdict == Verdict.UNATTACHED
    ec2 = aws.client("ec2")
    [snapshot] = ec2.describe_snapshots(Filters=[{"Name": "tag:cost-janitor:from-volume",
                                                  "Values": [volumes["scratch"]]}])["Snapshots"]
    third = _by_id(_run(policy=opt_in, now=later + timedelta(days=1)))
    assert (third[volumes["scratch"]].action, third[volumes["scratch"]].action_status) == (
        ActionKind.DELETE_VOLUME, "done")
    remaining = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    assert volumes["scratch"] not in remaining and volumes["prod-data"] in remaining
    assert ec2.describe_snapshots(SnapshotIds=[snapshot["SnapshotId"]])["Snapshots"][0]["State"] == "completed"


def test_without_the_opt_in_an_old_volume_is_only_reported(aws: LocalAws, volumes: dict[str, str]) -> None:
    now = datetime.now(UTC)
    _run(now=now)
    found = _by_id(_run(now=now + timedelta(days=15)))
    assert found[volumes["scratch"]].verdict == Verdict.UNATTACHED and found[volumes["scratch"]].action is None
    assert found[volumes["scratch"]].monthly_usd == 40.0


def test_log_groups_that_never_expire_are_reported_and_fixed_only_when_opted_in(aws: LocalAws,
                                                                              janitor: Any) -> None:
    janitor()
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/ml/training-jobs")
    logs.create_log_group(logGroupName="/ml/short")
    logs.put_retention_policy(logGroupName="/ml/short", retentionInDays=14)
    found = _by_id(_run())
    assert found["/ml/training-jobs"].verdict == Verdict.NO_RETENTION and "/ml/short" not in found
    assert found["/ml/training-jobs"].action is None
    _run(policy=Policy.model_validate({"storage": {"set_log_retention": True}}))
    [group] = [g for g in logs.describe_log_groups()["logGroups"] if g["logGroupName"] == "/ml/training-jobs"]
    assert group["retentionInDays"] == 90


def test_savings_outside_us_east_1_use_the_regions_own_rates_or_say_unknown(aws: LocalAws,
                                                                           buckets: dict[str, Any]) -> None:
    """#26: a bucket in ap-southeast-2 is priced at the Price List API's Standard and Glacier rates there (never
    us-east-1's); one in eu-west-1, whose rates the API does not give, gets the proposal with its terabytes and
    "unknown" dollars."""
    from cost_janitor.local.emulator.seeding import rate_price_product, seed_price_list

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for name, region in (("ml-sydney", "ap-southeast-2"), ("ml-dublin", "eu-west-1")):
        s3 = aws.client("s3", region)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [ML_TAG]})
        aws.client("cloudwatch", region).put_metric_data(Namespace="AWS/S3", MetricData=[{
            "MetricName": "BucketSizeBytes", "Value": 10 * 1024 ** 4, "Unit": "Bytes",
            "Timestamp": today - timedelta(hours=20), "Dimensions": [
                {"Name": "BucketName", "Value": name}, {"Name": "StorageType", "Value": "StandardStorage"}]}])
    seed_price_list([rate_price_product("s3:STANDARD", "ap-southeast-2", 0.025, published="2026-11-06T00:00:00Z"),
                     rate_price_product("s3:GLACIER", "ap-southeast-2", 0.0045, published="2026-11-06T00:00:00Z")])
    report = _run(dry_run=True)
    found = _by_id(report)
    sydney, dublin = found["ml-sydney"], found["ml-dublin"]
    assert sydney.monthly_usd == round(10 * 1024 * (0.025 - 0.0045), 2)
    assert "AWS Price List API, S3 Standard storage per GB-month, ap-southeast-2" in str(sydney.price_source)
    assert "S3 Glacier Flexible Retrieval storage per GB-month" in str(sydney.price_source)
    assert dublin.monthly_usd is None and "10.0 TB in Standard could move to GLACIER" in str(dublin.price_source)
    assert "unknown: no s3:STANDARD price for eu-west-1" in str(dublin.price_source)
    assert found["ml-training"].region == "us-east-1"  # the home region: the offline table, no Price List call
    assert report.pricing_calls["pricing:GetProducts"] == 10  # 5 documented classes × 2 regions, once
