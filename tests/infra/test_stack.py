"""The synthesized stack: safety in IAM, encryption, dead letters, retention, and clean nag/lint reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from cost_janitor.core.models import ActionKind
from cost_janitor.core.policy import load_policy
from cost_janitor.families import permissions
from infra.settings import ROOT, load_cdk_json_context
from tests.infra.conftest import Synth


def _statements(synth: Synth, construct: str) -> list[dict[str, object]]:
    return [s for k, p in synth.role_policies().items() if k.startswith(construct)
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_cdk_nag_reports_no_unacknowledged_finding_and_every_acknowledgement_has_a_reason(synth: Synth) -> None:
    [nag] = [p for p in synth.report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    for suppressed in nag.get("suppressedViolations", []):
        assert len(suppressed["reason"]) > 30, suppressed["ruleName"]


def test_cfn_lint_passes_on_the_template(synth: Synth) -> None:
    templates = [str(p) for p in synth.outdir.glob("*.template.json")]
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), *templates], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_findings_and_ops_topics_use_a_rotating_customer_managed_key(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::SNS::Topic", 2)
    synth.template.all_resources_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    synth.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    for policy in synth.resources("AWS::SNS::TopicPolicy").values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert denies and denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_ledger_and_idempotency_tables_have_ttl_and_point_in_time_recovery(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::GlobalTable")
    assert len(tables) == 2
    ttl = sorted(t["Properties"]["TimeToLiveSpecification"]["AttributeName"] for t in tables.values())
    assert ttl == ["expiration", "expires_at"]
    for table in tables.values():
        [replica] = table["Properties"]["Replicas"]
        assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_function_and_rule_target_dead_letters_to_the_ssl_only_queue(synth: Synth) -> None:
    [dlq_id] = [k for k in synth.resources("AWS::SQS::Queue") if k.startswith("DeadLetters")]
    for fn in synth.resources("AWS::Lambda::Function").values():
        assert fn["Properties"]["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    for rule in synth.resources("AWS::Events::Rule").values():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
            assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    for queue_policy in synth.resources("AWS::SQS::QueuePolicy").values():
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in queue_policy["Properties"]["PolicyDocument"]["Statement"])
    for queue_id, queue in synth.resources("AWS::SQS::Queue").items():
        if queue_id != dlq_id:
            assert queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}


def test_functions_share_the_runtime_defaults(synth: Synth) -> None:
    [layer] = synth.resources("AWS::Lambda::LayerVersion")
    for fn in synth.resources("AWS::Lambda::Function").values():
        props = fn["Properties"]
        assert (props["Runtime"], props["Architectures"]) == ("python3.13", ["arm64"])
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON" and "LogGroup" in props["LoggingConfig"]
        assert "Role" in props and props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        assert props["Layers"] == [{"Ref": layer}]  # our own layer only: no public layer of another account
    for group in synth.resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 90


def _pins(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("#")[0].strip().split("==")
            out[name.lower().replace("_", "-")] = version
    return out


def test_the_lambda_layer_holds_exactly_the_versions_the_tests_ran() -> None:
    """Powertools, pydantic and slack-sdk in Lambda are what `make test` imported (pins equal constraints.txt,
    and the built layer carries those versions)."""
    from importlib.metadata import version

    layer = _pins((ROOT / "lambdas" / "requirements.txt").read_text())
    tested = _pins((ROOT / "constraints.txt").read_text())
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core", "slack-sdk"} <= set(layer)
    for name, pinned in layer.items():
        assert tested[name] == pinned == version(name), name
    built = {p.name.removesuffix(".dist-info").split("-")[0].lower().replace("_", "-"):
             p.name.removesuffix(".dist-info").split("-")[1]
             for p in (ROOT / "build" / "deps-layer" / "python").glob("*.dist-info")}
    assert built == layer


def test_idle_sweep_may_stop_only_dev_tagged_instances_and_never_terminate(synth: Synth) -> None:
    statements = _statements(synth, "IdleSweep")
    stops = [s for s in statements if "ec2:StopInstances" in json.dumps(s["Action"])]
    assert len(stops) == 1
    [stop] = stops
    assert stop["Effect"] == "Allow"
    values = stop["Condition"]["StringEqualsIgnoreCase"]["aws:ResourceTag/environment"]  # type: ignore[index]
    assert "dev" in values and "prod" not in values and "production" not in values
    never = {"Sid": "NeverTerminate", "Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "*"}
    assert never in statements
    writes = [s for s in statements if s.get("Sid") in ("MarkOnlyDevInstances", "UnmarkOnlyTheIdleTag")]
    assert all(s["Condition"]["ForAllValues:StringEquals"] == {"aws:TagKeys": ["cost-janitor:idle-since"]}  # type: ignore[index]
               for s in writes) and len(writes) == 2


ACTIONS_BY_FUNCTION = {
    "IdleSweep": [ActionKind.MARK_IDLE, ActionKind.UNMARK_IDLE, ActionKind.STOP, ActionKind.HIBERNATE,
                  ActionKind.TAG_GPU_AGENT, ActionKind.STOP_NOTEBOOK],
    "Answers": [ActionKind.STOP, ActionKind.KEEP, ActionKind.SNOOZE, ActionKind.REASSIGN, ActionKind.SET_TAGS,
                ActionKind.RESTORE_ENDPOINT],
    "SpotInterruption": [ActionKind.CHECKPOINT],
    "StorageLifecycle": [ActionKind.PUT_LIFECYCLE, ActionKind.MARK_UNATTACHED],
    "TagCompliance": [ActionKind.TAG_CREATED_BY],
}
OPT_IN_ACTIONS = {"StorageLifecycle": [ActionKind.SNAPSHOT_VOLUME, ActionKind.DELETE_VOLUME,
                                       ActionKind.SET_LOG_RETENTION],
                  "IdleSweep": [ActionKind.DELETE_ENDPOINT, ActionKind.ENABLE_IDLE_SHUTDOWN, ActionKind.DELETE_APP,
                                ActionKind.SCALE_NODEGROUP, ActionKind.CREATE_GATEWAY_ENDPOINT,
                                ActionKind.SET_EFS_LIFECYCLE, ActionKind.SET_ECR_LIFECYCLE,
                                ActionKind.DELETE_FILE_SYSTEM, ActionKind.DEREGISTER_IMAGE]}


def _allowed(synth: Synth, construct: str) -> set[str]:
    allowed: set[str] = set()
    for s in _statements(synth, construct):
        if s["Effect"] == "Allow":
            allowed |= set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])  # type: ignore[arg-type]
    return allowed


def test_every_action_kind_is_run_by_some_function() -> None:
    kinds = {k for table in (ACTIONS_BY_FUNCTION, OPT_IN_ACTIONS) for ks in table.values() for k in ks}
    assert kinds == set(ActionKind)


@pytest.mark.parametrize("construct", sorted(ACTIONS_BY_FUNCTION))
def test_each_role_grants_what_its_executor_actions_declare(synth_opt_in: Synth, construct: str) -> None:
    """With every family on (a family's actions are granted only where idle.services turns it on)."""
    assert set(permissions(ACTIONS_BY_FUNCTION[construct])) <= _allowed(synth_opt_in, construct)


def test_eks_node_groups_are_scaled_only_with_the_opt_in_and_only_when_dev(synth: Synth, synth_opt_in: Synth) -> None:
    everything = {a for k in synth.role_policies() for a in _allowed(synth, k.split("Role")[0])}
    # the family is off unless idle.services has eks (eks:TagResource is tag compliance's: the required cost tags)
    assert not {"eks:ListClusters", "eks:UpdateNodegroupConfig", "eks:UntagResource"} & everything
    [scale] = [s for s in _statements(synth_opt_in, "IdleSweep") if s.get("Sid") == "ScaleDevNodegroupsOptIn"]
    assert scale["Action"] == "eks:UpdateNodegroupConfig"
    assert "prod" not in json.dumps(scale["Condition"]) and "dev" in json.dumps(scale["Condition"])
    assert ":nodegroup/" in json.dumps(scale["Resource"]) and ":cluster/" not in json.dumps(scale["Resource"])
    [never] = [s for s in _statements(synth_opt_in, "IdleSweep") if s.get("Sid") == "NeverDeleteEks"]
    assert never["Effect"] == "Deny" and set(never["Action"]) == {"eks:DeleteNodegroup", "eks:DeleteCluster"}
    [answer] = [s for s in _statements(synth_opt_in, "Answers") if s.get("Sid") == "WriteOnlyAnswerTagsEks"]
    assert answer["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [  # type: ignore[index]
        "cost-janitor:keep-until", "cost-janitor:keep-reason", "cost-janitor:keep-by", "owner"]


def test_destructive_storage_actions_are_granted_only_with_their_opt_in(synth: Synth, synth_opt_in: Synth) -> None:
    destructive = {"ec2:DeleteVolume", "ec2:CreateSnapshot", "logs:PutRetentionPolicy"}
    everything = {a for k in synth.role_policies() for a in _allowed(synth, k.split("Role")[0])}
    assert not destructive & everything
    granted = _allowed(synth_opt_in, "StorageLifecycle")
    assert set(permissions(OPT_IN_ACTIONS["StorageLifecycle"])) <= granted
    [delete] = [s for s in _statements(synth_opt_in, "StorageLifecycle") if s.get("Sid") == "DeleteDevVolumesOptIn"]
    assert "prod" not in json.dumps(delete["Condition"]) and "dev" in json.dumps(delete["Condition"])
    [nag] = [p for p in synth_opt_in.report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert nag["violations"] == []


def test_endpoints_are_deleted_only_with_the_opt_in_and_only_when_dev(synth: Synth, synth_opt_in: Synth) -> None:
    everything = {a for k in synth.role_policies() for a in _allowed(synth, k.split("Role")[0])}
    assert not {"sagemaker:DeleteEndpoint", "sagemaker:DeleteApp", "sagemaker:UpdateDomain"} & everything
    assert set(permissions(OPT_IN_ACTIONS["IdleSweep"])) <= _allowed(synth_opt_in, "IdleSweep")
    [delete] = [s for s in _statements(synth_opt_in, "IdleSweep") if s.get("Sid") == "DeleteDevEndpointsOptIn"]
    assert "prod" not in json.dumps(delete["Condition"]) and "dev" in json.dumps(delete["Condition"])
    [never] = [s for s in _statements(synth_opt_in, "IdleSweep") if s.get("Sid") == "NeverDeleteConfigsModelsNotebooks"]
    assert never["Effect"] == "Deny" and {"sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel"} <= set(
        never["Action"])
    [restore] = [s for s in _statements(synth, "Answers") if s.get("Sid") == "RestoreOnlyMarkedConfigs"]
    assert restore["Condition"] == {"Null": {"aws:ResourceTag/cost-janitor:deleted-endpoint": "false"}}


def test_idle_sweep_runs_on_the_policy_schedule(synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(0 2 * * ? *)"})


def test_policy_parameter_holds_the_validated_cdk_json_policy(synth: Synth) -> None:
    [param] = [p for p in synth.resources("AWS::SSM::Parameter").values()
               if p["Properties"].get("Name") == "/cost-janitor/policy"]
    deployed = load_policy(json.loads(param["Properties"]["Value"]))
    assert deployed == load_policy(load_cdk_json_context()["policy"])
    assert param["Properties"]["Name"] == "/cost-janitor/policy"


def test_every_alarm_notifies_the_ops_topic(synth: Synth) -> None:
    [ops] = [k for k, v in synth.resources("AWS::SNS::Topic").items() if k.startswith("Ops")]
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 4
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": ops}]


def test_lambda_asset_holds_the_package_without_local_only_modules(synth: Synth) -> None:
    assets = [p for p in synth.outdir.glob("asset.*") if (p / "cost_janitor").is_dir()]
    assert len(assets) == 1
    files = {str(p.relative_to(assets[0])) for p in assets[0].rglob("*") if p.is_file()}
    assert "cost_janitor/handlers/idle_sweep.py" in files and "cost_janitor/families/addresses.py" in files
    assert not {f for f in files if "__pycache__" in f or f.startswith(("cost_janitor/local/", "cost_janitor/cli/"))}


@pytest.mark.slow
def test_a_bad_policy_fails_cdk_synth_with_the_field_named(tmp_path: Path) -> None:
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "1", "CDK_DISABLE_VERSION_CHECK": "1"}
    bad = json.dumps({"idle": {"cpu_avg_pct": -1}, "environments": {"default": "qa"}})
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--no-lookups", "-q", "-o", str(tmp_path / "out"),
         "-c", f"policy_overrides={bad}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "policy.idle.cpu_avg_pct: Input should be greater than 0" in result.stderr
    assert "policy.environments: Value error, default 'qa' is not one of the classes" in result.stderr


def test_notifier_reads_the_findings_topic_through_a_batching_queue(synth: Synth) -> None:
    [queue] = [k for k in synth.resources("AWS::SQS::Queue") if k.startswith("NotifierFindings")]
    synth.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "sqs", "RawMessageDelivery": True, "Endpoint": {"Fn::GetAtt": [queue, "Arn"]}})
    synth.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]}, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumBatchingWindowInSeconds": 60})


