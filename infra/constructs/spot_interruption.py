"""Spot interruption: EventBridge rules for the 2-minute warning and rebalance recommendations → Lambda → SSM."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.iam import acknowledge
from infra.janitor_function import FunctionFactory

_INSTANCES = "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*"


class SpotInterruption(Construct):
    def __init__(self, scope: Construct, id: str, *, functions: FunctionFactory, dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.fn = functions(self, "Function", service="spot-interruption", timeout=Duration.seconds(30),
                            handler="cost_janitor.handlers.spot_interruption.lambda_handler")
        role = self.fn.role
        this = Stack.of(self)
        role.add_to_policy(iam.PolicyStatement(sid="ReadInstance", actions=["ec2:DescribeInstances"],
                                               resources=["*"]))
        role.add_to_policy(iam.PolicyStatement(
            sid="CheckpointThroughRunShellScriptOnly", actions=["ssm:SendCommand"],
            resources=[this.format_arn(service="ssm", account="", resource="document",
                                       resource_name="AWS-RunShellScript"),
                       this.format_arn(service="ec2", resource="instance", resource_name="*")]))
        acknowledge(role,
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="ec2:DescribeInstances and X-Ray writes have no resource-level permissions"),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{_INSTANCES}]",
                           reason="any spot instance in the account may get a warning; SendCommand is limited to "
                                  "the AWS-RunShellScript document"))
        self.rule = events.Rule(self, "Warnings", description="cost-janitor: spot interruption and rebalance",
                                event_pattern=events.EventPattern(source=["aws.ec2"], detail_type=[
                                    "EC2 Spot Instance Interruption Warning",
                                    "EC2 Instance Rebalance Recommendation"]))
        # two minutes of warning: a retry later than that is useless
        self.rule.add_target(targets.LambdaFunction(self.fn.function, dead_letter_queue=dlq,
                                                    retry_attempts=2, max_event_age=Duration.minutes(2)))
