"""The dashboard: savings, findings by kind, actions by outcome, GPU right-sizing, errors and dead letters —
only metrics the handlers emit (a test reads both sides)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.models import FindingKind
from cost_janitor.observability import (
    METRIC_ACTIONS_BY_STATUS,
    METRIC_ESTIMATED_SAVINGS,
    METRIC_FINDINGS_BY_KIND,
    METRIC_GPU_CANDIDATES,
    METRIC_NOT_EVALUATED,
    METRIC_REALIZED_SAVINGS,
    NAMESPACE,
)
from infra.janitor_function import JanitorFunction

FINDING_KINDS = tuple(FindingKind)
ACTION_STATUSES = ("done", "dry-run", "failed")
WEEK = Duration.days(7)
DAY = Duration.days(1)


def _m(name: str, *, period: Duration = DAY, statistic: str = "Sum", **dims: str) -> cw.Metric:
    return cw.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map=dims or None, period=period,
                     statistic=statistic, label=" ".join([name, *dims.values()]))


class JanitorDashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, name: str, functions: list[JanitorFunction],
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=Duration.days(35))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Realized savings per week (USD)", width=12, left=[
                _m(METRIC_REALIZED_SAVINGS, period=WEEK, statistic="Maximum", service="report")]),
            cw.GraphWidget(title="Estimated monthly savings found per run (USD)", width=12, left=[
                _m(METRIC_ESTIMATED_SAVINGS, statistic="Maximum", service=fn.service) for fn in functions
                if fn.service in ("idle-sweep", "storage-lifecycle")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Findings by kind", width=12, stacked=True,
                           left=[_m(METRIC_FINDINGS_BY_KIND, kind=str(k)) for k in FINDING_KINDS]),
            cw.GraphWidget(title="Actions by outcome", width=12, stacked=True,
                           left=[_m(METRIC_ACTIONS_BY_STATUS, status=s) for s in ACTION_STATUSES]),
        )
        self.dashboard.add_widgets(
            cw.SingleValueWidget(title="GPU instances under 50 % (right-sizing candidates)", width=8,
                                 metrics=[_m(METRIC_GPU_CANDIDATES, period=WEEK, statistic="Maximum",
                                             service="report")]),
            cw.GraphWidget(title="Errors and resources not evaluated", width=8,
                           left=[fn.function.metric_errors(period=Duration.hours(1)) for fn in functions]
                           + [_m(METRIC_NOT_EVALUATED, period=Duration.hours(1), service=fn.service)
                              for fn in functions if fn.service == "idle-sweep"]),
            cw.GraphWidget(title="Dead letters", width=8,
                           left=[dlq.metric_approximate_number_of_messages_visible(period=Duration.minutes(5))]),
        )
