"""Weekly digest: schedule → Lambda; EC2 state changes (running) end a stopped box's realized-savings clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

if TYPE_CHECKING:
    from infra.stack import JanitorStack


class Report(Construct):
    def __init__(self, scope: Construct, id: str, *, stack: JanitorStack) -> None:
        super().__init__(scope, id)
        policy = stack.settings.policy
        self.fn = stack.function(
            "Function", scope=self, service="report", timeout=Duration.minutes(5), memory_size=1024,
            handler="cost_janitor.handlers.report.lambda_handler",
            publishes=True, environment={"SLACK_SECRET_ARN": stack.slack_secret.secret_arn})
        role = self.fn.role
        stack.ledger.grant_read_write_data(role)
        stack.slack_secret.grant_read(role)
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadCostsMetricsAndTags", resources=["*"],
            actions=["ce:GetCostAndUsage", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "tag:GetResources",
                     "ec2:DescribeInstances", "ec2:DescribeSpotInstanceRequests"]))
        Validations.of(role).acknowledge(
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
            rule.add_target(targets.LambdaFunction(self.fn.function, dead_letter_queue=stack.dlq, retry_attempts=2,
                                                   max_event_age=Duration.hours(2)))
