"""One JanitorStack per account/region: the shared resources, and the capabilities plugged into them."""

from __future__ import annotations

from typing import Literal

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.observability import METRIC_ACTION_FAILURES, METRIC_NOT_EVALUATED, METRIC_PUBLISH_FAILURES, NAMESPACE
from cost_janitor.resources import HUB_ANSWERS_ROLE_NAME
from infra.constructs.answers import Answers
from infra.constructs.gpu_agent import GpuAgent
from infra.constructs.idle_sweep import IdleSweep
from infra.constructs.neuron_agent import NeuronAgent
from infra.constructs.notifier import Notifier
from infra.constructs.organization import HubLink, MemberLink
from infra.constructs.report import Report
from infra.constructs.slack_interactivity import SlackInteractivity
from infra.constructs.spot_interruption import SpotInterruption
from infra.constructs.storage_lifecycle import StorageLifecycle
from infra.constructs.tag_compliance import TagCompliance
from infra.dashboard import JanitorDashboard
from infra.janitor_function import FunctionFactory
from infra.settings import StackSettings
from infra.shared import SharedResources

Kind = Literal["single", "hub", "member"]


class JanitorStack(Stack):
    """Wires the capabilities into the shared resources: each construct gets only what it uses, and the grants on
    shared resources are made here, from what each function is wired with.

    kind: `single` (today's one-account stack, the default) does everything; `hub` does the same for its own
    account and is also the one place members' findings reach people (their bus, Slack, answers, digest);
    `member` reads and acts in its account and sends its findings to the hub — no Slack, notifier or digest."""

    def __init__(self, scope: Construct, id: str, *, settings: StackSettings, kind: Kind = "single",
                 **kwargs: object) -> None:
        super().__init__(scope, id, description="cost-janitor: event-driven cost janitor for ML infrastructure"
                         + ("" if kind == "single" else f" ({kind} of an organization)"),
                         **kwargs)  # type: ignore[arg-type]
        self.settings, self.kind = settings, kind
        policy, org = settings.policy, settings.organization
        if kind != "single" and org is None:
            raise ValueError(f"a {kind} stack needs the 'organization' context")
        # everything the stack creates carries it: the digest reads the janitor's own cost by it (Cost Explorer)
        Tags.of(self).add(policy.report.own_cost_tag, self.stack_name)
        shared = self.shared = SharedResources(self, "Shared", settings=settings, slack=kind != "member")
        if settings.ops_email:
            shared.ops_topic.add_subscription(subscriptions.EmailSubscription(settings.ops_email))
        functions, dlq = shared.function, shared.dlq
        self.member_link: MemberLink | None = None
        self.hub_link: HubLink | None = None
        if kind == "member":
            assert org is not None
            self.member_link = MemberLink(self, "MemberLink", policy=policy, hub=org.hub, dlq=dlq)
            shared.organization_wiring = self.member_link.wiring()
        elif kind == "hub":
            assert org is not None
            shared.organization_wiring = HubLink.wiring(org.member_accounts())
        self.idle_sweep = IdleSweep(self, "IdleSweep", policy=policy, functions=functions, dlq=dlq)
        if kind != "member":
            self._people(settings, functions, dlq)
        self.spot_interruption = SpotInterruption(self, "SpotInterruption", functions=functions, dlq=dlq)
        self.gpu_agent = GpuAgent(self, "GpuAgent", tag_key=policy.agent.tag_key,
                                  per_gpu=policy.agent.per_gpu_series)
        self.neuron_agent = NeuronAgent(self, "NeuronAgent", tag_key=policy.agent.neuron_tag_key)
        self.storage_lifecycle = StorageLifecycle(self, "StorageLifecycle", policy=policy, functions=functions,
                                                  dlq=dlq)
        self.tag_compliance = TagCompliance(self, "TagCompliance", policy=policy, functions=functions, dlq=dlq)
        # named, not generated: the digest links it, and a generated name would tie the report function to the
        # dashboard that graphs it (a dependency cycle)
        dashboard_name = f"cost-janitor-{self.stack_name}"
        if kind != "member":
            self.report = Report(self, "Report", policy=policy, functions=functions, dlq=dlq,
                                 dashboard_name=dashboard_name)
            if self.hub_link is not None:
                self.hub_link.hear_starts(self.report.fn.function, dlq)
        self.functions = shared.functions
        for fn in self.functions:
            shared.grant(fn)
            for link in (self.hub_link, self.member_link):
                if link is not None:
                    link.grant(fn)
        self.dashboard = JanitorDashboard(self, "Dashboard", name=dashboard_name, functions=self.functions, dlq=dlq)
        self._alarms()
        outputs = [("FindingsTopicArn", shared.findings_topic.topic_arn),
                   ("LedgerTableName", shared.ledger.table_name),
                   ("IdempotencyTableName", shared.idempotency.table_name),
                   ("PolicyParameterName", shared.policy_parameter.parameter_name),
                   ("DeadLetterQueueUrl", dlq.queue_url)]
        if shared.slack_secret is not None:
            outputs.append(("SlackSecretArn", shared.slack_secret.secret_arn))
        if self.hub_link is not None:
            outputs.append(("HubBusArn", self.hub_link.bus.event_bus_arn))
        if self.member_link is not None:
            outputs.append(("HubOutboxQueueUrl", self.member_link.outbox.queue_url))
        for name, value_ in outputs:
            CfnOutput(self, name, value=value_)

    def _people(self, settings: StackSettings, functions: FunctionFactory, dlq: sqs.IQueue) -> None:
        """What talks to people: the notifier, Slack and the answers — and, on a hub, the members' way in."""
        shared, org = self.shared, settings.organization
        self.notifier = Notifier(self, "Notifier", functions=functions, findings_topic=shared.findings_topic,
                                 dlq=dlq)
        self.answers = Answers(self, "Answers", policy=settings.policy, functions=functions, dlq=dlq,
                               role_name=HUB_ANSWERS_ROLE_NAME if self.kind == "hub" else None)
        self.slack_interactivity = SlackInteractivity(
            self, "SlackInteractivity", functions=functions, answers_queue=self.answers.queue,
            reserved_concurrency=settings.slack_reserved_concurrency or None)
        if self.kind == "hub":
            assert org is not None
            self.hub_link = HubLink(self, "HubLink", members=org.member_accounts(),
                                    notifier_queue=self.notifier.queue, dlq=dlq, org_id=org.org_id)

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
