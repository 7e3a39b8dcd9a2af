"""Organization mode: how a member's findings reach the hub, and how the hub's answers reach a member.

Member → hub: each publishing function puts its findings on the member's own bus; a rule forwards them to the
hub's bus (EventBridge's documented cross-account path: a rule whose target is the other account's bus, with a role
that may put events there). What the hub refuses lands in that target's dead-letter queue — the hub outbox — and
the next run of any capability puts it on the bus again. The hub's bus admits only the listed member accounts, and
its rule hands their findings to the notifier's queue; EventBridge stamps each event with the sending account, and
the notifier hears a member only about its own account.

Hub → member: the hub's answers function (a role with a fixed name) may assume one role in each member, which
trusts exactly that role and may do exactly what an answer does there: write the answer tag keys, stop dev-tagged
instances, never terminate. The hub holds no other right in a member.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.policy import Policy
from cost_janitor.resources import (
    FINDINGS_DETAIL_TYPE,
    FINDINGS_SOURCE,
    HUB_ANSWERS_ROLE_NAME,
    HUB_BUS_NAME,
    MEMBER_BUS_NAME,
    MEMBER_ROLE_NAME,
    STARTED_DETAIL_TYPE,
)
from cost_janitor.settings import BY_SERVICE, PublishingSettings
from infra.iam import acknowledge, grant_answers
from infra.janitor_function import JanitorFunction
from infra.settings import Target

FINDINGS = events.EventPattern(source=[FINDINGS_SOURCE], detail_type=[FINDINGS_DETAIL_TYPE])
# what a member's bus forwards to the hub: its findings, and the resources its sweep saw started again (any region)
TO_HUB = events.EventPattern(source=[FINDINGS_SOURCE], detail_type=[FINDINGS_DETAIL_TYPE, STARTED_DETAIL_TYPE])
STARTED = {"source": ["aws.ec2"], "detail_type": ["EC2 Instance State-change Notification"],
           "detail": {"state": ["running"]}}  # a stopped box running again ends its savings (the hub's digest)
# every function that publishes findings (its settings are PublishingSettings): in a member, to the bus
PUBLISHERS = tuple(service for service, declared in BY_SERVICE.items() if issubclass(declared, PublishingSettings))


class HubLink(Construct):
    """The hub's side: its bus (admitting the members), the rule to the notifier's queue, and the answers
    function's right to assume each member's narrow role — nothing else in any member."""

    def __init__(self, scope: Construct, id: str, *, members: list[str], notifier_queue: sqs.IQueue,
                 dlq: sqs.IQueue, org_id: str | None = None) -> None:
        super().__init__(scope, id)
        self.members = members
        self.bus = events.EventBus(self, "Bus", event_bus_name=HUB_BUS_NAME)
        if org_id:  # one statement for the organization (the policy-size quota); the rule below still lists members
            self.bus.add_to_resource_policy(iam.PolicyStatement(
                sid="Organization", principals=[iam.AnyPrincipal()], actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn], conditions={"StringEquals": {"aws:PrincipalOrgID": org_id}}))
        for account in [] if org_id else members:
            self.bus.add_to_resource_policy(iam.PolicyStatement(
                sid=f"Member{account}", principals=[iam.AccountPrincipal(account)], actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn]))
        self.rule = events.Rule(self, "FindingsToNotifier", event_bus=self.bus, description=(
            "cost-janitor: members' findings to the notifier"), event_pattern=events.EventPattern(
                source=[FINDINGS_SOURCE], detail_type=[FINDINGS_DETAIL_TYPE], account=members))
        self.rule.add_target(targets.SqsQueue(notifier_queue, dead_letter_queue=dlq, retry_attempts=2,
                                              max_event_age=Duration.hours(6)))
        stack = Stack.of(self)
        self.member_roles = [stack.format_arn(service="iam", region="", account=account, resource="role",
                                              resource_name=MEMBER_ROLE_NAME) for account in members]

    @staticmethod
    def wiring(members: list[str]) -> dict[str, dict[str, str]]:
        """What the hub's functions are told (known before they are built): who the members are."""
        accounts = ",".join(members)
        return {"notifier": {"MEMBER_ACCOUNTS": accounts},
                "answers": {"MEMBER_ACCOUNTS": accounts, "MEMBER_ROLE_NAME": MEMBER_ROLE_NAME}}

    def hear_starts(self, report: lambda_.IFunction, dlq: sqs.IQueue) -> None:
        """Members' instances starting again reach the hub's report function (it ends their savings clock)."""
        rule = events.Rule(self, "MembersStarted", event_bus=self.bus, description=(
            "cost-janitor: members' instances starting (ends savings)"), event_pattern=events.EventPattern(
                **STARTED, account=self.members))  # type: ignore[arg-type]
        rule.add_target(targets.LambdaFunction(report, dead_letter_queue=dlq, retry_attempts=2,
                                               max_event_age=Duration.hours(2)))
        # the resources a member's sweep saw started again, in any of its regions (EC2 sends state changes only
        # in the instance's own region, and notebooks and Studio apps send none)
        swept = events.Rule(self, "MembersStartedAgain", event_bus=self.bus, description=(
            "cost-janitor: members' resources started again (ends savings)"), event_pattern=events.EventPattern(
                source=[FINDINGS_SOURCE], detail_type=[STARTED_DETAIL_TYPE], account=self.members))
        swept.add_target(targets.LambdaFunction(report, dead_letter_queue=dlq, retry_attempts=2,
                                                max_event_age=Duration.hours(2)))

    def grant(self, fn: JanitorFunction) -> None:
        if "MEMBER_ROLE_NAME" in fn.wired:
            fn.role.add_to_policy(iam.PolicyStatement(
                sid="AssumeOnlyTheMembersAnswersRole", actions=["sts:AssumeRole"], resources=self.member_roles))