def test_slack_interactivity_has_a_public_url_with_reserved_concurrency_and_queues_answers(synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    assert "SlackInteractivityUrl" in synth.raw["Outputs"]
    [fn] = [f["Properties"] for k, f in synth.resources("AWS::Lambda::Function").items()
            if k.startswith("SlackInteractivity")]
    assert fn["ReservedConcurrentExecutions"] == 5
    [queue] = [k for k in synth.resources("AWS::SQS::Queue") if k.startswith("AnswersQueue")]
    assert fn["Environment"]["Variables"]["ANSWERS_QUEUE_URL"] == {"Ref": queue}
    synth.template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]}, "FunctionResponseTypes": ["ReportBatchItemFailures"]})


def test_answers_may_write_only_answer_tags_and_stop_only_dev_instances(synth: Synth) -> None:
    statements = _statements(synth, "Answers")
    [create] = [s for s in statements if s.get("Sid") == "WriteOnlyAnswerTags"]
    assert create["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": [
        "cost-janitor:keep-until", "cost-janitor:keep-reason", "cost-janitor:keep-by", "owner"]}}
    [stop] = [s for s in statements if s.get("Sid") == "StopNowOnlyDevInstances"]
    assert "prod" not in stop["Condition"]["StringEqualsIgnoreCase"]["aws:ResourceTag/environment"]  # type: ignore[index]


