"""Shared Lambda defaults: Python 3.13 on arm64, the deps layer, JSON logs, X-Ray, own role and log group."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Acknowledgment, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.iam import acknowledge
from infra.settings import LAMBDA_ROOT

# local/ (emulator, demo, test support) and cli/ run on a laptop, never in a Lambda
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "cost_janitor/local", "cost_janitor/cli", "*.egg-info",
                 "requirements.txt"]
RETENTION = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS, 2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}


class SharedCode(Construct):
    """The code asset and the one layer every function uses: Powertools, pydantic and slack-sdk at the versions the
    tests ran (lambdas/requirements.txt), built for arm64 — no public layer, so the same in every partition."""

    def __init__(self, scope: Construct, id: str, *, deps_layer_path: str) -> None:
        super().__init__(scope, id)
        self.code = lambda_.Code.from_asset(str(LAMBDA_ROOT), exclude=ASSET_EXCLUDE)
        self.deps = lambda_.LayerVersion(
            self, "Deps", code=lambda_.Code.from_asset(deps_layer_path),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_13], compatible_architectures=[lambda_.Architecture.ARM_64],
            description="cost-janitor runtime packages (lambdas/requirements.txt)")


FunctionFactory = Callable[..., "JanitorFunction"]  # SharedResources.function, handed to each construct


class JanitorFunction(Construct):
    """A janitor Lambda. `service` is its POWERTOOLS_SERVICE_NAME (the capability's name, hyphenated)."""

    def __init__(
        self, scope: Construct, id: str, *, service: str, handler: str, shared: SharedCode, dlq: sqs.IQueue,
        environment: dict[str, str], log_retention_days: int, timeout: Duration = Duration.minutes(5),
        memory_size: int = 512, reserved_concurrency: int | None = None, role_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.service = service
        self.wired = set(environment)  # the variables the stack wired (its grants follow from them)
        self.log_group = logs.LogGroup(self, "Logs", retention=RETENTION[log_retention_days],
                                       removal_policy=RemovalPolicy.RETAIN)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description=f"cost-janitor {service}", role_name=role_name)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]))
        self.function = lambda_.Function(
            self, "Function",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=shared.code,
            layers=[shared.deps],
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout,
            memory_size=memory_size,
            dead_letter_queue=dlq,
            retry_attempts=2,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": "CostJanitor",
                "DLQ_URL": dlq.queue_url,
                **environment,
            },
            description=f"cost-janitor {service}",
        )
        acknowledge(self.function, Acknowledgment(
            id="AwsSolutions-L1", reason="Python 3.13 is the runtime the deps layer (lambdas/requirements.txt, "
                                         "built for cp313 arm64) is built for; move both together"))
