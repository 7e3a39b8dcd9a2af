"""Least privilege, proven against the synthesized template: each function's actions are on a reviewed
allow-list derived from what its adapters call, no wildcard actions, every mutating EC2 or tagging call is
conditioned, terminate is denied wherever stopping is allowed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cost_janitor.core.policy import Policy
from cost_janitor.families.network import FAMILY as NETWORK
from tests.infra.conftest import Synth

SHARED = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
          "ssm:DescribeParameters", "ssm:GetParameter", "ssm:GetParameterHistory", "ssm:GetParameters",
          "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage",  # the DLQ (bad events parked there)
          "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
          "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
          "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"}  # ledger + idempotency
PUBLISH = {"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey*"}
SLACK = {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}
QUEUE = {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"}
TAGGING = {"tag:TagResources", "ec2:CreateTags", "sagemaker:AddTags", "rds:AddTagsToResource", "eks:TagResource",
           "s3:GetBucketTagging", "s3:PutBucketTagging"}
SAGEMAKER_SWEEP = {"sagemaker:ListEndpoints", "sagemaker:ListNotebookInstances", "tag:GetResources",
                   "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags",
                   "sagemaker:DeleteTags", "sagemaker:StopNotebookInstance", "sagemaker:ListDomains",
                   "sagemaker:ListApps", "sagemaker:DescribeDomain", "sagemaker:DescribeApp"}
ALLOWED: dict[str, set[str]] = {
    "IdleSweep": SHARED | PUBLISH | {"ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests",
                                    "cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "ec2:StopInstances",
                                    "ec2:CreateTags", "ec2:DeleteTags", "ec2:DescribeInstanceAttribute",
                                    "ec2:DescribeAddresses",  # the addresses family (tags only on Elastic IPs)
                                    "pricing:GetProducts",  # prices the offline table does not know
                                    # a stop's savings after Savings Plans (idle.savings_after_plans)
                                    "ce:GetSavingsPlansCoverage", "ce:GetSavingsPlansUtilization",
                                    "ce:GetReservationCoverage", "ce:GetReservationUtilization"}
                 | SAGEMAKER_SWEEP,
    "NotifierFunction": SHARED | SLACK | QUEUE,
    # the public endpoint: its secret and the answers queue, nothing that touches a resource
    "SlackInteractivityFunction": SHARED | SLACK,
    "AnswersFunction": SHARED | SLACK | QUEUE | TAGGING | {"ec2:DescribeInstances", "ec2:StopInstances",
                                                           "ec2:DeleteTags", "sagemaker:DescribeEndpointConfig",
                                                           "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint",
                                                           # a restore from a config a customer key encrypts
                                                           "kms:CreateGrant", "kms:DescribeKey"},
    "SpotInterruptionFunction": SHARED | PUBLISH | {"ec2:DescribeInstances", "ssm:SendCommand"},
    "StorageLifecycleFunction": SHARED | PUBLISH | {
        "s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:GetBucketVersioning",
        "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration", "cloudwatch:GetMetricData",
        "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:DescribeImages", "logs:DescribeLogGroups",
        "ec2:CreateTags", "pricing:GetProducts"},
    "TagComplianceFunction": SHARED | PUBLISH | QUEUE | TAGGING | {"tag:GetResources", "ec2:DescribeInstances"},
    "ReportFunction": SHARED | PUBLISH | SLACK | {"ce:GetCostAndUsage", "ce:GetCostAndUsageWithResources",
                                                  "cloudwatch:GetMetricData",
                                                  "cloudwatch:ListMetrics", "tag:GetResources",
                                                  "ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests"},
}
# What turning every family and every opt-in on adds (the destructive opt-ins; the EKS family's reads and writes)
OPT_IN_ALLOWED: dict[str, set[str]] = {
    "IdleSweep": {"sagemaker:DeleteEndpoint", "sagemaker:UpdateDomain", "sagemaker:DeleteApp",
                  "eks:ListClusters", "eks:DescribeCluster", "eks:ListNodegroups", "eks:DescribeNodegroup",
                  "eks:TagResource", "eks:UntagResource", "eks:UpdateNodegroupConfig",
                  # the network family: reads, and gateway endpoints (CreateVpcEndpoint) with its opt-in
                  "ec2:DescribeVpcs", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints", "ec2:DescribeSubnets",
                  "ec2:DescribeNatGateways", "ce:GetCostAndUsage", "s3:ListAllMyBuckets", "s3:GetBucketPolicy",
                  "s3:GetBucketTagging", "s3:GetReplicationConfiguration", "ec2:CreateVpcEndpoint",
                  # the EFS family: reads, its mark, and lifecycle merges with its opt-in
                  "elasticfilesystem:DescribeFileSystems", "elasticfilesystem:DescribeLifecycleConfiguration",
                  "elasticfilesystem:TagResource", "elasticfilesystem:UntagResource",
                  "elasticfilesystem:PutLifecycleConfiguration",
                  # the ECR family: reads, its mark, and its lifecycle rule with its opt-in
                  "ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource",
                  "ecr:TagResource", "ecr:UntagResource", "ecr:PutLifecyclePolicy",
                  # the FSx family: reads, its mark, and deletes with a final backup with its opt-in
                  "fsx:DescribeFileSystems", "fsx:TagResource", "fsx:UntagResource", "fsx:DeleteFileSystem",
                  "fsx:CreateBackup",
                  # the AMIs family: reads (images, what uses them, the Recycle Bin's rules), and deregistration
                  # with its own snapshots with its opt-in
                  "ec2:DescribeImages", "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions",
                  "autoscaling:DescribeLaunchConfigurations", "rbin:ListRules", "ec2:DeregisterImage",
                  "ec2:DeleteSnapshot",
                  # Cost Optimization Hub's estimate beside the janitor's (idle.cost_optimization_hub)
                  "cost-optimization-hub:ListRecommendations"},
    "StorageLifecycleFunction": {"ec2:CreateSnapshot", "ec2:DeleteVolume", "logs:PutRetentionPolicy"},
    # the owners' answers on EFS file systems and ECR repositories (answer keys only)
    "AnswersFunction": {"elasticfilesystem:TagResource", "ecr:TagResource", "fsx:TagResource"},
}
MUTATING_RESOURCE_CALLS = {"ec2:StopInstances", "ec2:CreateTags", "ec2:DeleteTags", "ec2:DeleteVolume",
                           "sagemaker:AddTags", "rds:AddTagsToResource", "eks:TagResource", "sagemaker:DeleteTags",
                           "sagemaker:StopNotebookInstance", "sagemaker:DeleteEndpoint", "sagemaker:CreateEndpoint",
                           "sagemaker:UpdateDomain", "sagemaker:DeleteApp", "eks:UntagResource",
                           "eks:UpdateNodegroupConfig", "elasticfilesystem:TagResource",
                           "elasticfilesystem:UntagResource", "elasticfilesystem:PutLifecycleConfiguration",
                           "ecr:TagResource", "ecr:UntagResource", "ecr:PutLifecyclePolicy", "fsx:TagResource",
                           "fsx:UntagResource", "fsx:DeleteFileSystem", "fsx:CreateBackup", "ec2:DeregisterImage",
                           "ec2:DeleteSnapshot"}


def _roles(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for key, policy in synth.role_policies().items():
        out.setdefault(key.split("Role")[0], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_every_function_role_is_on_the_allow_list(synth: Synth) -> None:
    assert set(_roles(synth)) == set(ALLOWED)


@pytest.mark.parametrize("function", sorted(ALLOWED))
def test_a_function_may_do_only_what_its_adapters_call(synth: Synth, function: str) -> None:
    granted = {a for s in _roles(synth)[function] if s["Effect"] == "Allow" for a in _actions(s)}
    assert granted <= ALLOWED[function], f"not on the allow-list: {sorted(granted - ALLOWED[function])}"


@pytest.mark.parametrize("function", sorted(ALLOWED))
def test_with_every_family_and_opt_in_on_a_function_may_do_only_what_was_reviewed(synth_opt_in: Synth,
                                                                                  function: str) -> None:
    granted = {a for s in _roles(synth_opt_in)[function] if s["Effect"] == "Allow" for a in _actions(s)}
    reviewed = ALLOWED[function] | OPT_IN_ALLOWED.get(function, set())
    assert granted <= reviewed, f"not on the allow-list: {sorted(granted - reviewed)}"


def test_every_mutating_call_is_conditioned_with_every_family_and_opt_in_on(synth_opt_in: Synth) -> None:
    for function, statements in _roles(synth_opt_in).items():
        for s in statements:
            if s["Effect"] == "Allow" and MUTATING_RESOURCE_CALLS & set(_actions(s)):
                assert s.get("Condition"), f"{function}: {_actions(s)} without a condition"


def test_gateway_endpoints_only_in_dev_vpcs_and_only_of_amazon_services(synth_opt_in: Synth) -> None:
    """CreateVpcEndpoint checks the VPC, the route tables and the new endpoint (AWS's example in the PrivateLink
    guide): the VPC statement holds it to dev-tagged VPCs, the endpoint statement to Amazon's services; the route
    tables' statement, which no condition key could hold to dev, grants nothing without the other two. The endpoint's
    tag is written only at its creation."""
    creates = [s for s in _roles(synth_opt_in)["IdleSweep"] if s["Effect"] == "Allow"
               and "ec2:CreateVpcEndpoint" in _actions(s)]
    by_kind = {json.dumps(s["Resource"]).split(":")[-1].split("/")[0]: s for s in creates}
    assert set(by_kind) == {"vpc", "route-table", "vpc-endpoint"}, [s["Resource"] for s in creates]
    assert "aws:ResourceTag/environment" in json.dumps(by_kind["vpc"]["Condition"])
    assert by_kind["vpc-endpoint"]["Condition"] == {"StringEquals": {"ec2:VpceServiceOwner": ["amazon"]}}
    assert all(_actions(s) == ["ec2:CreateVpcEndpoint"] for s in creates)
    tags = [s for s in _roles(synth_opt_in)["IdleSweep"] if "vpc-endpoint/" in json.dumps(s.get("Resource"))
            and "ec2:CreateTags" in _actions(s)]
    assert len(tags) == 1 and tags[0]["Condition"]["StringEquals"] == {"ec2:CreateAction": "CreateVpcEndpoint"}
    without = Policy.model_validate({"idle": {"services": ["network"]}})
    assert not any("ec2:CreateVpcEndpoint" in g.actions for g in NETWORK.grants(without))


def test_no_wildcard_actions_anywhere(synth: Synth) -> None:
    wildcards = {a for statements in _roles(synth).values() for s in statements for a in _actions(s)
                 if "*" in a and a != "kms:GenerateDataKey*"}  # CDK's topic grant; scoped to the topic's own key
    assert wildcards == set()


def test_every_mutating_ec2_or_tagging_call_is_conditioned(synth: Synth) -> None:
    for function, statements in _roles(synth).items():
        for s in statements:
            if s["Effect"] == "Allow" and MUTATING_RESOURCE_CALLS & set(_actions(s)):
                assert s.get("Condition"), f"{function}: {_actions(s)} without a condition"


@pytest.mark.parametrize("function", ["IdleSweep", "AnswersFunction"])
def test_whoever_may_stop_is_denied_terminate(synth: Synth, function: str) -> None:
    denies = [s for s in _roles(synth)[function] if s["Effect"] == "Deny"]
    assert {"Sid": "NeverTerminate", "Effect": "Deny", "Action": "ec2:TerminateInstances", "Resource": "*"} in denies


def test_the_readmes_iam_table_is_what_the_roles_allow(synth: Synth) -> None:
    """The README's IAM section is generated from the synthesized roles (`python -m infra.iam_readme`), so it cannot
    drift from them again (it once said the sweep could read stop protection when its role could not)."""
    from infra.iam_readme import README, current_section, section

    assert current_section(README.read_text()) == section(synth.raw), "run `python -m infra.iam_readme`"
