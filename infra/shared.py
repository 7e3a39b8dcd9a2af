"""SharedResources: what every capability plugs into — the topics and their key, the DLQ, the ledger, the
idempotency table, the policy parameter, the Slack secret and the code — and the one function factory, which wires
each Lambda with exactly the variables its handler's settings class declares."""

from __future__ import annotations

import hashlib

from aws_cdk import Acknowledgment, CfnElement, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cost_janitor import resources
from cost_janitor.settings import BY_SERVICE, ORGANIZATION_VARS
from infra.iam import acknowledge
from infra.janitor_function import JanitorFunction, SharedCode
from infra.settings import DEPS_LAYER, StackSettings, policy_json

STANDARD_PARAMETER_LIMIT = 4096
ADVANCED_PARAMETER_LIMIT = 8192


def _keep_logical_id(construct: Construct, top_level_id: str) -> None:
    """Stateful resources keep the logical ID they had at the stack's top level, so moving them into this construct
    never makes CloudFormation replace a table, a key or a topic (RETAIN would orphan the old one and its data)."""
    cfn = construct.node.default_child
    assert isinstance(cfn, CfnElement)
    digest = hashlib.md5(f"{top_level_id}/Resource".encode(), usedforsecurity=False).hexdigest().upper()[:8]
    cfn.override_logical_id(f"{top_level_id}{digest}")