def test_answers_and_log_retention_cover_every_region_of_the_policy(synth_regions: Synth) -> None:
    statements = _statements(synth_regions, "Answers")
    # the answers tag what the families answer for: instances, and Elastic IP addresses (families/addresses.py)
    for sid, kinds in (("WriteOnlyAnswerTags", ("instance", "elastic-ip")), ("StopNowOnlyDevInstances", ("instance",)),
                       ("UnmarkOnStop", ("instance",))):
        [s] = [s for s in statements if s.get("Sid") == sid]
        assert sorted(json.dumps(r) for r in s["Resource"]) == sorted(  # type: ignore[union-attr]
            json.dumps({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":ec2:{region}:",
                                          {"Ref": "AWS::AccountId"}, f":{kind}/*"]]})
            for kind in kinds for region in ("us-east-1", "us-west-2")), sid
        assert s.get("Condition"), sid  # the tag conditions hold in each region
    [retention] = [s for s in _statements(synth_regions, "StorageLifecycle") if s.get("Sid") == "SetLogRetentionOptIn"]
    resources = json.dumps(retention["Resource"])
    assert len(retention["Resource"]) == 2 and ":logs:us-east-1:" in resources and ":logs:us-west-2:" in resources  # type: ignore[arg-type]


def test_no_arn_names_a_partition_by_hand(synth: Synth) -> None:
    assert "arn:aws:" not in json.dumps(synth.raw)


