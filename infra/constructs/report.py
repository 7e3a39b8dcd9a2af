"""Weekly digest: schedule → Lambda; EC2 state changes (running) end a stopped box's realized-savings clock."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.policy import Policy
from infra.iam import acknowledge
from infra.janitor_function import FunctionFactory


class Report(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue, dashboard_name: str) -> None:
        super().__init__(scope, id)
        self.fn = functions(self, "Function", service="report", timeout=Duration.minutes(5), memory_size=1024,
                            handler="cost_janitor.handlers.report.lambda_handler",
                            environment={"DASHBOARD_NAME": dashboard_name})
        role = self.fn.role
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadCostsMetricsAndTags", resources=["*"],
            actions=["ce:GetCostAndUsage", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "tag:GetResources",
                     "ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests",
                     # the bill's figure for stopped instances (capabilities/report._bill)
                     "ce:GetCostAndUsageWithResources"]))
        acknowledge(role,
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="read-only: Cost Explorer, CloudWatch metrics, the tagging API, DescribeInstances "
                                  "and X-Ray have no resource-level permissions"))
        self.weekly = events.Rule(self, "Weekly", schedule=events.Schedule.expression(policy.report.schedule),
                                  description="cost-janitor weekly digest")
        self.started = events.Rule(self, "Started", description="cost-janitor: instances starting (ends savings)",
                                   event_pattern=events.EventPattern(
                                       source=["aws.ec2"], detail_type=["EC2 Instance State-change Notification"],
                                       detail={"state": ["running"]}))
        for rule in (self.weekly, self.started):
            rule.add_target(targets.LambdaFunction(self.fn.function, dead_letter_queue=dlq, retry_attempts=2,
                                                   max_event_age=Duration.hours(2)))
