"""Prices the offline table does not know come from the AWS Price List API (the emulator's GetProducts stand-in,
answering in botocore's documented shape from fixtures): an idle box in ap-southeast-2 gets its dollars with the
source and its publication date; a type the API does not know stays unpriced, never guessed. Each call is held to the
sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.models import Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import ec2, endpoints
from cost_janitor.local.emulator import LocalAws, MetricSeeder, seed_endpoint, seed_endpoint_metrics
from cost_janitor.local.emulator.seeding import ec2_price_product, sagemaker_price_product, seed_price_list
from cost_janitor.settings import Settings
from tests.integration.fleet import DEV, Fleet, night

REGION = "ap-southeast-2"
POLICY = Policy.model_validate({"regions": [REGION]})


def test_a_box_in_a_region_the_table_does_not_know_is_priced_through_the_price_list(aws: LocalAws,
                                                                                     janitor: Any) -> None:
    janitor(POLICY)
    fleet = Fleet(aws, datetime.now(UTC).replace(minute=0, second=0, microsecond=0), region=REGION)
    fleet.add("idle-priced", "m5.large", DEV, cpu=0.5)
    fleet.add("idle-unknown", "m6a.large", DEV, cpu=0.5)
    fleet.done()
    seed_price_list([ec2_price_product("m5.large", REGION, 0.12, published="2026-11-20T00:00:00Z"),
                     ec2_price_product("m5.large", "us-west-1", 0.11)])  # another region: never taken for this one
    report = idle_sweep.run(POLICY, Settings.from_env(), now=night(fleet.end, 0), run_id="night-1", dry_run=True,
                            families=[ec2.FAMILY])
    found = {f.resource_id: f for f in report.findings}
    priced, unknown = found[fleet.ids["idle-priced"]], found[fleet.ids["idle-unknown"]]
    assert priced.verdict == Verdict.IDLE and priced.monthly_usd == round(0.12 * 730, 2)
    assert priced.price_source == "AWS Price List API, on-demand Linux, ap-southeast-2, published 2026-11-20"
    assert unknown.monthly_usd is None and str(unknown.price_source).startswith("unknown")
    assert report.api_calls["pricing:GetProducts"] == 2  # one per type the table does not know, this night


def test_an_ml_g6e_endpoint_in_eu_central_1_is_priced_through_the_price_list(aws: LocalAws, janitor: Any) -> None:
    """The done-when of #26 for SageMaker: an idle ml.g6e endpoint in eu-central-1 (neither the type nor the region is
    in the offline table) gets the hosting price the Price List API gives, with its source and date; a notebook price
    of the same type is never taken for hosting; a type the API does not know stays unpriced."""
    region = "eu-central-1"
    policy = Policy.model_validate({"regions": [region], "idle": {"services": ["sagemaker"]}})
    janitor(policy)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    seeder = MetricSeeder(aws.client("cloudwatch", region))
    for name, instance_type in (("g6e-dev", "ml.g6e.xlarge"), ("mystery-dev", "ml.g7x.xlarge")):
        seed_endpoint(aws, name, variants=[("AllTraffic", instance_type, 2)], tags={"Name": name, **DEV},
                      created=end - timedelta(days=30), region=region)
        seed_endpoint_metrics(seeder, name, "AllTraffic", end=end, hours=9 * 24, invocations_per_hour=0,
                              gpus=[0.0])
    seeder.flush()
    seed_price_list([sagemaker_price_product("ml.g6e.xlarge", region, 2.5, published="2026-11-01T00:00:00Z"),
                     sagemaker_price_product("ml.g6e.xlarge", region, 2.2, use="Notebook")])
    report = idle_sweep.run(policy, Settings.from_env(), now=night(end, 0), run_id="night-1", dry_run=True,
                            families=[endpoints.FAMILY])
    found = {f.resource_id: f for f in report.findings}
    priced, unknown = found["g6e-dev"], found["mystery-dev"]
    assert priced.verdict == Verdict.IDLE and priced.monthly_usd == round(2.5 * 730 * 2, 2)
    assert priced.price_source == "AWS Price List API, SageMaker AI hosting, eu-central-1, published 2026-11-01"
    assert unknown.verdict == Verdict.IDLE and unknown.monthly_usd is None
    assert str(unknown.price_source).startswith("unknown")
    assert report.api_calls["pricing:GetProducts"] == 2  # one per (type, region) the table does not know


def test_prices_read_from_the_price_list_are_kept_a_week_in_the_ledger(aws: LocalAws, janitor: Any) -> None:
    """#26: "cached in the ledger with the date read, refreshed weekly": the second night asks the API nothing (the
    price and the unknown type come from the ledger); a week later it asks again."""
    janitor(POLICY)
    fleet = Fleet(aws, datetime.now(UTC).replace(minute=0, second=0, microsecond=0), region=REGION)
    fleet.add("idle-priced", "m5.large", DEV, cpu=0.5)
    fleet.add("idle-unknown", "m6a.large", DEV, cpu=0.5)
    fleet.done()
    seed_price_list([ec2_price_product("m5.large", REGION, 0.12, published="2026-11-20T00:00:00Z")])

    def sweep(at: datetime) -> tuple[dict[str, Any], dict[str, int]]:
        report = idle_sweep.run(POLICY, Settings.from_env(), now=at, run_id=f"night-{at:%d}", dry_run=True,
                                families=[ec2.FAMILY])
        return {f.resource_id: f for f in report.findings}, dict(report.api_calls)

    first, calls = sweep(night(fleet.end, 0))
    assert calls["pricing:GetProducts"] == 2
    second, calls = sweep(night(fleet.end, 0) + timedelta(days=1))
    assert "pricing:GetProducts" not in calls and calls["dynamodb:BatchGetItem (prices)"] == 1
    assert second[fleet.ids["idle-priced"]].monthly_usd == round(0.12 * 730, 2)
    assert second[fleet.ids["idle-priced"]].price_source == first[fleet.ids["idle-priced"]].price_source
    assert second[fleet.ids["idle-unknown"]].monthly_usd is None
    _, calls = sweep(night(fleet.end, 0) + timedelta(days=8))
    assert calls["pricing:GetProducts"] == 2  # a week on: read again


def test_storage_rates_outside_the_offline_table_come_from_the_price_list(aws: LocalAws, janitor: Any) -> None:
    """#26 "what the new families need": an idle EFS file system in eu-west-1 is priced at the Price List API's
    Standard storage rate (the table has only us-east-1's), an unattached gp3 volume in eu-west-1 at the API's gp3
    rate, with source and date; an st1 volume the API has no rate for stays unpriced (never us-east-1's), and an
    old snapshot likewise. Each (rate, region) is asked once."""
    from cost_janitor.capabilities import storage_lifecycle
    from cost_janitor.families import efs as efs_family
    from cost_janitor.local.emulator.seeding import rate_price_product, seed_efs_metrics, seed_file_system

    region = "eu-west-1"
    policy = Policy.model_validate({"regions": [region], "idle": {"services": ["efs"], "lookback_days": 2}})
    janitor(policy)
    now = (datetime.now(UTC) - timedelta(minutes=5)).replace(minute=5, second=0, microsecond=0)
    seed_price_list([rate_price_product("efs:standard", region, 0.33, published="2026-11-02T00:00:00Z"),
                     rate_price_product("efs:standard", "us-east-1", 0.30),
                     rate_price_product("ebs:gp3", region, 0.088, published="2026-11-03T00:00:00Z"),
                     rate_price_product("ebs:gp2", region, 0.11)])  # gp2: another type, never taken for st1
    fs_id = seed_file_system(aws, tags={**DEV, "Name": "old-run"}, size_gb=800, region=region)
    seeder = MetricSeeder(aws.client("cloudwatch", region))
    seed_efs_metrics(seeder, fs_id, end=now, hours=48, connections=0, io_bytes=0)
    seeder.flush()
    report = idle_sweep.run(policy, Settings.from_env(), now=now, run_id="night-1", dry_run=True,
                            families=[efs_family.FAMILY])
    [finding] = [f for f in report.findings if f.resource_id == fs_id]
    assert finding.verdict == Verdict.IDLE and finding.monthly_usd == round(800 * 0.33, 2)
    assert str(finding.price_source).startswith(
        "AWS Price List API, EFS Standard storage per GB-month, eu-west-1, published 2026-11-02")
    assert report.api_calls["pricing:GetProducts"] == 1

    ec2 = aws.client("ec2", region)
    volumes = {t: ec2.create_volume(AvailabilityZone=f"{region}a", Size=500, VolumeType=t, TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "environment", "Value": "dev"}]}])["VolumeId"]
        for t in ("gp3", "st1")}
    aws.client("logs", region).create_log_group(logGroupName="/ml/training")  # never expires
    seed_price_list([rate_price_product("logs:storage", region, 0.033, published="2026-11-07T00:00:00Z")])
    settings = Settings.from_env()
    storage_lifecycle.run(policy, settings, now=now, run_id="w1", dry_run=False, account="123456789012")
    week = storage_lifecycle.run(policy, settings, now=now + timedelta(days=15), run_id="w2", dry_run=True,
                                 account="123456789012")
    found = {f.resource_id: f for f in week.findings}
    gp3, st1 = found[volumes["gp3"]], found[volumes["st1"]]
    assert gp3.monthly_usd == round(500 * 0.088, 2)
    assert gp3.price_source == "AWS Price List API, EBS gp3 storage per GB-month, eu-west-1, published 2026-11-03"
    assert st1.monthly_usd is None and str(st1.price_source).startswith("unknown")
    logs = found["/ml/training"]  # its region's Logs rate, not us-east-1's
    assert "AWS Price List API, CloudWatch Logs storage per GB-month, eu-west-1" in str(logs.price_source)
    asked = week.pricing_calls["pricing:GetProducts"]
    assert asked >= 2  # gp3 and st1 (and the snapshot rate where the account has snapshots): 15 days on, asked again
    again = storage_lifecycle.run(policy, settings, now=now + timedelta(days=15, hours=1), run_id="w3", dry_run=True,
                                  account="123456789012")
    assert again.pricing_calls["pricing:GetProducts"] == 0  # within the week: the ledger's rates, the unknown too
    assert {f.resource_id: f.monthly_usd for f in again.findings}[volumes["gp3"]] == round(500 * 0.088, 2)


def test_notebooks_and_studio_apps_are_priced_as_what_they_are_billed_as(aws: LocalAws, janitor: Any) -> None:
    """#26 "SageMaker ml.* hosting/notebook/Studio": a notebook instance left on in eu-central-1 is priced at the
    Price List's notebook-instance price (platoinstancetype "Notebook"), a JupyterLab app at the Studio JupyterLab one
    — the hosting price of the same type is never taken for either; a Code Editor app whose use the API has no price
    for stays unpriced."""
    from cost_janitor.families import notebooks, studio
    from cost_janitor.local.emulator import seed_notebook, seed_studio_app, seed_studio_domain

    region = "eu-central-1"
    policy = Policy.model_validate({"regions": [region], "idle": {"services": ["sagemaker"]}})
    janitor(policy)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    seed_notebook(aws, "ana-nb", instance_type="ml.g5.xlarge", tags={"Name": "ana-nb", **DEV},
                  started=now - timedelta(hours=30), region=region)
    domain = seed_studio_domain(aws, "research", tags=DEV, idle_shutdown=True, region=region)
    seed_studio_app(aws, domain, user_profile="ana", app_type="JupyterLab", instance_type="ml.g5.2xlarge",
                    tags=DEV, created=now - timedelta(hours=30), region=region)
    seed_studio_app(aws, domain, user_profile="bo", app_type="CodeEditor", instance_type="ml.g5.2xlarge",
                    tags=DEV, created=now - timedelta(hours=30), region=region)
    seed_price_list([sagemaker_price_product("ml.g5.xlarge", region, 1.9, use="Hosting"),
                     sagemaker_price_product("ml.g5.xlarge", region, 1.7, use="Notebook",
                                             published="2026-11-03T00:00:00Z"),
                     sagemaker_price_product("ml.g5.2xlarge", region, 2.1, use="Studio-JupyterLab",
                                             published="2026-11-04T00:00:00Z"),
                     sagemaker_price_product("ml.g5.2xlarge", region, 2.4, use="Hosting")])
    report = idle_sweep.run(policy, Settings.from_env(), now=now, run_id="night-1", dry_run=True,
                            families=[notebooks.FAMILY, studio.FAMILY])
    found = {f.resource_id: f for f in report.findings if f.monthly_usd is not None or f.price_source}
    nb = found["ana-nb"]
    assert nb.monthly_usd == round(1.7 * 730, 2)
    assert nb.price_source == "AWS Price List API, SageMaker AI notebook instances, eu-central-1, published 2026-11-03"
    [lab] = [f for f in found.values() if "JupyterLab" in f.resource_id]
    assert lab.monthly_usd == round(2.1 * 730, 2) and "SageMaker AI Studio JupyterLab" in str(lab.price_source)
    [editor] = [f for f in found.values() if "CodeEditor" in f.resource_id]
    assert editor.monthly_usd is None and str(editor.price_source).startswith("unknown")
    assert report.api_calls["pricing:GetProducts"] == 3  # notebook, JupyterLab, Code Editor: one (use, type) each
