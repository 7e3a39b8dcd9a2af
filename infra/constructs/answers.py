"""Answers: the Slack interactivity endpoint's queue → the answers Lambda, which authorises each answer and carries
it out where the resource is — in every region the policy covers. Tag writes are limited to the answer keys; stops
to dev-tagged instances; terminate is denied."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.policy import Policy
from infra.iam import grant_answers
from infra.janitor_function import FunctionFactory


class Answers(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue, role_name: str | None = None) -> None:
        super().__init__(scope, id)
        self.queue = sqs.Queue(
            self, "Queue", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
            visibility_timeout=Duration.minutes(3),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
        self.fn = functions(self, "Function", service="answers", timeout=Duration.seconds(30),
                            handler="cost_janitor.handlers.answers.lambda_handler", role_name=role_name)
        self.fn.function.add_event_source(sources.SqsEventSource(self.queue, batch_size=10,
                                                                 report_batch_item_failures=True))
        grant_answers(self, self.fn.role, policy, restore=True)
