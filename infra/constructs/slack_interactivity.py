"""Slack interactivity: a Function URL (auth NONE; every request's Slack signature is verified in the handler)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

if TYPE_CHECKING:
    from infra.stack import JanitorStack

_INSTANCES = "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*"


class SlackInteractivity(Construct):
    def __init__(self, scope: Construct, id: str, *, stack: JanitorStack) -> None:
        super().__init__(scope, id)
        policy = stack.settings.policy
        self.fn = stack.function(
            "Function", scope=self, service="slack-interactivity", memory_size=1024, timeout=Duration.seconds(10),
            handler="cost_janitor.handlers.slack_interactivity.lambda_handler",
            environment={"LEDGER_TABLE": stack.ledger.table_name, "SLACK_SECRET_ARN": stack.slack_secret.secret_arn})
        self.url = self.fn.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        stack.slack_secret.grant_read(self.fn.role)
        stack.ledger.grant_read_write_data(self.fn.role)
        role = self.fn.role
        instances = Stack.of(self).format_arn(service="ec2", resource="instance", resource_name="*")
        ex = policy.exemptions
        role.add_to_policy(iam.PolicyStatement(sid="ReadInstances", actions=["ec2:DescribeInstances"],
                                               resources=["*"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="WriteOnlyAnswerTags", actions=["ec2:CreateTags"], resources=[instances],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [
                ex.keep_until_tag, ex.reason_tag, ex.by_tag, policy.tagging.owner_tag]}}))
        from infra.constructs.tag_compliance import tag_statements

        for statement in tag_statements("FixTags", sorted(policy.tagging.required)):
            role.add_to_policy(statement)
        role.add_to_policy(iam.PolicyStatement(
            sid="StopNowOnlyDevInstances", actions=["ec2:StopInstances"], resources=[instances],
            conditions={"StringEqualsIgnoreCase": {
                f"aws:ResourceTag/{policy.environments.tag_key}": policy.environments.stop_values()}}))
        role.add_to_policy(iam.PolicyStatement(
            sid="UnmarkOnStop", actions=["ec2:DeleteTags"], resources=[instances],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [ex.idle_since_tag]}}))
        role.add_to_policy(iam.PolicyStatement(sid="NeverTerminate", effect=iam.Effect.DENY,
                                               actions=["ec2:TerminateInstances"], resources=["*"]))
        Validations.of(role).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="ec2:DescribeInstances, X-Ray writes and tag:TagResources have no resource "
                                  "scope; service tag writes are limited to the required cost-tag keys"),
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::*]",
                           reason="the Fix-tags form may tag any new bucket its creator owns; S3 bucket tagging has "
                                  "no tag-key condition"),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_INSTANCES}]",
                           reason="answers apply to any instance the clicker owns (checked in the handler); tag "
                                  "writes are limited to the answer tag keys, stops to dev-tagged instances"))
        CfnOutput(stack, "SlackInteractivityUrl", value=f"{self.url.url}slack/actions",
                  description="Paste into your Slack app: Interactivity & Shortcuts → Request URL")
