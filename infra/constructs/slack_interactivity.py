"""Slack interactivity: a Function URL (auth NONE; every request's Slack signature is verified in the handler) that
opens modals and queues answers — and may do nothing else: no EC2, no tags, no ledger. Reserved concurrency caps
what a flood of unsigned requests can cost."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.iam import acknowledge
from infra.janitor_function import FunctionFactory


class SlackInteractivity(Construct):
    def __init__(self, scope: Construct, id: str, *, functions: FunctionFactory, answers_queue: sqs.IQueue,
                 reserved_concurrency: int | None) -> None:
        super().__init__(scope, id)
        self.fn = functions(self, "Function", service="slack-interactivity", memory_size=1024,
                            timeout=Duration.seconds(10), reserved_concurrency=reserved_concurrency,
                            handler="cost_janitor.handlers.slack_interactivity.lambda_handler",
                            environment={"ANSWERS_QUEUE_URL": answers_queue.queue_url})
        self.url = self.fn.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        answers_queue.grant_send_messages(self.fn.role)
        acknowledge(self.fn.role, Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="only X-Ray PutTraceSegments/PutTelemetryRecords, which have no resource-level permissions"))
        CfnOutput(Stack.of(self), "SlackInteractivityUrl", value=f"{self.url.url}slack/actions",
                  description="Paste into your Slack app: Interactivity & Shortcuts → Request URL")
