"""One JanitorStack per account/region: the shared resources, and the capabilities plugged into them."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cost_janitor.observability import METRIC_ACTION_FAILURES, METRIC_NOT_EVALUATED, METRIC_PUBLISH_FAILURES, NAMESPACE
from infra.constructs.answers import Answers
from infra.constructs.gpu_agent import GpuAgent
from infra.constructs.idle_sweep import IdleSweep
from infra.constructs.neuron_agent import NeuronAgent
from infra.constructs.notifier import Notifier
from infra.constructs.report import Report
from infra.constructs.slack_interactivity import SlackInteractivity
from infra.constructs.spot_interruption import SpotInterruption
from infra.constructs.storage_lifecycle import StorageLifecycle
from infra.constructs.tag_compliance import TagCompliance
from infra.dashboard import JanitorDashboard
from infra.settings import StackSettings
from infra.shared import SharedResources


class JanitorStack(Stack):
    """Wires the capabilities into the shared resources: each construct gets only what it uses, and the grants on
    shared resources are made here, from what each function is wired with."""

    def __init__(self, scope: Construct, id: str, *, settings: StackSettings, **kwargs: object) -> None:
        super().__init__(scope, id, description="cost-janitor: event-driven cost janitor for ML infrastructure",
                         **kwargs)  # type: ignore[arg-type]
        self.settings = settings
        policy = settings.policy
        # everything the stack creates carries it: the digest reads the janitor's own cost by it (Cost Explorer)
        Tags.of(self).add(policy.report.own_cost_tag, self.stack_name)
        shared = self.shared = SharedResources(self, "Shared", settings=settings)
        if settings.ops_email:
            shared.ops_topic.add_subscription(subscriptions.EmailSubscription(settings.ops_email))
        functions, dlq = shared.function, shared.dlq
        self.idle_sweep = IdleSweep(self, "IdleSweep", policy=policy, functions=functions, dlq=dlq)
        self.notifier = Notifier(self, "Notifier", functions=functions, findings_topic=shared.findings_topic,
                                 dlq=dlq)
        self.answers = Answers(self, "Answers", policy=policy, functions=functions, dlq=dlq)
        self.slack_interactivity = SlackInteractivity(
            self, "SlackInteractivity", functions=functions, answers_queue=self.answers.queue,
            reserved_concurrency=settings.slack_reserved_concurrency)
        self.spot_interruption = SpotInterruption(self, "SpotInterruption", functions=functions, dlq=dlq)
        self.gpu_agent = GpuAgent(self, "GpuAgent", tag_key=policy.agent.tag_key)
        self.neuron_agent = NeuronAgent(self, "NeuronAgent", tag_key=policy.agent.neuron_tag_key)
        self.storage_lifecycle = StorageLifecycle(self, "StorageLifecycle", policy=policy, functions=functions,
                                                  dlq=dlq)
        self.tag_compliance = TagCompliance(self, "TagCompliance", policy=policy, functions=functions, dlq=dlq)
        # named, not generated: the digest links it, and a generated name would tie the report function to the
        # dashboard that graphs it (a dependency cycle)
        dashboard_name = f"cost-janitor-{self.stack_name}"
        self.report = Report(self, "Report", policy=policy, functions=functions, dlq=dlq,
                             dashboard_name=dashboard_name)
        self.functions = shared.functions
        for fn in self.functions:
            shared.grant(fn)
        self.dashboard = JanitorDashboard(self, "Dashboard", name=dashboard_name, functions=self.functions, dlq=dlq)
        self._alarms()
        for name, value_ in (("FindingsTopicArn", shared.findings_topic.topic_arn),
                             ("LedgerTableName", shared.ledger.table_name),
                             ("IdempotencyTableName", shared.idempotency.table_name),
                             ("PolicyParameterName", shared.policy_parameter.parameter_name),
                             ("SlackSecretArn", shared.slack_secret.secret_arn),
                             ("DeadLetterQueueUrl", dlq.queue_url)):
            CfnOutput(self, name, value=value_)

    def _alarms(self) -> None:
        """Anything systemic pages ops: errors, dead letters, failed actions, resources left unevaluated."""
        action = cw_actions.SnsAction(self.shared.ops_topic)
        alarms = [cloudwatch.Alarm(
            self, "DeadLettersAlarm", metric=self.shared.dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)), threshold=1, evaluation_periods=1,
            alarm_description="cost-janitor: events reached the dead-letter queue",
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)]
        for fn in self.functions:
            alarms.append(cloudwatch.Alarm(
                fn, "ErrorsAlarm", metric=fn.function.metric_errors(period=Duration.minutes(5)), threshold=1,
                evaluation_periods=1, alarm_description=f"cost-janitor {fn.service}: the function failed",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
            for metric_name, what in ((METRIC_ACTION_FAILURES, "actions failed"),
                                      (METRIC_NOT_EVALUATED, "resources or regions could not be evaluated"),
                                      (METRIC_PUBLISH_FAILURES, "findings could not be published (kept)")):
                alarms.append(cloudwatch.Alarm(
                    fn, f"{metric_name}Alarm", threshold=1, evaluation_periods=1,
                    metric=cloudwatch.Metric(namespace=NAMESPACE, metric_name=metric_name, statistic="Sum",
                                             dimensions_map={"service": fn.service}, period=Duration.hours(1)),
                    alarm_description=f"cost-janitor {fn.service}: {what}",
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        for alarm in alarms:
            alarm.add_alarm_action(action)
