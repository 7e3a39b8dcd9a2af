"""Answers: the Slack interactivity endpoint's queue → the answers Lambda, which authorises each answer and carries
it out where the resource is — in every region the policy covers. Tag writes are limited to the answer keys; stops
to dev-tagged instances; terminate is denied."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.adapters.executor import RESTORABLE_TAG
from cost_janitor.core.policy import Policy
from infra.iam import ALL_BUCKETS_NAG, nag_arns, regional_arns, tag_statements
from infra.janitor_function import FunctionFactory


class Answers(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.queue = sqs.Queue(
            self, "Queue", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.minutes(3),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
        self.fn = functions(self, "Function", service="answers", timeout=Duration.seconds(30),
                            handler="cost_janitor.handlers.answers.lambda_handler")
        self.fn.function.add_event_source(sources.SqsEventSource(self.queue, batch_size=10,
                                                                 report_batch_item_failures=True))
        role = self.fn.role
        instances = regional_arns(self, policy, service="ec2", resource="instance")
        ex = policy.exemptions
        role.add_to_policy(iam.PolicyStatement(sid="ReadInstances", actions=["ec2:DescribeInstances"],
                                               resources=["*"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteOnlyAnswerTags", actions=["ec2:CreateTags"], resources=instances,
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [
                ex.keep_until_tag, ex.reason_tag, ex.by_tag, policy.tagging.owner_tag]}}))
        for statement in tag_statements(self, "FixTags", sorted(policy.tagging.required)):
            role.add_to_policy(statement)
        role.add_to_policy(iam.PolicyStatement(
            sid="StopNowOnlyDevInstances", actions=["ec2:StopInstances"], resources=instances,
            conditions={"StringEqualsIgnoreCase": {
                f"aws:ResourceTag/{policy.environments.tag_key}": policy.environments.stop_values()}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="UnmarkOnStop", actions=["ec2:DeleteTags"], resources=instances,
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [ex.idle_since_tag]}}))
        role.add_to_policy(iam.PolicyStatement(sid="NeverTerminate", effect=iam.Effect.DENY,
                                               actions=["ec2:TerminateInstances"], resources=["*"]))
        sagemaker = self._sagemaker(policy, role) if "sagemaker" in policy.idle.services else []
        Validations.of(role).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="ec2:DescribeInstances, X-Ray writes and tag:TagResources have no resource "
                                  "scope; service tag writes are limited to the required cost-tag keys"),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{ALL_BUCKETS_NAG}]",
                           reason="the Fix-tags form may tag any new bucket its creator owns; S3 bucket tagging has "
                                  "no tag-key condition"),
            *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                             reason="answers apply to any instance the clicker owns (checked in the handler) in the "
                                    "policy's regions; tag writes are limited to the answer tag keys, stops to "
                                    "dev-tagged instances") for arn in _nag_arns(policy.regions)),
            *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                             reason="answers on the owner's SageMaker resources in the policy's regions: answer tag "
                                    "keys only; a restore only from an EndpointConfig the janitor marked, as a dev "
                                    "endpoint") for arn in sagemaker))

    def _sagemaker(self, policy: Policy, role: iam.Role) -> list[str]:
        """Keep / Snooze / Not mine on endpoints and notebook instances (answer tag keys only), and Restore: a dev
        endpoint, only from an EndpointConfig the janitor marked when it deleted the endpoint."""
        endpoints = regional_arns(self, policy, service="sagemaker", resource="endpoint")
        configs = regional_arns(self, policy, service="sagemaker", resource="endpoint-config")
        notebooks = regional_arns(self, policy, service="sagemaker", resource="notebook-instance")
        apps = regional_arns(self, policy, service="sagemaker", resource="app")
        ex, env = policy.exemptions, policy.environments
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteOnlyAnswerTagsSageMaker", actions=["sagemaker:AddTags"], resources=endpoints + notebooks + apps,
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [
                ex.keep_until_tag, ex.reason_tag, ex.by_tag, policy.tagging.owner_tag]}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="RestoreReadsTheConfig", actions=["sagemaker:DescribeEndpointConfig"], resources=configs))
        role.add_to_policy(iam.PolicyStatement(
            sid="RestoreOnlyMarkedConfigs", actions=["sagemaker:CreateEndpoint"], resources=configs,
            conditions={"Null": {f"aws:ResourceTag/{RESTORABLE_TAG}": "false"}}))
        dev_request = {"StringEqualsIgnoreCase": {f"aws:RequestTag/{env.tag_key}": env.stop_values()}}
        role.add_to_policy(iam.PolicyStatement(
            sid="RestoreOnlyDevEndpoints", actions=["sagemaker:CreateEndpoint"], resources=endpoints,
            conditions=dev_request))
        role.add_to_policy(iam.PolicyStatement(  # CreateEndpoint with Tags needs AddTags on the new endpoint
            sid="TagRestoredDevEndpoints", actions=["sagemaker:AddTags"], resources=endpoints,
            conditions={**dev_request, "StringEqualsIgnoreCaseIfExists": {
                f"aws:ResourceTag/{env.tag_key}": env.stop_values()}}))
        return [a for r in ("endpoint", "endpoint-config", "notebook-instance", "app")
                for a in nag_arns(policy, service="sagemaker", resource=r)]


def _nag_arns(regions: list[str]) -> list[str]:
    """How cdk-nag prints the instance ARNs (tokens as <AWS::...>)."""
    return [f"arn:<AWS::Partition>:ec2:{region}:<AWS::AccountId>:instance/*" for region in regions] or [
        "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*"]
