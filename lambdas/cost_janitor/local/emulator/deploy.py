"""What the stacks create, created in the emulator the same way: the janitor's own resources, the hub's and a
member's buses; each returns the env vars the Lambdas read, named by settings.py."""

from __future__ import annotations

import json

from cost_janitor import resources
from cost_janitor.core.policy import Policy
from cost_janitor.local import iam_guard
from cost_janitor.local.emulator.server import FAKE_ACCOUNT, LocalAws
from cost_janitor.settings import env_of

LOCAL_DASHBOARD = "cost-janitor-local"


def deploy_janitor_resources(aws: LocalAws, policy: Policy, region: str = "us-east-1", *,
                             account: str | None = None) -> dict[str, str]:
    """Create what the stack creates (topic, tables, policy parameter, Slack secret, DLQ, dashboard) in the default
    account or `account`; return the env vars."""
    if guard := iam_guard.current():
        guard.deployed(account or FAKE_ACCOUNT, policy)
    sns, ddb, ssm, sm, sqs = (aws.client(s, region, account=account)
                              for s in ("sns", "dynamodb", "ssm", "secretsmanager", "sqs"))
    topic = sns.create_topic(Name="cost-janitor-findings")["TopicArn"]
    ddb.create_table(
        TableName="cost-janitor-ledger", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": resources.LEDGER_PARTITION_KEY, "KeyType": "HASH"},
                   {"AttributeName": resources.LEDGER_SORT_KEY, "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": resources.LEDGER_PARTITION_KEY, "AttributeType": "S"},
                              {"AttributeName": resources.LEDGER_SORT_KEY, "AttributeType": "S"}])
    ddb.update_time_to_live(TableName="cost-janitor-ledger", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": resources.LEDGER_TTL_ATTRIBUTE})
    ddb.create_table(
        TableName="cost-janitor-idempotency", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": resources.IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": resources.IDEMPOTENCY_PARTITION_KEY, "AttributeType": "S"}])
    ssm.put_parameter(Name=resources.POLICY_PARAMETER_NAME, Type="String", Overwrite=True,
                      Value=policy.model_dump_json())
    secret = sm.create_secret(Name=resources.SLACK_SECRET_NAME, SecretString=json.dumps(
        {"bot_token": "xoxb-local-test-token", "signing_secret": "local-signing-secret"}))["ARN"]
    dlq = sqs.create_queue(QueueName="cost-janitor-dlq")["QueueUrl"]
    answers = sqs.create_queue(QueueName="cost-janitor-answers")["QueueUrl"]
    cloudwatch = aws.client("cloudwatch", region, account=account)
    cloudwatch.put_dashboard(DashboardName=LOCAL_DASHBOARD, DashboardBody=json.dumps(
        {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 2,
                      "properties": {"markdown": "cost-janitor (emulator)"}}]}))
    return env_of(dashboard_name=LOCAL_DASHBOARD, answers_queue_url=answers, findings_topic_arn=topic,
                  ledger_table="cost-janitor-ledger", idempotency_table="cost-janitor-idempotency",
                  policy_parameter=resources.POLICY_PARAMETER_NAME, slack_secret_arn=secret) | {"DLQ_URL": dlq}


HUB_BUS = resources.HUB_BUS_NAME


MEMBER_BUS = resources.MEMBER_BUS_NAME


HUB_STARTED_QUEUE = "cost-janitor-hub-started"


def deploy_hub_bus(aws: LocalAws, members: list[str], region: str = "us-east-1") -> tuple[str, str]:
    """The hub's side of organization mode, as the hub stack makes it: its bus, admitting the listed member
    accounts, and the rule that hands findings to the notifier's queue. Returns (bus ARN, queue URL)."""
    if guard := iam_guard.current():
        guard.organization(FAKE_ACCOUNT, members)
    events, sqs = aws.client("events", region), aws.client("sqs", region)
    bus = events.create_event_bus(Name=HUB_BUS)["EventBusArn"]
    events.put_permission(EventBusName=HUB_BUS, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": f"member-{m}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{m}:root"},
         "Action": "events:PutEvents", "Resource": bus} for m in members]}))
    queue = sqs.create_queue(QueueName="cost-janitor-hub-findings")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="findings-to-notifier", EventBusName=HUB_BUS,
                    EventPattern=json.dumps({"source": [resources.FINDINGS_SOURCE],
                                             "detail-type": [resources.FINDINGS_DETAIL_TYPE]}))
    events.put_targets(Rule="findings-to-notifier", EventBusName=HUB_BUS,
                       Targets=[{"Id": "notifier", "Arn": queue_arn}])
    # members' restarts → the report function (here a queue the test hands to it: moto cannot target a Lambda)
    started = sqs.create_queue(QueueName=HUB_STARTED_QUEUE)["QueueUrl"]
    started_arn = sqs.get_queue_attributes(QueueUrl=started, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="members-started-again", EventBusName=HUB_BUS,
                    EventPattern=json.dumps({"source": [resources.FINDINGS_SOURCE], "account": members,
                                             "detail-type": [resources.STARTED_DETAIL_TYPE]}))
    events.put_targets(Rule="members-started-again", EventBusName=HUB_BUS,
                       Targets=[{"Id": "report", "Arn": started_arn}])
    return bus, queue


def deploy_member_bus(aws: LocalAws, account: str, hub_bus_arn: str, region: str = "us-east-1") -> dict[str, str]:
    """A member's side, as the member stack makes it: its own bus, a rule forwarding findings to the hub's bus,
    and the hub outbox (that rule target's dead-letter queue). Returns the env vars it adds."""
    events, sqs = aws.client("events", region, account=account), aws.client("sqs", region, account=account)
    events.create_event_bus(Name=MEMBER_BUS)
    outbox = sqs.create_queue(QueueName="cost-janitor-hub-outbox")["QueueUrl"]
    outbox_arn = sqs.get_queue_attributes(QueueUrl=outbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="findings-to-hub", EventBusName=MEMBER_BUS,
                    EventPattern=json.dumps({"source": [resources.FINDINGS_SOURCE],
                                             "detail-type": [resources.FINDINGS_DETAIL_TYPE,
                                                             resources.STARTED_DETAIL_TYPE]}))
    events.put_targets(Rule="findings-to-hub", EventBusName=MEMBER_BUS, Targets=[{
        "Id": "hub", "Arn": hub_bus_arn, "RoleArn": f"arn:aws:iam::{account}:role/cost-janitor-to-hub",
        "DeadLetterConfig": {"Arn": outbox_arn}}])
    return env_of(findings_bus_name=MEMBER_BUS, hub_outbox_queue_url=outbox)


def subscribe_queue(aws: LocalAws, topic_arn: str, name: str = "findings-tap", region: str = "us-east-1") -> str:
    """An SQS queue subscribed (raw delivery) to a topic, to see what subscribers receive."""
    sqs, sns = aws.client("sqs", region), aws.client("sns", region)
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return url