def test_only_the_slack_functions_can_read_the_slack_secret(synth: Synth) -> None:
    [secret] = list(synth.resources("AWS::SecretsManager::Secret"))
    readers = {k.split("Role")[0] for k, p in synth.role_policies().items()
               if secret in json.dumps(p) and "secretsmanager:GetSecretValue" in json.dumps(p)}
    assert readers == {"NotifierFunction", "SlackInteractivityFunction", "AnswersFunction", "ReportFunction"}


def test_spot_warnings_and_rebalance_recommendations_reach_the_spot_function(synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::Events::Rule", {"EventPattern": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]}})
    [send] = [s for s in _statements(synth, "SpotInterruption")
              if s.get("Sid") == "CheckpointThroughRunShellScriptOnly"]
    assert "document/AWS-RunShellScript" in json.dumps(send["Resource"])


def test_gpu_agent_config_is_deployed_where_the_agent_may_read_it(synth: Synth) -> None:
    params = [p["Properties"] for p in synth.resources("AWS::SSM::Parameter").values()
              if p["Properties"].get("Name", "").startswith("AmazonCloudWatch-")]
    [param] = params
    shipped = json.loads((ROOT / "agent" / "cloudwatch-agent.json").read_text())
    assert json.loads(param["Value"]) == shipped
    [association] = [a for k, a in synth.resources("AWS::SSM::Association").items() if k.startswith("GpuAgent")]
    assert association["Properties"]["Targets"] == [{"Key": "tag:cost-janitor:gpu-agent", "Values": ["true"]}]
    [document_id] = [k for k in synth.resources("AWS::SSM::Document") if k.startswith("GpuAgent")]
    assert association["Properties"]["Name"] == {"Ref": document_id}


def test_the_per_gpu_opt_in_deploys_the_per_gpu_agent_config(tmp_path: Path) -> None:
    """agent.per_gpu_series: the parameter holds agent/cloudwatch-agent-per-gpu.json (no roll-up, no drop)."""
    from aws_cdk import App, Stack
    from aws_cdk.assertions import Template

    from infra.constructs.gpu_agent import PER_GPU_CONFIG, GpuAgent

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "AgentOnly")
    agent = GpuAgent(stack, "GpuAgent", tag_key="cost-janitor:gpu-agent", per_gpu=True)
    template = Template.from_stack(stack)
    [param] = template.find_resources("AWS::SSM::Parameter").values()
    assert json.loads(param["Properties"]["Value"]) == json.loads(PER_GPU_CONFIG.read_text())
    assert agent.parameter is not None


