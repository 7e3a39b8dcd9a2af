"""Tag compliance: CloudTrail creation calls → EventBridge → SQS delay queue → Lambda; a nightly coverage report."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.policy import Policy
from infra.iam import ALL_BUCKETS_NAG, acknowledge, tag_statements
from infra.janitor_function import FunctionFactory


class TagCompliance(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        tagging = policy.tagging
        self.queue = sqs.Queue(
            self, "Creations", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
            delivery_delay=Duration.seconds(tagging.check_delay_seconds), visibility_timeout=Duration.minutes(3),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
        self.fn = functions(self, "Function", service="tag-compliance", timeout=Duration.minutes(2),
                            handler="cost_janitor.handlers.tag_compliance.lambda_handler")
        self.fn.function.add_event_source(sources.SqsEventSource(self.queue, batch_size=10,
                                                                 report_batch_item_failures=True))
        role = self.fn.role
        role.add_to_policy(iam.PolicyStatement(sid="ReadTags", actions=["tag:GetResources", "ec2:DescribeInstances"],
                                               resources=["*"]))
        for statement in tag_statements(self, "TagCreatedBy", [tagging.created_by_tag]):
            role.add_to_policy(statement)
        acknowledge(role,
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="new resources of any watched service; tag writes are limited to the created-by "
                                  "key, tag:GetResources/DescribeInstances and X-Ray have no resource scope"),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{ALL_BUCKETS_NAG}]",
                           reason="any new bucket; S3 bucket tagging has no tag-key condition, so the handler adds "
                                  "through the tagging API, which keeps the bucket's other tags"))
        sources_ = sorted(tagging.watched_events)
        self.rule = events.Rule(
            self, "CreationCalls", description="cost-janitor: resources created (checked after a delay)",
            event_pattern=events.EventPattern(
                detail_type=["AWS API Call via CloudTrail"],
                source=["aws." + s.removesuffix(".amazonaws.com") for s in sources_],
                detail={"eventSource": sources_,
                        "eventName": sorted({n for names in tagging.watched_events.values() for n in names})}))
        self.rule.add_target(targets.SqsQueue(self.queue, dead_letter_queue=dlq, retry_attempts=2))
        self.nightly = events.Rule(self, "CoverageReport", schedule=events.Schedule.expression(tagging.report_schedule),
                                   description="cost-janitor: nightly tag coverage report")
        self.nightly.add_target(targets.LambdaFunction(self.fn.function, dead_letter_queue=dlq,
                                                       retry_attempts=2, max_event_age=Duration.hours(2)))
