"""One JanitorStack per account/region: the shared resources, and the capabilities plugged into them."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cost_janitor import resources
from cost_janitor.observability import METRIC_ACTION_FAILURES, METRIC_NOT_EVALUATED, METRIC_PUBLISH_FAILURES, NAMESPACE
from infra.constructs.answers import Answers
from infra.constructs.gpu_agent import GpuAgent
from infra.constructs.idle_sweep import IdleSweep
from infra.constructs.notifier import Notifier
from infra.constructs.report import Report
from infra.constructs.slack_interactivity import SlackInteractivity
from infra.constructs.spot_interruption import SpotInterruption
from infra.constructs.storage_lifecycle import StorageLifecycle
from infra.constructs.tag_compliance import TagCompliance
from infra.dashboard import JanitorDashboard
from infra.janitor_function import JanitorFunction, SharedCode
from infra.settings import DEPS_LAYER, StackSettings, policy_json

STANDARD_PARAMETER_LIMIT = 4096
ADVANCED_PARAMETER_LIMIT = 8192


class JanitorStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: StackSettings, **kwargs: object) -> None:
        super().__init__(scope, id, description="cost-janitor: event-driven cost janitor for ML infrastructure",
                         **kwargs)  # type: ignore[arg-type]
        self.settings = settings
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
        if settings.ops_email:
            self.ops_topic.add_subscription(subscriptions.EmailSubscription(settings.ops_email))

        self.dlq = sqs.Queue(self, "DeadLetters", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
                             retention_period=Duration.days(14))
        Validations.of(self.dlq).acknowledge(Acknowledgment(
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
        self.slack_secret = secretsmanager.Secret(
            self, "SlackSecret", secret_name=resources.SLACK_SECRET_NAME,
            description="Slack bot token and signing secret for cost-janitor (fill in after deploy)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"bot_token": "set-me"}', generate_string_key="signing_secret"))
        Validations.of(self.slack_secret).acknowledge(Acknowledgment(
            id="AwsSolutions-SMG4", reason="Slack issues the bot token and signing secret; they are rotated in "
                                           "Slack, not by a Secrets Manager rotation Lambda"))

        self.shared = SharedCode(self, "Code", deps_layer_path=str(DEPS_LAYER))
        self.functions: list[JanitorFunction] = []
        self.idle_sweep = IdleSweep(self, "IdleSweep", stack=self)
        self.notifier = Notifier(self, "Notifier", stack=self)
        self.answers = Answers(self, "Answers", stack=self)
        self.slack_interactivity = SlackInteractivity(self, "SlackInteractivity", stack=self,
                                                      answers_queue=self.answers.queue)
        self.spot_interruption = SpotInterruption(self, "SpotInterruption", stack=self)
        self.gpu_agent = GpuAgent(self, "GpuAgent", stack=self)
        self.storage_lifecycle = StorageLifecycle(self, "StorageLifecycle", stack=self)
        self.tag_compliance = TagCompliance(self, "TagCompliance", stack=self)
        self.report = Report(self, "Report", stack=self)
        self.dashboard = JanitorDashboard(self, "Dashboard", stack=self)
        self._alarms()
        for name, value_ in (("FindingsTopicArn", self.findings_topic.topic_arn),
                             ("LedgerTableName", self.ledger.table_name),
                             ("IdempotencyTableName", self.idempotency.table_name),
                             ("PolicyParameterName", self.policy_parameter.parameter_name),
                             ("SlackSecretArn", self.slack_secret.secret_arn),
                             ("DeadLetterQueueUrl", self.dlq.queue_url)):
            CfnOutput(self, name, value=value_)

    def function(self, id: str, *, service: str, handler: str, scope: Construct,
                 environment: dict[str, str] | None = None, timeout: Duration = Duration.minutes(5),
                 memory_size: int = 512, publishes: bool = False,
                 reserved_concurrency: int | None = None) -> JanitorFunction:
        """A JanitorFunction wired to the shared resources every capability needs (DLQ, policy, idempotency);
        `publishes`: it also records in the ledger and publishes findings (runtime.deliver)."""
        wiring = {"POLICY_PARAMETER": self.policy_parameter.parameter_name,
                  "IDEMPOTENCY_TABLE": self.idempotency.table_name}
        if publishes:
            wiring |= {"FINDINGS_TOPIC_ARN": self.findings_topic.topic_arn, "LEDGER_TABLE": self.ledger.table_name}
        fn = JanitorFunction(
            scope, id, service=service, handler=handler, shared=self.shared, dlq=self.dlq,
            log_retention_days=self.settings.log_retention_days, timeout=timeout, memory_size=memory_size,
            environment={**wiring, **(environment or {})}, reserved_concurrency=reserved_concurrency)
        self.policy_parameter.grant_read(fn.role)
        self.idempotency.grant_read_write_data(fn.role)
        self.dlq.grant_send_messages(fn.role)
        if publishes:
            self.findings_topic.grant_publish(fn.role)
            self.ledger.grant_write_data(fn.role)
            Validations.of(fn.role).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                reason="topic.grant_publish on the findings topic's own CMK (scoped to that key)"))
        self.functions.append(fn)
        return fn

    def _alarms(self) -> None:
        """Anything systemic pages ops: errors, dead letters, failed actions, resources left unevaluated."""
        action = cw_actions.SnsAction(self.ops_topic)
        alarms = [cloudwatch.Alarm(
            self, "DeadLettersAlarm", metric=self.dlq.metric_approximate_number_of_messages_visible(
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