def test_the_gpu_agent_is_configured_only_after_it_is_installed(synth: Synth) -> None:
    """One ordered document: install (abort on failure), then configure — two associations on one schedule raced."""
    [document] = [d for k, d in synth.resources("AWS::SSM::Document").items() if k.startswith("GpuAgent")]
    steps = document["Properties"]["Content"]["mainSteps"]
    assert [(s["inputs"]["documentPath"], s.get("onFailure")) for s in steps] == [
        ("AWS-ConfigureAWSPackage", "Abort"), ("AmazonCloudWatch-ManageAgent", None)]
    assert steps[1]["inputs"]["documentParameters"]["optionalConfigurationLocation"] == \
        "AmazonCloudWatch-cost-janitor-gpu"


def test_the_neuron_pusher_is_installed_byte_for_byte_on_tagged_instances(synth: Synth) -> None:
    import base64

    [association] = [a for k, a in synth.resources("AWS::SSM::Association").items() if k.startswith("NeuronAgent")]
    assert association["Properties"]["Targets"] == [{"Key": "tag:cost-janitor:neuron-agent", "Values": ["true"]}]
    [document] = [d for k, d in synth.resources("AWS::SSM::Document").items() if k.startswith("NeuronAgent")]
    commands = document["Properties"]["Content"]["mainSteps"][0]["inputs"]["runCommand"]
    written = {line.rsplit("/", 1)[1]: base64.b64decode(line.split("'")[1]) for line in commands
               if line.startswith("echo '") and "/opt/cost-janitor/" in line}
    for name in ("gpu_metrics.py", "neuron_metrics.py", "neuron-monitor.json"):
        assert written[name] == (ROOT / "agent" / name).read_bytes()
    assert commands[0] == "set -eu" and "neuron-monitor not found" in commands[1]  # a clear failure, not a silent one
    [unit] = [base64.b64decode(line.split("'")[1]).decode() for line in commands if "systemd/system" in line]
    assert "neuron-monitor -c /opt/cost-janitor/neuron-monitor.json | /usr/bin/python3" in unit


