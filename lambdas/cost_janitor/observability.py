"""Logging, tracing and metrics in one place. The service name comes from POWERTOOLS_SERVICE_NAME per function."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from cost_janitor.core.models import ActionResult, Finding

NAMESPACE = "CostJanitor"

logger = Logger()
# Only botocore (AWS calls) and httplib (slack-sdk talks to Slack through urllib) are patched: patching
# every module the X-Ray SDK knows imports requests & co. for nothing (~30 ms of each cold start).
tracer = Tracer(patch_modules=("botocore", "httplib"))
metrics = Metrics(namespace=NAMESPACE)

# The metric names the handlers emit; the dashboard and alarms reference only these.
METRIC_FINDINGS = "Findings"
METRIC_ACTIONS = "Actions"
METRIC_ACTION_FAILURES = "ActionFailures"
METRIC_NOT_EVALUATED = "ResourcesNotEvaluated"
METRIC_ESTIMATED_SAVINGS = "EstimatedMonthlySavingsUSD"
METRIC_FINDINGS_BY_KIND = "FindingsByKind"
METRIC_ACTIONS_BY_STATUS = "ActionsByStatus"
METRIC_REALIZED_SAVINGS = "RealizedSavingsUSD"
METRIC_GPU_CANDIDATES = "GpuRightSizingCandidates"
METRIC_PUBLISH_FAILURES = "PublishFailures"
METRIC_SLACK_REPLY_FAILURES = "SlackReplyFailures"
METRIC_REFUSED_FINDINGS = "RefusedFindings"  # hub: findings from a non-member, or naming another account


def count_by(name: str, dimension: str, value: str, count: float = 1) -> None:
    """A metric with one dimension of its own (kind, status), for the dashboard's breakdowns."""
    with single_metric(name=name, unit=MetricUnit.Count, value=count, namespace=NAMESPACE) as metric:
        metric.add_dimension(name=dimension, value=value)


def audit(result: ActionResult, finding: Finding | None, *, dry_run: bool) -> None:
    """The audit trail: every action taken (or planned in dry-run) is logged once, as one structured record."""
    logger.info(
        "action",
        extra={
            "audit": True,
            "action": str(result.kind),
            "resource_id": result.resource_id,
            "region": result.region,
            "status": result.status,
            "error_code": result.error_code,
            "dry_run": dry_run,
            "verdict": str(finding.verdict) if finding else None,
            "reason": finding.reason if finding else None,
            "evidence": finding.evidence if finding else None,
            "monthly_usd": finding.monthly_usd if finding else None,
            "run_id": finding.run_id if finding else None,
        },
    )
    metrics.add_metric(name=METRIC_ACTIONS, unit=MetricUnit.Count, value=1)
    count_by(METRIC_ACTIONS_BY_STATUS, "status", result.status)
    if result.status == "failed":
        metrics.add_metric(name=METRIC_ACTION_FAILURES, unit=MetricUnit.Count, value=1)
