"""Notifier: findings topic → SQS (batching, retries, redrive to the DLQ) → Lambda → Slack."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.iam import acknowledge
from infra.janitor_function import FunctionFactory


class Notifier(Construct):
    def __init__(self, scope: Construct, id: str, *, functions: FunctionFactory, findings_topic: sns.ITopic,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.queue = sqs.Queue(
            self, "Findings", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.minutes(6),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
        findings_topic.add_subscription(subscriptions.SqsSubscription(
            self.queue, raw_message_delivery=True,  # the weekly digest is for people and other subscribers, not us
            filter_policy={"kind": sns.SubscriptionFilter.string_filter(denylist=["weekly-digest"])}))
        self.fn = functions(self, "Function", service="notifier", timeout=Duration.minutes(1),
                            handler="cost_janitor.handlers.notifier.lambda_handler")
        # A minute's batching gathers one run's messages, so each owner gets one message (a later batch of the
        # same run updates it in place).
        self.fn.function.add_event_source(sources.SqsEventSource(
            self.queue, batch_size=100, max_batching_window=Duration.minutes(1), report_batch_item_failures=True))
        acknowledge(self.fn.role, Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="only X-Ray PutTraceSegments/PutTelemetryRecords, which have no resource-level permissions"))