def test_creation_calls_reach_tag_compliance_after_a_delay(synth: Synth) -> None:
    [queue_id] = [k for k in synth.resources("AWS::SQS::Queue") if k.startswith("TagComplianceCreations")]
    queue = synth.resources("AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["DelaySeconds"] == 180
    [rule] = [r["Properties"] for r in synth.resources("AWS::Events::Rule").values()
              if "EventPattern" in r["Properties"]
              and r["Properties"]["EventPattern"].get("detail-type") == ["AWS API Call via CloudTrail"]]
    assert {"RunInstances", "CreateBucket", "CreateEndpoint"} <= set(rule["EventPattern"]["detail"]["eventName"])
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


@pytest.mark.parametrize("construct, keys", [
    ("TagCompliance", ["created-by"]),
    ("Answers", ["cost-center", "environment", "project", "team"]),
])
def test_tag_writes_are_limited_to_their_keys(synth: Synth, construct: str, keys: list[str]) -> None:
    [only] = [s for s in _statements(synth, construct) if str(s.get("Sid", "")).endswith("OnlyTheseKeys")]
    assert only["Condition"] == {"ForAllValues:StringEquals": {"aws:TagKeys": keys}}


def _emitted_metric_names() -> set[str]:
    """Metric names the Lambda code emits: add_metric(name=...) and count_by(...) calls, constants resolved."""
    import ast

    from cost_janitor import observability

    constants = {k: v for k, v in vars(observability).items() if k.startswith("METRIC_") and isinstance(v, str)}
    names: set[str] = set()
    for path in (ROOT / "lambdas" / "cost_janitor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            args = [kw.value for kw in node.keywords if kw.arg == "name"] if func == "add_metric" else \
                node.args[:1] if func == "count_by" else []
            for arg in args:
                if isinstance(arg, ast.Constant):
                    names.add(str(arg.value))
                elif isinstance(arg, ast.Name) and arg.id in constants:
                    names.add(constants[arg.id])
    return names


def test_the_dashboard_shows_only_metrics_the_handlers_emit(synth: Synth) -> None:
    [dashboard] = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    shown = set(re.findall(r'\\"CostJanitor\\",\\"([A-Za-z]+)\\"', body))
    assert {"RealizedSavingsUSD", "FindingsByKind", "ActionsByStatus", "GpuRightSizingCandidates"} <= shown
    assert shown <= _emitted_metric_names()
    assert "AWS/Lambda" in body and "ApproximateNumberOfMessagesVisible" in body


def test_the_digest_links_the_dashboard_the_stack_made(synth: Synth) -> None:
    [dashboard] = synth.resources("AWS::CloudWatch::Dashboard").values()
    [report] = [f["Properties"] for f in synth.resources("AWS::Lambda::Function").values()
                if f["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == "report"]
    assert report["Environment"]["Variables"]["DASHBOARD_NAME"] == dashboard["Properties"]["DashboardName"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", dashboard["Properties"]["DashboardName"])  # CloudWatch's rule


def test_the_notifier_does_not_receive_the_weekly_digest(synth: Synth) -> None:
    subs = [s["Properties"] for s in synth.resources("AWS::SNS::Subscription").values()]
    [notifier] = [s for s in subs if s["Protocol"] == "sqs"]
    assert notifier["FilterPolicy"] == {"kind": [{"anything-but": ["weekly-digest"]}]}


def test_everything_the_stack_makes_carries_its_own_cost_tag(synth: Synth) -> None:
    """The digest reads the janitor's own cost by this tag (Cost Explorer, once it is activated)."""
    for type_ in ("AWS::Lambda::Function", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::KMS::Key",
                  "AWS::SecretsManager::Secret"):
        for resource in synth.resources(type_).values():
            tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
            assert tags.get("cost-janitor:stack") == "CostJanitor", type_