class MemberLink(Construct):
    """A member's side: its bus, the rule forwarding findings to the hub's bus (refused → the hub outbox), and the
    narrow role the hub's answers assume."""

    def __init__(self, scope: Construct, id: str, *, policy: Policy, hub: Target, dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.bus = events.EventBus(self, "Bus", event_bus_name=MEMBER_BUS_NAME)
        self.outbox = sqs.Queue(self, "HubOutbox", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
                                retention_period=Duration.days(14))
        acknowledge(self.outbox, Acknowledgment(
            id="AwsSolutions-SQS3", reason="this queue is the dead-letter queue of the rule that forwards findings "
                                           "to the hub; the next run puts what it holds on the bus again"))
        hub_bus = events.EventBus.from_event_bus_arn(self, "HubBus", stack.format_arn(
            service="events", region=hub.region, account=hub.account, resource="event-bus",
            resource_name=HUB_BUS_NAME))
        self.rule = events.Rule(self, "FindingsToHub", event_bus=self.bus, event_pattern=TO_HUB,
                                description="cost-janitor: findings to the hub's bus")
        self.rule.add_target(targets.EventBus(hub_bus, dead_letter_queue=self.outbox))
        # instances starting again (the default bus) → the hub, for its digest; a lost one only overstates savings,
        # and lands in the DLQ (alarmed), not the outbox (which holds findings only)
        self.started = events.Rule(self, "StartedToHub", description="cost-janitor: instances starting, to the hub",
                                   event_pattern=events.EventPattern(**STARTED))  # type: ignore[arg-type]
        self.started.add_target(targets.EventBus(hub_bus, dead_letter_queue=dlq))
        hub_answers = stack.format_arn(service="iam", region="", account=hub.account, resource="role",
                                       resource_name=HUB_ANSWERS_ROLE_NAME)
        self.answers_role = iam.Role(
            self, "AnswersRole", role_name=MEMBER_ROLE_NAME, max_session_duration=Duration.hours(1),
            description="cost-janitor: what the hub's answers may do here (answer tags, stop dev instances)",
            assumed_by=iam.AccountPrincipal(hub.account).with_conditions({"ArnEquals": {
                "aws:PrincipalArn": hub_answers}}))
        grant_answers(self, self.answers_role, policy, restore=False)

    def wiring(self) -> dict[str, dict[str, str]]:
        """Each publishing function puts findings on the bus and sends the hub outbox again."""
        return {service: {"FINDINGS_BUS_NAME": MEMBER_BUS_NAME, "HUB_OUTBOX_QUEUE_URL": self.outbox.queue_url}
                for service in PUBLISHERS}

    def grant(self, fn: JanitorFunction) -> None:
        if "FINDINGS_BUS_NAME" in fn.wired:
            self.bus.grant_put_events_to(fn.role)
        if "HUB_OUTBOX_QUEUE_URL" in fn.wired:
            self.outbox.grant_consume_messages(fn.role)
