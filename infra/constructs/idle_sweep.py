"""Idle sweep: nightly schedule → Lambda; may stop only dev-tagged instances and may never terminate."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.adapters.executor import RESTORABLE_TAG
from cost_janitor.core.policy import Policy
from infra.iam import acknowledge, nag_arns, regional_arns
from infra.janitor_function import FunctionFactory

_INSTANCES_IN_ANY_REGION = "arn:<AWS::Partition>:ec2:*:<AWS::AccountId>:instance/*"


class IdleSweep(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.fn = functions(self, "Sweep", service="idle-sweep", timeout=Duration.minutes(15), memory_size=1024,
                            handler="cost_janitor.handlers.idle_sweep.lambda_handler")
        role = self.fn.role

        instances = Stack.of(self).format_arn(service="ec2", region="*", resource="instance", resource_name="*")
        env_tag = f"aws:ResourceTag/{policy.environments.tag_key}"
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadInventoryAndMetrics",
            actions=["ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests", "cloudwatch:GetMetricData",
                     "cloudwatch:ListMetrics",
                     # stop protection (DisableApiStop) of the boxes about to be marked or stopped: without it AWS
                     # refuses the read and a protected box would be marked nightly and fail to stop nightly
                     "ec2:DescribeInstanceAttribute"],
            resources=["*"]))
        # One statement per API action (not per ActionKind), each with its own condition; a test checks that
        # together they cover executor.permissions() for every ActionKind.
        role.add_to_policy(iam.PolicyStatement(
            sid="StopOnlyDevInstances", actions=["ec2:StopInstances"],
            resources=[instances],
            conditions={"StringEqualsIgnoreCase": {env_tag: policy.environments.stop_values()}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="MarkOnlyDevInstances", actions=["ec2:CreateTags"], resources=[instances],
            conditions={"StringEqualsIgnoreCase": {env_tag: policy.environments.stop_values()},
                        "ForAllValues:StringEquals": {"aws:TagKeys": [policy.exemptions.idle_since_tag]}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="UnmarkOnlyTheIdleTag", actions=["ec2:DeleteTags"], resources=[instances],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [policy.exemptions.idle_since_tag]}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="TagForTheGpuAgentOnly", actions=["ec2:CreateTags"], resources=[instances],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [policy.agent.tag_key]}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="NeverTerminate", effect=iam.Effect.DENY, actions=["ec2:TerminateInstances"], resources=["*"]))
        nag = self._sagemaker(policy, role, env_tag) if "sagemaker" in policy.idle.services else []

        acknowledge(role,
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="ec2:Describe*, cloudwatch:GetMetricData/ListMetrics and X-Ray writes have no "
                                  "resource-level permissions"),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_INSTANCES_IN_ANY_REGION}]",
                           reason="the sweep covers the policy's regions; stop and tag writes are conditioned on "
                                  "the dev environment tag and the idle-since tag key"),
            *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                             reason="SageMaker endpoints, configs and notebook instances of the policy's regions: "
                                    "reads, and writes conditioned on the dev environment tag and the janitor's tag "
                                    "keys") for arn in nag))

        # Regions in parallel: with more than one region, one schedule per region, each invoking the sweep for its
        # region alone — a slow or failing region holds up no other, and each run reports its own coverage. (One
        # rule per region, not one rule with many targets: each firing then has its own event id, which is the
        # sweep's idempotency key.)
        schedule = events.Schedule.expression(policy.idle.schedule)
        self.rules: list[events.Rule] = []
        for region in policy.regions if len(policy.regions) > 1 else [None]:
            rule = events.Rule(self, f"Nightly-{region}" if region else "Nightly", schedule=schedule,
                               description=f"cost-janitor nightly idle sweep{f': {region}' if region else ''}")
            rule.add_target(targets.LambdaFunction(
                self.fn.function, dead_letter_queue=dlq, retry_attempts=2, max_event_age=Duration.hours(2),
                event=_only(region) if region else None))
            self.rules.append(rule)
        self.rule = self.rules[0]

    def _sagemaker(self, policy: Policy, role: iam.Role, env_tag: str) -> list[str]:
        """Reads of endpoints, their configs and notebook instances; marks, stops and (opt-in) deletions only on
        dev-tagged ones; the configs and models a deletion keeps, and notebook instances, are never deleted.
        Returns the ARN patterns for cdk-nag's acknowledgement."""
        endpoints = regional_arns(self, policy, service="sagemaker", resource="endpoint")
        configs = regional_arns(self, policy, service="sagemaker", resource="endpoint-config")
        notebooks = regional_arns(self, policy, service="sagemaker", resource="notebook-instance")
        domains = regional_arns(self, policy, service="sagemaker", resource="domain")
        apps = regional_arns(self, policy, service="sagemaker", resource="app")
        dev = {"StringEqualsIgnoreCase": {env_tag: policy.environments.stop_values()}}
        idle_key = {"ForAllValues:StringEquals": {"aws:TagKeys": [policy.exemptions.idle_since_tag]}}
        role.add_to_policy(iam.PolicyStatement(
            sid="ListSageMaker", resources=["*"],
            actions=["sagemaker:ListEndpoints", "sagemaker:ListNotebookInstances", "sagemaker:ListDomains",
                     "sagemaker:ListApps", "tag:GetResources"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="DescribeEndpointsAndDomains", resources=endpoints + configs + domains,
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeDomain"]))
        role.add_to_policy(iam.PolicyStatement(  # ListApps returns no ARN: an untagged accelerator app's AppArn
            sid="DescribeStudioApps", resources=apps, actions=["sagemaker:DescribeApp"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="MarkOnlyDevSageMaker", actions=["sagemaker:AddTags"], resources=endpoints + notebooks + apps,
            conditions={**dev, **idle_key}))
        role.add_to_policy(iam.PolicyStatement(
            sid="UnmarkSageMaker", actions=["sagemaker:DeleteTags"], resources=endpoints + notebooks + apps,
            conditions=idle_key))
        if policy.sagemaker.enable_studio_idle_shutdown:
            role.add_to_policy(iam.PolicyStatement(
                sid="IdleShutdownOnDevDomainsOptIn", actions=["sagemaker:UpdateDomain"], resources=domains,
                conditions=dev))
        if policy.sagemaker.delete_studio_accelerator_apps:
            role.add_to_policy(iam.PolicyStatement(
                sid="DeleteDevStudioAppsOptIn", actions=["sagemaker:DeleteApp"], resources=apps, conditions=dev))
        role.add_to_policy(iam.PolicyStatement(
            sid="StopOnlyDevNotebooks", actions=["sagemaker:StopNotebookInstance"], resources=notebooks,
            conditions=dev))
        if policy.sagemaker.delete_idle_dev_endpoints:
            role.add_to_policy(iam.PolicyStatement(
                sid="DeleteDevEndpointsOptIn", actions=["sagemaker:DeleteEndpoint"], resources=endpoints,
                conditions=dev))
            role.add_to_policy(iam.PolicyStatement(
                sid="MarkConfigsRestorable", actions=["sagemaker:AddTags"], resources=configs,
                conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [RESTORABLE_TAG]}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="NeverDeleteConfigsModelsNotebooks", effect=iam.Effect.DENY, resources=["*"],
            actions=["sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel", "sagemaker:DeleteNotebookInstance",
                     "sagemaker:DeleteDomain", "sagemaker:DeleteUserProfile", "sagemaker:DeleteSpace"]))
        return [a for r in ("endpoint", "endpoint-config", "notebook-instance", "domain", "app")
                for a in nag_arns(policy, service="sagemaker", resource=r)]


def _only(region: str) -> events.RuleTargetInput:
    """The schedule's own event, its detail narrowed to one region (what `cost-janitor invoke` and the handler
    read as SweepRequest.regions)."""
    return events.RuleTargetInput.from_object({
        "version": "0", "id": events.EventField.event_id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": events.EventField.account, "time": events.EventField.time, "region": events.EventField.region,
        "resources": [], "detail": {"regions": [region]}})