class SharedResources(Construct):
    def __init__(self, scope: Construct, id: str, *, settings: StackSettings, slack: bool = True) -> None:
        """`slack`: whether this stack talks to people (a member stack does not: no Slack secret)."""
        super().__init__(scope, id)
        self.settings = settings
        # organization mode: variables beyond what a handler's settings require, by service (set by the stack
        # before the capabilities are built; only ORGANIZATION_VARS may be added this way)
        self.organization_wiring: dict[str, dict[str, str]] = {}
        self.key = kms.Key(self, "TopicKey", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN,
                           description="cost-janitor SNS topics (EventBridge and CloudWatch alarms publish to them)")
        for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
            self.key.add_to_resource_policy(iam.PolicyStatement(
                principals=[iam.ServicePrincipal(service)], actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"]))
        self.findings_topic = sns.Topic(self, "Findings", master_key=self.key, enforce_ssl=True,
                                        display_name="cost-janitor findings")
        self.ops_topic = sns.Topic(self, "Ops", master_key=self.key, enforce_ssl=True,
                                   display_name="cost-janitor operations alarms")
        self.dlq = sqs.Queue(self, "DeadLetters", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
                             retention_period=Duration.days(14))
        acknowledge(self.dlq, Acknowledgment(
            id="AwsSolutions-SQS3", reason="This queue is the dead-letter queue of every function and rule target"))
        self.ledger = dynamodb.TableV2(
            self, "Ledger",
            partition_key=dynamodb.Attribute(name=resources.LEDGER_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=resources.LEDGER_SORT_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=resources.LEDGER_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=RemovalPolicy.RETAIN)
        self.idempotency = dynamodb.TableV2(
            self, "Idempotency",
            partition_key=dynamodb.Attribute(name=resources.IDEMPOTENCY_PARTITION_KEY,
                                             type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=resources.IDEMPOTENCY_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            removal_policy=RemovalPolicy.DESTROY)
        value = policy_json(settings.policy)
        if len(value.encode()) > ADVANCED_PARAMETER_LIMIT:
            raise ValueError(f"policy is {len(value.encode())} bytes; SSM parameters hold at most "
                             f"{ADVANCED_PARAMETER_LIMIT}. Shorten lifecycle profiles or value lists.")
        self.policy_parameter = ssm.StringParameter(
            self, "Policy", parameter_name=resources.POLICY_PARAMETER_NAME, string_value=value,
            tier=ssm.ParameterTier.STANDARD if len(value.encode()) <= STANDARD_PARAMETER_LIMIT
            else ssm.ParameterTier.ADVANCED,
            description="cost-janitor policy (validated at synth; edit cdk.json and redeploy, or edit here)")
        self.slack_secret: secretsmanager.Secret | None = None
        if slack:
            self.slack_secret = secretsmanager.Secret(
                self, "SlackSecret", secret_name=resources.SLACK_SECRET_NAME,
                description="Slack bot token and signing secret for cost-janitor (fill in after deploy)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template='{"bot_token": "set-me"}', generate_string_key="signing_secret"))
            acknowledge(self.slack_secret, Acknowledgment(
                id="AwsSolutions-SMG4", reason="Slack issues the bot token and signing secret; they are rotated in "
                                               "Slack, not by a Secrets Manager rotation Lambda"))
        for resource, top_level_id in ((self.key, "TopicKey"), (self.findings_topic, "Findings"),
                                       (self.ops_topic, "Ops"), (self.dlq, "DeadLetters"), (self.ledger, "Ledger"),
                                       (self.idempotency, "Idempotency"), (self.policy_parameter, "Policy"),
                                       (self.slack_secret, "SlackSecret")):
            if resource is not None:
                _keep_logical_id(resource, top_level_id)
        self.code = SharedCode(self, "Code", deps_layer_path=str(DEPS_LAYER))
        self.functions: list[JanitorFunction] = []
        self._wiring: dict[str, str] = {
            "POLICY_PARAMETER": self.policy_parameter.parameter_name,
            "IDEMPOTENCY_TABLE": self.idempotency.table_name,
            "FINDINGS_TOPIC_ARN": self.findings_topic.topic_arn,
            "LEDGER_TABLE": self.ledger.table_name,
            **({"SLACK_SECRET_ARN": self.slack_secret.secret_arn} if self.slack_secret else {}),
        }

    def function(self, scope: Construct, id: str, *, service: str, handler: str, timeout: Duration,
                 memory_size: int = 512, reserved_concurrency: int | None = None,
                 environment: dict[str, str] | None = None, role_name: str | None = None) -> JanitorFunction:
        """A JanitorFunction with exactly the environment its handler's settings class declares (the shared
        resources' names, plus `environment` for what is not shared): a variable it declares and nobody provides,
        or one it does not declare, stops synth."""
        wired = BY_SERVICE[service].wired()
        values = {**{k: v for k, v in self._wiring.items() if k in wired}, **(environment or {})}
        if set(values) != wired:
            raise ValueError(f"{service}: its settings declare {sorted(wired)}, the stack wires {sorted(values)}")
        extra = self.organization_wiring.get(service, {})
        if not set(extra) <= ORGANIZATION_VARS:
            raise ValueError(f"{service}: only {sorted(ORGANIZATION_VARS)} may be added, not {sorted(extra)}")
        fn = JanitorFunction(scope, id, service=service, handler=handler, shared=self.code, dlq=self.dlq,
                             log_retention_days=self.settings.log_retention_days, timeout=timeout,
                             memory_size=memory_size, environment={**values, **extra},
                             reserved_concurrency=reserved_concurrency, role_name=role_name)
        self.functions.append(fn)
        return fn

    def grant(self, fn: JanitorFunction) -> None:
        """The shared resources a function may use, derived from what it is wired with — one place for grants."""
        env = fn.wired
        self.dlq.grant_send_messages(fn.role)
        if "POLICY_PARAMETER" in env:
            self.policy_parameter.grant_read(fn.role)
        if "IDEMPOTENCY_TABLE" in env:
            self.idempotency.grant_read_write_data(fn.role)
        if "LEDGER_TABLE" in env:  # records, and reads: the outbox, cursors, backlog, notices, messages
            self.ledger.grant_read_write_data(fn.role)
        if "SLACK_SECRET_ARN" in env and self.slack_secret is not None:
            self.slack_secret.grant_read(fn.role)
        if "FINDINGS_TOPIC_ARN" in env:
            self.findings_topic.grant_publish(fn.role)
            acknowledge(fn.role, Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                reason="topic.grant_publish on the findings topic's own CMK (scoped to that key)"))
