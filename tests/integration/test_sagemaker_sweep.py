"""SageMaker in the nightly sweep, against the moto server: every endpoint verdict on a labelled fleet (zero
traffic, traffic with idle GPUs, busy, new, exempt, serverless, multi-variant), only the candidates described,
mark → delete after the grace period with the config and model kept, restore from the record, notebook instances
marked then stopped, and dry-run changing nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cost_janitor.adapters.ledger import Ledger
from cost_janitor.capabilities import idle_sweep, restore
from cost_janitor.core.errors import RestoreRefused
from cost_janitor.core.models import ActionKind, Ask, Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import realized_savings
from cost_janitor.families import endpoints as endpoint_family
from cost_janitor.local.emulator import LocalAws, MetricSeeder, seed_endpoint, seed_endpoint_metrics, seed_notebook
from cost_janitor.settings import Settings
from tests.integration.fleet import DEV, PROD, night

END = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
NIGHT1, NIGHT2 = night(END, 0), night(END, 1)
HOURS = 9 * 24
POLICY = Policy.model_validate({"idle": {"services": ["sagemaker"]},
                                "sagemaker": {"delete_idle_dev_endpoints": True}})
G5 = "ml.g5.xlarge"


@pytest.fixture
def ml(aws: LocalAws, janitor: Any) -> dict[str, Any]:
    janitor(POLICY)
    seeder = MetricSeeder(aws.client("cloudwatch"))
    month_ago = END - timedelta(days=30)

    def endpoint(name: str, tags: dict[str, str], variants: list[tuple[str, str | None, int]], *,
                 created: datetime = month_ago, hours: int = HOURS, **per_variant: dict[str, Any]) -> None:
        seed_endpoint(aws, name, variants=variants, tags={"Name": name, **tags}, created=created)
        for variant, instance_type, _ in variants:
            if instance_type:  # instance metrics exist only for instance-backed variants
                seed_endpoint_metrics(seeder, name, variant, end=END, hours=hours,
                                      **{"invocations_per_hour": 0, **per_variant.get(variant, {})})
            elif per_variant.get(variant, {}).get("invocations_per_hour"):
                seeder.series("AWS/SageMaker", "Invocations", {"EndpointName": name, "VariantName": variant},
                              [per_variant[variant]["invocations_per_hour"]] * hours, end=END)

    endpoint("idle-dev", DEV, [("AllTraffic", G5, 1)], AllTraffic={"gpus": [0.0]})
    endpoint("underused-prod", PROD, [("AllTraffic", "ml.g5.12xlarge", 2)],
             AllTraffic={"invocations_per_hour": 50, "gpus": [3.0] * 4})
    endpoint("busy", DEV, [("AllTraffic", G5, 1)], AllTraffic={"invocations_per_hour": 3000, "gpus": [80.0]})
    endpoint("new", DEV, [("AllTraffic", G5, 1)], created=END - timedelta(days=2), hours=48,
             AllTraffic={"gpus": [0.0]})
    endpoint("kept", {**DEV, "cost-janitor:keep-until": "2026-12-31"}, [("AllTraffic", G5, 1)],
             AllTraffic={"gpus": [0.0]})
    endpoint("serverless", DEV, [("AllTraffic", None, 0)], AllTraffic={"invocations_per_hour": 5})
    endpoint("multi", DEV, [("Champion", G5, 1), ("Challenger", G5, 1)],
             Champion={"invocations_per_hour": 900, "gpus": [70.0]}, Challenger={"gpus": [0.0]})
    seeder.flush()
    seed_notebook(aws, "ana-nb", instance_type="ml.g4dn.xlarge", tags={"Name": "ana-nb", **DEV},
                  started=NIGHT1 - timedelta(hours=20))
    seed_notebook(aws, "bo-nb", instance_type="ml.t3.medium", tags={"Name": "bo-nb", **PROD},
                  started=NIGHT1 - timedelta(hours=30), lifecycle_config="auto-stop")
    seed_notebook(aws, "fresh-nb", instance_type="ml.t3.medium", tags={"Name": "fresh-nb", **DEV},
                  started=NIGHT1 - timedelta(hours=2), lifecycle_config="auto-stop-2")
    return {"aws": aws, "sm": aws.client("sagemaker")}


def _run(now: datetime, *, dry_run: bool, policy: Policy = POLICY) -> Any:
    return idle_sweep.run(policy, Settings.from_env(), now=now, run_id=f"run-{now:%d%H%M}", dry_run=dry_run)


def _by_name(report: Any) -> dict[str, Any]:
    return {f.resource_id: f for f in report.findings}


def test_every_endpoint_and_notebook_verdict(ml: dict[str, Any]) -> None:
    report = _run(NIGHT1, dry_run=True)
    got = {name: (f.verdict, f.action) for name, f in _by_name(report).items()}
    assert got == {
        "idle-dev": (Verdict.IDLE, ActionKind.MARK_IDLE),
        "underused-prod": (Verdict.UNDERUSED, Ask.RIGHT_SIZE),
        "busy": (Verdict.BUSY, None),
        "new": (Verdict.INSUFFICIENT_DATA, None),
        "kept": (Verdict.EXEMPT, None),
        "serverless": (Verdict.SERVERLESS, None),
        "multi": (Verdict.UNDERUSED, Ask.RIGHT_SIZE),
        "ana-nb": (Verdict.LEFT_RUNNING, ActionKind.MARK_IDLE),
        "bo-nb": (Verdict.LEFT_RUNNING, Ask.JUSTIFY),
        "fresh-nb": (Verdict.STARTED_RECENTLY, None),
    }
    found = _by_name(report)
    assert found["idle-dev"].monthly_usd == round(1.408 * 730, 2)
    assert found["underused-prod"].monthly_usd == round(2 * 7.09 * 730, 2)
    assert "fewer instances (2 now)" in " ".join(found["underused-prod"].notes)
    assert "Challenger" in found["multi"].reason and "remove variant" in " ".join(found["multi"].notes)
    assert found["serverless"].monthly_usd is None
    assert any("no lifecycle configuration" in n for n in found["ana-nb"].notes)
    assert found["idle-dev"].evidence["invocations"] == 0  # its series exists (requests 10 days ago), none since


def test_reads_are_batched_and_only_candidates_are_described(ml: dict[str, Any]) -> None:
    report = _run(NIGHT1, dry_run=True)
    calls = {k.removeprefix("sagemaker:"): v for k, v in report.api_calls.items()}
    # one page each for the lists and the tags (none for Studio apps: no domain), 4 ListMetrics (Invocations,
    # CPU, GPU, GPU memory), one GetMetricData for every series; DescribeEndpoint for the 5 candidates (idle,
    # underused, new, serverless, multi) — never the busy or the kept one — after one look for descriptions saved
    # by earlier runs
    assert calls == {"ListEndpoints": 1, "GetResources": 2, "ListNotebookInstances": 1, "ListMetrics": 4,
                     "GetMetricData": 1, "BatchGetItem (descriptions)": 1, "DescribeEndpoint": 5,
                     "DescribeEndpointConfig": 5, "ListDomains": 1}
    # the next night, nothing updated: the descriptions are the saved ones, and the verdicts the same
    again = _run(NIGHT1 + timedelta(hours=1), dry_run=True)
    calls = {k.removeprefix("sagemaker:"): v for k, v in again.api_calls.items()}
    assert "DescribeEndpoint" not in calls and calls["BatchGetItem (descriptions)"] == 1
    assert {f.resource_id: (f.verdict, f.monthly_usd) for f in again.findings} == {
        f.resource_id: (f.verdict, f.monthly_usd) for f in report.findings}
    # an endpoint updated since (new LastModifiedTime) is described again
    from cost_janitor.local.emulator import backdate
    backdate("idle-dev", END - timedelta(days=20))
    third = _run(NIGHT1 + timedelta(hours=2), dry_run=True)
    assert third.api_calls["sagemaker:DescribeEndpoint"] == 1


def test_dry_run_changes_nothing(ml: dict[str, Any]) -> None:
    sm = ml["sm"]
    before = (sm.list_endpoints()["Endpoints"], sm.list_notebook_instances()["NotebookInstances"],
              {e["EndpointName"]: sm.list_tags(ResourceArn=e["EndpointArn"])["Tags"]
               for e in sm.list_endpoints()["Endpoints"]})
    report = _run(NIGHT1, dry_run=True)
    assert {f.action_status for f in report.findings if isinstance(f.action, ActionKind)} == {"dry-run"}
    after = (sm.list_endpoints()["Endpoints"], sm.list_notebook_instances()["NotebookInstances"],
             {e["EndpointName"]: sm.list_tags(ResourceArn=e["EndpointArn"])["Tags"]
              for e in sm.list_endpoints()["Endpoints"]})
    assert after == before


def test_an_idle_dev_endpoint_is_marked_deleted_and_restored_exactly(ml: dict[str, Any]) -> None:
    sm = ml["sm"]
    first = _by_name(_run(NIGHT1, dry_run=False))
    assert (first["idle-dev"].action, first["idle-dev"].action_status) == (ActionKind.MARK_IDLE, "done")
    arn = sm.describe_endpoint(EndpointName="idle-dev")["EndpointArn"]
    tags_before = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert "cost-janitor:idle-since" in tags_before

    second = _by_name(_run(NIGHT2, dry_run=False))
    assert (second["idle-dev"].action, second["idle-dev"].action_status) == (ActionKind.DELETE_ENDPOINT, "done")
    assert "idle-dev" not in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]}
    config = sm.describe_endpoint_config(EndpointConfigName="idle-dev-config")  # the config stays...
    sm.describe_model(ModelName="idle-dev-model")  # ...and so does the model
    assert {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=config["EndpointConfigArn"])["Tags"]} == {
        "cost-janitor:deleted-endpoint": "idle-dev"}
    ledger = Ledger(ml["aws"].client("dynamodb"), Settings.from_env().ledger_table or "")
    [deleted] = [e for e in ledger.history("idle-dev") if e.action == "delete-endpoint"]
    evidence = json.loads(deleted.evidence)
    assert (evidence["endpoint_config"], evidence["models"]) == ("idle-dev-config", "idle-dev-model")
    # every other endpoint is untouched: the prod one is only asked, busy/new/kept/serverless have no action
    assert {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]} == {
        "underused-prod", "busy", "new", "kept", "serverless", "multi"}

    restored = restore.run("idle-dev", POLICY, Settings.from_env(), actor="ana@example.com",
                           now=NIGHT2 + timedelta(hours=10))
    assert (restored.action, restored.action_status) == (ActionKind.RESTORE_ENDPOINT, "done")
    back = sm.describe_endpoint(EndpointName="idle-dev")
    assert back["EndpointConfigName"] == "idle-dev-config" and back["EndpointStatus"] == "InService"
    tags_after = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=back["EndpointArn"])["Tags"]}
    assert tags_after == {k: v for k, v in tags_before.items() if k != "cost-janitor:idle-since"}
    # the deletion saved its hourly price for the 10 hours it was gone, and no more
    saved = realized_savings(ledger.history("idle-dev"), start=NIGHT2 - timedelta(days=1),
                             end=NIGHT2 + timedelta(days=1))
    assert saved.realized_usd == round(1.408 * 10, 2)
    with pytest.raises(RestoreRefused, match="already restored"):
        restore.run("idle-dev", POLICY, Settings.from_env(), actor="ana@example.com", now=NIGHT2 + timedelta(hours=11))


def test_an_endpoint_the_janitor_never_deleted_cannot_be_restored(ml: dict[str, Any]) -> None:
    with pytest.raises(RestoreRefused, match="no record of deleting"):
        restore.run("busy", POLICY, Settings.from_env(), actor="ana@example.com", now=NIGHT2)


def test_a_dev_notebook_left_on_is_marked_then_stopped_and_prod_is_only_asked(ml: dict[str, Any]) -> None:
    sm = ml["sm"]
    _run(NIGHT1, dry_run=False)
    second = _by_name(_run(NIGHT2, dry_run=False))
    assert (second["ana-nb"].action, second["ana-nb"].action_status) == (ActionKind.STOP_NOTEBOOK, "done")
    status = {n["NotebookInstanceName"]: n["NotebookInstanceStatus"]
              for n in sm.list_notebook_instances()["NotebookInstances"]}
    assert status == {"ana-nb": "Stopped", "bo-nb": "InService", "fresh-nb": "InService"}
    arn = sm.describe_notebook_instance(NotebookInstanceName="ana-nb")["NotebookInstanceArn"]
    assert "cost-janitor:idle-since" not in {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


def test_a_deletion_is_not_made_when_the_endpoint_was_kept_in_between(ml: dict[str, Any]) -> None:
    sm = ml["sm"]
    _run(NIGHT1, dry_run=False)
    arn = sm.describe_endpoint(EndpointName="idle-dev")["EndpointArn"]
    endpoints = endpoint_family.FAMILY
    original = endpoints.recheck

    def kept_meanwhile(region: str, planned: Any, night: Any) -> Any:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "cost-janitor:keep-until", "Value": "2026-12-31"}])
        return original(region, planned, night)

    endpoints.recheck = kept_meanwhile  # type: ignore[method-assign]
    try:
        second = _by_name(_run(NIGHT2, dry_run=False))
    finally:
        del endpoints.recheck  # type: ignore[attr-defined]
    assert second["idle-dev"].action is None and "kept" in " ".join(second["idle-dev"].notes)
    assert sm.describe_endpoint(EndpointName="idle-dev")["EndpointStatus"] == "InService"


def test_the_cli_restores_a_deleted_endpoint_and_sweeps_only_the_services_asked(ml: dict[str, Any]) -> None:
    from tests.integration.test_cli import _cli

    _run(NIGHT1, dry_run=False)
    _run(NIGHT2, dry_run=False)
    assert "idle-dev" not in {e["EndpointName"] for e in ml["sm"].list_endpoints()["Endpoints"]}
    restored = _cli("restore", "idle-dev")
    assert restored.returncode == 0, restored.stderr
    assert "restored idle-dev in us-east-1 from EndpointConfig idle-dev-config" in restored.stdout
    assert ml["sm"].describe_endpoint(EndpointName="idle-dev")["EndpointStatus"] == "InService"
    again = _cli("restore", "idle-dev")
    assert again.returncode == 2 and "already restored" in again.stderr and "Traceback" not in again.stderr
    unknown = _cli("restore", "never-deleted")
    assert unknown.returncode == 2 and "no record of deleting" in unknown.stderr

    swept = _cli("sweep", "--services", "sagemaker", "--json")
    assert swept.returncode == 0, swept.stderr
    types = {f["resource_type"] for f in json.loads(swept.stdout)["findings"]}
    assert types == {"sagemaker:endpoint", "sagemaker:notebook-instance"}
    bad = _cli("sweep", "--services", "ec2,lambda")
    assert bad.returncode == 2 and "choose from ec2, sagemaker" in bad.stderr


def test_restore_from_slack_by_the_owner_only(ml: dict[str, Any], slack: Any) -> None:
    from cost_janitor.adapters.ledger import MessageState, SlackState
    from cost_janitor.slack_blocks import render
    from tests.integration.slack_helpers import button, click
    from tests.integration.slack_world import ANA, BO, act

    _run(NIGHT1, dry_run=False)
    deleted = _by_name(_run(NIGHT2, dry_run=False))["idle-dev"]
    assert deleted.action_status == "done"
    blocks = render([deleted], POLICY)["blocks"]
    assert json.loads(button(blocks, "restore", "idle-dev"))["resource"] == "idle-dev"
    assert "Restore (or `cost-janitor restore idle-dev --region us-east-1`)" in json.dumps(blocks)
    SlackState(ml["aws"].client("dynamodb"), str(Settings.from_env().ledger_table)).save_message(MessageState(
        channel="D0ANA0001", ts="1.000001", run_id=deleted.run_id, recipient=ANA, findings=[deleted]))
    where = {"channel": "D0ANA0001", "ts": "1.000001", "response_url": slack.response_url()}
    act(click("restore", resource="idle-dev", user=BO, **where))  # not hers: refused, nothing created
    assert "idle-dev" not in {e["EndpointName"] for e in ml["sm"].list_endpoints()["Endpoints"]}
    act(click("restore", resource="idle-dev", user=ANA, **where))
    assert ml["sm"].describe_endpoint(EndpointName="idle-dev")["EndpointStatus"] == "InService"
    replies = [json.dumps(c.args) for c in slack.of("response_url")]
    assert any("Only the owner of `idle-dev`" in r for r in replies)
    assert any(f"Restored at the request of <@{ANA}>" in r for r in replies)


def test_the_emulator_answers_as_sagemaker_does(ml: dict[str, Any]) -> None:
    """Where moto was more lenient than SageMaker and the janitor depends on it (see emulator._patch_sagemaker)."""
    from botocore.exceptions import ClientError

    sm = ml["sm"]
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sm.create_endpoint(EndpointName="busy", EndpointConfigName="busy-config")
    arn = sm.describe_endpoint(EndpointName="busy")["EndpointArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "cost-janitor:keep-until", "Value": "2026-12-01"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "cost-janitor:keep-until", "Value": "2026-12-31"}])
    keeps = [t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"] if t["Key"] == "cost-janitor:keep-until"]
    assert keeps == ["2026-12-31"]
    before = sm.describe_notebook_instance(NotebookInstanceName="fresh-nb")["LastModifiedTime"]
    sm.stop_notebook_instance(NotebookInstanceName="fresh-nb")
    stopped = sm.describe_notebook_instance(NotebookInstanceName="fresh-nb")
    assert stopped["NotebookInstanceStatus"] == "Stopped" and stopped["LastModifiedTime"] > before


@pytest.fixture
def studio(aws: LocalAws, janitor: Any) -> dict[str, Any]:
    from cost_janitor.local.emulator import seed_studio_app, seed_studio_domain

    policy = Policy.model_validate({"idle": {"services": ["sagemaker"]},
                                    "sagemaker": {"enable_studio_idle_shutdown": True,
                                                  "delete_studio_accelerator_apps": True}})
    janitor(policy)
    research = seed_studio_domain(aws, "research", tags=DEV, idle_shutdown=False)
    serving = seed_studio_domain(aws, "serving", tags=PROD, idle_shutdown=True)
    seed_studio_app(aws, research, user_profile="ana", app_type="JupyterLab", instance_type="ml.g5.xlarge",
                    tags=DEV, created=NIGHT1 - timedelta(hours=30))
    seed_studio_app(aws, research, user_profile="ana", app_type="CodeEditor", instance_type="ml.t3.medium",
                    tags=DEV, created=NIGHT1 - timedelta(days=5))
    seed_studio_app(aws, serving, user_profile="bo", app_type="JupyterLab", instance_type="ml.g5.12xlarge",
                    tags=PROD, created=NIGHT1 - timedelta(hours=40))
    return {"policy": policy, "sm": aws.client("sagemaker"), "research": research, "serving": serving}


def test_studio_domains_get_idle_shutdown_and_dev_gpu_apps_are_deleted_after_the_grace(studio: dict[str, Any]) -> None:
    sm, policy = studio["sm"], studio["policy"]
    first = _by_name(_run(NIGHT1, dry_run=False, policy=policy))
    research, serving = studio["research"], studio["serving"]
    assert (first[research].verdict, first[research].action, first[research].action_status) == (
        Verdict.NO_IDLE_SHUTDOWN, ActionKind.ENABLE_IDLE_SHUTDOWN, "done")
    assert first[serving].verdict == Verdict.COMPLIANT
    settings = sm.describe_domain(DomainId=research)["DefaultUserSettings"]
    for app_settings in ("JupyterLabAppSettings", "CodeEditorAppSettings"):
        assert settings[app_settings]["AppLifecycleManagement"]["IdleSettings"] == {
            "LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": 60}
    assert settings["ExecutionRole"].endswith("role/sagemaker")  # the rest of the domain's settings untouched...
    assert settings["JupyterLabAppSettings"]["DefaultResourceSpec"] == {"InstanceType": "ml.t3.medium"}
    assert settings["JupyterLabAppSettings"]["LifecycleConfigArns"][0].endswith("install-team-tools")  # ...the block
    gpu = f"{research}/ana/JupyterLab/default"
    assert (first[gpu].verdict, first[gpu].action) == (Verdict.ACCELERATOR_APP_RUNNING, ActionKind.MARK_IDLE)
    assert first[gpu].monthly_usd == round(1.408 * 730, 2) and "user profile ana" in first[gpu].reason
    assert f"{research}/ana/CodeEditor/default" not in first  # a CPU app is not a finding
    assert first[f"{serving}/bo/JupyterLab/default"].action == Ask.JUSTIFY  # prod: asked, never deleted

    second = _by_name(_run(NIGHT2, dry_run=False, policy=policy))
    assert (second[gpu].action, second[gpu].action_status) == (ActionKind.DELETE_APP, "done")
    status = {(a["UserProfileName"], a["AppType"]): a["Status"] for a in sm.list_apps()["Apps"]}
    assert status == {("ana", "JupyterLab"): "Deleted", ("ana", "CodeEditor"): "InService",
                      ("bo", "JupyterLab"): "InService"}


def test_busy_async_and_inference_component_endpoints_are_never_deleted(aws: LocalAws, janitor: Any) -> None:
    """Deletion opted in, two nights: an asynchronous endpoint publishes no Invocations and one hosting inference
    components publishes them per component — neither absent series reads as zero traffic."""
    janitor(POLICY)
    seeder = MetricSeeder(aws.client("cloudwatch"))
    month_ago = END - timedelta(days=30)
    for name, kind in (("async-busy", "async"), ("async-unknown", "async"), ("components", "inference-components")):
        seed_endpoint(aws, name, variants=[("AllTraffic", G5, 1)], tags={"Name": name, **DEV}, created=month_ago,
                      kind=kind)
        seed_endpoint_metrics(seeder, name, "AllTraffic", end=END, hours=HOURS, invocations_per_hour=None,
                              gpus=[0.0])
    # the async endpoint's own metrics (docs: "Monitoring asynchronous endpoints"), dimension EndpointName only
    seeder.series("AWS/SageMaker", "ApproximateBacklogSize", {"EndpointName": "async-busy"}, [4.0] * HOURS, end=END)
    seeder.series("AWS/SageMaker", "InvocationsProcessed", {"EndpointName": "async-busy"}, [120.0] * HOURS, end=END)
    seeder.flush()
    first = _by_name(_run(NIGHT1, dry_run=False))
    second = _by_name(_run(NIGHT2, dry_run=False))
    assert (first["async-busy"].verdict, second["async-busy"].verdict) == (Verdict.BUSY, Verdict.BUSY)
    assert int(first["async-busy"].evidence["invocations_processed"] or 0) > 0
    for name in ("async-unknown", "components"):
        assert (first[name].verdict, second[name].verdict) == (Verdict.CANNOT_JUDGE, Verdict.CANNOT_JUDGE), name
    sm = aws.client("sagemaker")
    for name in ("async-busy", "async-unknown", "components"):
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
        arn = sm.describe_endpoint(EndpointName=name)["EndpointArn"]
        tags = {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
        assert "cost-janitor:idle-since" not in tags, name


def test_a_cloudformation_endpoint_is_restored_without_its_aws_tags_and_a_busy_name_is_said_plainly(
        ml: dict[str, Any]) -> None:
    """CloudFormation, CDK and SageMaker Projects leave aws: tags, which CreateEndpoint refuses; a name still being
    deleted and a name in use are two different answers."""
    from cost_janitor.local.emulator import set_endpoint_status, system_tags

    sm = ml["sm"]
    system_tags("idle-dev", {"aws:cloudformation:stack-name": "ml-serving", "aws:cloudformation:logical-id": "Ep"})
    _run(NIGHT1, dry_run=False)
    assert _by_name(_run(NIGHT2, dry_run=False))["idle-dev"].action_status == "done"
    sm.create_endpoint(EndpointName="idle-dev", EndpointConfigName="idle-dev-config")  # someone else, meanwhile
    set_endpoint_status("idle-dev", "Deleting")
    with pytest.raises(RestoreRefused, match="still being deleted"):
        restore.run("idle-dev", POLICY, Settings.from_env(), actor="ana@example.com", now=NIGHT2 + timedelta(hours=1))
    set_endpoint_status("idle-dev", "InService")
    with pytest.raises(RestoreRefused, match="exists already"):
        restore.run("idle-dev", POLICY, Settings.from_env(), actor="ana@example.com", now=NIGHT2 + timedelta(hours=1))
    sm.delete_endpoint(EndpointName="idle-dev")
    done = restore.run("idle-dev", POLICY, Settings.from_env(), actor="ana@example.com",
                       now=NIGHT2 + timedelta(hours=2))
    assert done.action_status == "done"
    arn = sm.describe_endpoint(EndpointName="idle-dev")["EndpointArn"]
    tags = {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert "Name" in tags and not any(k.startswith("aws:") for k in tags)


@pytest.mark.parametrize("key_policy_allows", [True, False], ids=["key-policy-delegates-to-iam", "key-policy-refuses"])
def test_restoring_an_endpoint_whose_config_a_customer_key_encrypts(aws: LocalAws, janitor: Any,
                                                                    key_policy_allows: bool) -> None:
    janitor(POLICY)
    kms = aws.client("kms")
    other = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ml-admins"}, "Action": "kms:*",
        "Resource": "*"}]}
    key = kms.create_key()["KeyMetadata"]["Arn"]  # its default policy delegates to IAM (the account root)
    seeder = MetricSeeder(aws.client("cloudwatch"))
    seed_endpoint(aws, "secure-dev", variants=[("AllTraffic", G5, 1)], tags={"Name": "secure-dev", **DEV},
                  created=END - timedelta(days=30), kms_key_id=key)
    seed_endpoint_metrics(seeder, "secure-dev", "AllTraffic", end=END, hours=HOURS, invocations_per_hour=0,
                          gpus=[0.0])
    seeder.flush()
    if not key_policy_allows:  # changed after the endpoint was made: only the ML admins' role may use it now
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(other))
    _run(NIGHT1, dry_run=False)
    assert _by_name(_run(NIGHT2, dry_run=False))["secure-dev"].action_status == "done"
    later = NIGHT2 + timedelta(hours=3)
    if key_policy_allows:
        done = restore.run("secure-dev", POLICY, Settings.from_env(), actor="ana@example.com", now=later)
        assert done.action_status == "done"
        return
    with pytest.raises(RestoreRefused, match=r"could not use the KMS key .* kms:CreateGrant and kms:DescribeKey"):
        restore.run("secure-dev", POLICY, Settings.from_env(), actor="ana@example.com", now=later)
    assert "secure-dev" not in {e["EndpointName"] for e in aws.client("sagemaker").list_endpoints()["Endpoints"]}


def test_studio_app_arns_are_the_ones_sagemaker_returns_not_built_by_hand(studio: dict[str, Any],
                                                                         aws: LocalAws) -> None:
    """ListApps returns no ARN and SageMaker writes app ARNs in lower case: a profile named Ana-Lee still gets her
    tags (from the tagging API's ARN) and her mark; an untagged GPU app is described for its AppArn."""
    from cost_janitor.local.emulator import seed_studio_app

    research = studio["research"]
    tagged = seed_studio_app(aws, research, user_profile="Ana-Lee", app_type="JupyterLab",
                             instance_type="ml.g5.xlarge", tags={**DEV, "owner": "ana@example.com"},
                             created=NIGHT1 - timedelta(hours=30))
    untagged = seed_studio_app(aws, research, user_profile="Cy", app_type="JupyterLab", instance_type="ml.g5.xlarge",
                               tags={}, created=NIGHT1 - timedelta(hours=30))
    report = _run(NIGHT1, dry_run=False, policy=studio["policy"])
    found = _by_name(report)
    ana, cy = found[f"{research}/Ana-Lee/JupyterLab/default"], found[f"{research}/Cy/JupyterLab/default"]
    assert (ana.resource_arn, ana.owner, ana.action, ana.action_status) == (
        tagged, "ana@example.com", ActionKind.MARK_IDLE, "done")
    assert cy.resource_arn == untagged and cy.action == Ask.JUSTIFY  # untagged: prod by default, only asked
    sm = studio["sm"]
    assert "cost-janitor:idle-since" in {t["Key"] for t in sm.list_tags(ResourceArn=tagged)["Tags"]}
    assert report.api_calls["sagemaker:DescribeApp"] == 1  # only the untagged accelerator app
