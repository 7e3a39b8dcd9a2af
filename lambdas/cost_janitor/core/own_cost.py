"""What cost-janitor itself costs a month: a small model over the fleet's size and the policy's schedules, with
public list prices (dated, like the instance price table) and API counts and durations measured by the
benchmarks (`bench/sweep.py`, `bench/cold_start.py`, `bench/slack_first_request.py`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cost_janitor.core.policy import Policy

# Public list prices, us-east-1, USD, as of this date; free tiers are left out (the figures are upper bounds).
PRICE_DATE = "2025-05-01"
PRICES = {
    "custom_metric_month": 0.30,  # CloudWatch custom metric, first 10,000; prorated by the hour it is sent in
    "get_metric_data_per_1k_metrics": 0.01,
    "cloudwatch_api_per_1k_requests": 0.01,  # ListMetrics, PutMetricData
    "alarm_month": 0.10,  # standard resolution
    "dashboard_month": 3.00,  # the first three per account are free
    "logs_ingest_per_gb": 0.50,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_per_1m_requests": 0.20,
    "dynamodb_per_1m_write_units": 0.625,  # on-demand
    "dynamodb_per_1m_read_units": 0.125,
    "kms_key_month": 1.00,
    "kms_per_10k_requests": 0.03,
    "secret_month": 0.40,
    "secrets_per_10k_calls": 0.05,
    "sqs_per_1m_requests": 0.40,
    "sns_per_1m_publishes": 0.50,
    "xray_per_1m_traces": 5.00,
    "cost_explorer_per_request": 0.01,
}
HOURS_PER_MONTH = 730.0
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60

# Measured by bench/sweep.py at 1,000 instances (its seeded fleet, 2026-12-01, 2 cores): per 1,000 instances a night.
SWEEP_CALLS_PER_1K = {"DescribeInstances": 1.0, "GetMetricData": 7.0, "ListMetrics": 3.0}
SWEEP_METRICS_REQUESTED_PER_1K = 3_105.0  # GetMetricData queries (its billing unit), same run (one series per GPU)
# Measured by bench/agent_rollup.py on the same fleet with the GPUs rolled up per instance (the default agent config,
# 2026-12-06): 2,231 metrics requested — one query per GPU box and measurement instead of one per GPU
SWEEP_METRICS_REQUESTED_PER_1K_ROLLED = 2_231.0
SWEEP_CPU_S_PER_1K = 9.74  # client CPU of the read phase at 1,000
SWEEP_CPU_GROWTH_10X = 2.9  # 10× the fleet costs 2.9× the CPU (README "Measured": 6.5 s → 18.9 s)
COLD_START_S = 0.6  # bench/cold_start.py, bench/slack_first_request.py: import + first request
AWS_CALL_S = 0.25  # assumed round trip of one AWS call from Lambda (not measurable against the emulator)
AGENT_MEASUREMENTS = 2  # agent/cloudwatch-agent.json: utilization_gpu, utilization_memory
AGENT_FLUSH_S = 300  # its force_flush_interval: one PutMetricData per box per flush (samples stay at 60 s)
ALARMS_PER_FUNCTION = 4  # errors, action failures, not evaluated, publish failures (+1 for the DLQ)
FUNCTIONS = 8
JANITOR_METRICS_PER_RUN = 12  # distinct (service, name, dimensions) a capability emits in one run, at most
# Measured by bench/sagemaker.py at 1,000 endpoints (its seeded fleet, re-run 2026-12-06, results committed):
# GetMetricData queries a night (Invocations, instance CPU, GPU and GPU memory per variant; 3,709 in an earlier run,
# the difference not traced). Its other calls (lists, tags, describes) are free.
ENDPOINT_METRICS_REQUESTED_PER_1K = 3_868.0
# Measured by bench/eks.py (100 GPU nodes in node groups of 10 and 1,000 pods, a fifth requesting GPUs, 2026-12-06):
# 4,840 metrics requested a night = 420 per 100 nodes (node_gpu_limit, node_gpu_usage_total twice: the window and
# the hours before the run, node_gpu_utilization; GroupDesiredCapacity min and max per node group) + 4,420 per 1,000
# pods (CPU and memory requests and use; GPU request and utilisation for GPU pods). 22 ListMetrics pages for the
# 100/1,000 cluster, 38 for 200/2,000: one page per 500 listed series.
EKS_METRICS_PER_100_NODES = 420.0
EKS_METRICS_PER_1K_PODS = 4_420.0
EKS_LIST_PAGES_PER_1K_PODS = 16.0
EKS_LIST_PAGES_BASE = 6.0
# Measured by bench/network.py (100 and 200 VPCs with a NAT gateway each, 2026-12-06): 2 metrics per NAT gateway a
# night (BytesInFromSource, BytesInFromDestination; 250 NAT gateways per GetMetricData call), one Cost Explorer
# request a night (its 30 days by usage type), whatever the number of VPCs.
NETWORK_METRICS_PER_NAT = 2.0
NETWORK_COST_EXPLORER_PER_NIGHT = 1.0
# Container Insights with enhanced observability is billed to the cluster per observation ("Amazon CloudWatch
# pricing"); that price is not in the janitor's offline table, so it is stated, unpriced, never guessed.
CONTAINER_INSIGHTS_UNPRICED = ("Container Insights (enhanced observability) on the clusters: billed per observation "
                               "to the clusters' own account (https://aws.amazon.com/cloudwatch/pricing/); no offline "
                               "price here, so it is not in the total. The janitor only reads it.")


@dataclass(frozen=True)
class Fleet:
    """The account the janitor watches."""

    instances: int
    gpu_instances: int
    gpus_per_box: float
    regions: int = 1
    buckets: int = 20
    creations_per_day: float | None = None  # CloudTrail creation calls checked; default: 2 % of the fleet a day
    answers_per_month: int = 50  # Slack clicks and forms
    endpoints: int = 0  # SageMaker real-time endpoints swept
    neuron_instances: int = 0  # Inferentia / Trainium boxes running the Neuron pusher
    neuron_cores_per_box: float = 2
    eks_nodes: int = 0  # GPU nodes of EKS clusters the EKS family judges (idle.services: eks)
    eks_pods: int = 0  # pods of those clusters (their Container Insights series are read)
    nat_gateways: int = 0  # NAT gateways the network family reads (idle.services: network)


@dataclass(frozen=True)
class LineItem:
    name: str
    monthly_usd: float
    basis: str


def runs_per_month(expression: str) -> float:
    """How often an EventBridge schedule fires in a month: rate(N unit) exactly; cron(...) by its day fields
    (a day-of-week list → weekly per day, '*' or '?' days → daily, a day of month → monthly), times its hours."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        per_day = {"minute": 1440, "hour": 24, "day": 1}[rate.group(2).rstrip("s")] / int(rate.group(1))
        return round(per_day * HOURS_PER_MONTH / 24, 2)
    fields = expression.removeprefix("cron(").removesuffix(")").split()
    minutes, hours, day_of_month, _month, day_of_week = fields[:5]
    per_day = _count(minutes, 60) * _count(hours, 24)
    if day_of_week not in ("?", "*"):
        days = 4.35 * len(day_of_week.split(","))
    elif day_of_month not in ("?", "*"):
        days = len(day_of_month.split(","))
    else:
        days = HOURS_PER_MONTH / 24
    return round(per_day * days, 2)


def _count(field: str, span: int) -> int:
    """How many values a cron minutes/hours field takes: '*' all, 'a/b' every b from a, 'a,b,c' each."""
    if field == "*":
        return span
    if "/" in field:
        start, step = field.split("/")
        return len(range(0 if start == "*" else int(start), span, int(step)))
    return len(field.split(","))


def sweep_seconds(instances: int) -> float:
    """One night's sweep: the measured client CPU (linear up to 1,000, then as measured to 10,000) plus a round
    trip per call."""
    cpu = SWEEP_CPU_S_PER_1K * instances / 1000 if instances <= 1000 else \
        SWEEP_CPU_S_PER_1K * (1 + (SWEEP_CPU_GROWTH_10X - 1) * (instances - 1000) / 9000)
    calls = sum(SWEEP_CALLS_PER_1K.values()) * max(1.0, instances / 1000)
    return COLD_START_S + cpu + calls * AWS_CALL_S


def estimate(fleet: Fleet, policy: Policy) -> list[LineItem]:
    """The janitor's monthly bill, line by line, most expensive first."""
    p = PRICES
    nights = runs_per_month(policy.idle.schedule)
    weeks = runs_per_month(policy.report.schedule)
    storage_runs = runs_per_month(policy.lifecycle.schedule)
    coverage_runs = runs_per_month(policy.tagging.report_schedule)
    creations = (fleet.creations_per_day if fleet.creations_per_day is not None
                 else 0.02 * fleet.instances) * HOURS_PER_MONTH / 24
    gpus = fleet.gpu_instances * fleet.gpus_per_box
    # the agent's series: one per box by default (aggregation_dimensions [["InstanceId"]] + drop_original_metrics),
    # one per GPU with agent.per_gpu_series
    series = gpus if policy.agent.per_gpu_series else fleet.gpu_instances
    k = fleet.instances / 1000
    per_1k = SWEEP_METRICS_REQUESTED_PER_1K if policy.agent.per_gpu_series else SWEEP_METRICS_REQUESTED_PER_1K_ROLLED
    metrics = per_1k * k * nights + series * weeks  # the sweep, and the digest's GPU averages
    list_metrics = math.ceil(SWEEP_CALLS_PER_1K["ListMetrics"] * max(k, 1 / 3)) * fleet.regions * (nights + weeks)
    invocations = {  # Lambda invocations a month, and seconds each
        "idle-sweep": (nights, sweep_seconds(fleet.instances) + (fleet.regions - 1) * COLD_START_S),
        "storage-lifecycle": (storage_runs, COLD_START_S + (4 * fleet.buckets + 6 * fleet.regions) * AWS_CALL_S),
        "tag-compliance": (creations + coverage_runs, COLD_START_S + 3 * AWS_CALL_S),
        "notifier": (nights + storage_runs + creations / 10, COLD_START_S + 10 * AWS_CALL_S),
        "report": (weeks, COLD_START_S + 20 * AWS_CALL_S),
        "slack-interactivity": (fleet.answers_per_month * 1.5, COLD_START_S),
        "answers": (fleet.answers_per_month, COLD_START_S + 5 * AWS_CALL_S),
    }
    gb_seconds = sum(n * s * (1.0 if name in ("idle-sweep", "storage-lifecycle", "report", "slack-interactivity")
                              else 0.5) for name, (n, s) in invocations.items())
    requests = sum(n for n, _ in invocations.values())
    actionable = 0.35 * fleet.instances * nights  # findings with an action or a request: one ledger write each
    items = [
        LineItem("GPU agent: custom metrics", series * AGENT_MEASUREMENTS * p["custom_metric_month"],
                 (f"{gpus:,.0f} GPUs" if policy.agent.per_gpu_series else
                  f"{fleet.gpu_instances:,.0f} GPU boxes (one series each, the GPUs rolled up)")
                 + f" × {AGENT_MEASUREMENTS} measurements × ${p['custom_metric_month']}/metric-month"),
        LineItem("GPU agent: PutMetricData", fleet.gpu_instances * MINUTES_PER_MONTH * 60 / AGENT_FLUSH_S / 1000
                 * p["cloudwatch_api_per_1k_requests"],
                 f"one request per box every {AGENT_FLUSH_S} s × ${p['cloudwatch_api_per_1k_requests']}/1,000"),
        LineItem("CloudWatch GetMetricData", metrics / 1000 * p["get_metric_data_per_1k_metrics"],
                 f"{per_1k:,.0f} metrics per 1,000 instances a night (measured) × "
                 f"{nights:g} nights, + the digest's GPU averages"),
        LineItem("CloudWatch ListMetrics", list_metrics / 1000 * p["cloudwatch_api_per_1k_requests"],
                 f"{SWEEP_CALLS_PER_1K['ListMetrics']:g} pages per 1,000 instances per region and run"),
        LineItem("Lambda", gb_seconds * p["lambda_gb_second_arm64"] + requests / 1e6 * p["lambda_per_1m_requests"],
                 f"{requests:,.0f} invocations, {gb_seconds:,.0f} GB-s (arm64)"),
        LineItem("DynamoDB (ledger, idempotency)", (actionable * 2 + creations * 3 + requests * 2) / 1e6
                 * p["dynamodb_per_1m_write_units"] + (requests * 6) / 1e6 * p["dynamodb_per_1m_read_units"],
                 "one write per actionable finding and notice, idempotency records, reads per run"),
        LineItem("CloudWatch alarms", (ALARMS_PER_FUNCTION * FUNCTIONS + 1) * p["alarm_month"],
                 f"{ALARMS_PER_FUNCTION * FUNCTIONS + 1} alarms × ${p['alarm_month']}"),
        LineItem("CloudWatch dashboard", p["dashboard_month"], "one dashboard (free if the account has < 3)"),
        LineItem("KMS key (topics)", p["kms_key_month"] + (requests * 2) / 1e4 * p["kms_per_10k_requests"],
                 "one customer-managed key, rotated"),
        LineItem("Secrets Manager (Slack)", p["secret_month"] + requests / 1e4 * p["secrets_per_10k_calls"],
                 "one secret; reads cached 5 minutes"),
        LineItem("janitor's own metrics (EMF)", JANITOR_METRICS_PER_RUN * (nights * 2 + storage_runs + weeks
                                                                          + creations / 24) / HOURS_PER_MONTH
                 * p["custom_metric_month"],
                 "custom metrics are billed by the hours they are sent in: a nightly run is 1 hour in 24"),
        LineItem("CloudWatch Logs", requests * 20e3 / 1e9 * p["logs_ingest_per_gb"],
                 "≈ 20 KB of structured log per invocation"),
        LineItem("SQS, SNS", (requests * 4) / 1e6 * p["sqs_per_1m_requests"]
                 + (nights * 10 + creations) / 1e6 * p["sns_per_1m_publishes"], "queues and the findings topic"),
        LineItem("X-Ray", requests / 1e6 * p["xray_per_1m_traces"], "every invocation traced (first 100,000 free)"),
        LineItem("Cost Explorer API", weeks * 3 * p["cost_explorer_per_request"], "three queries per digest"),
    ]
    cores = fleet.neuron_instances * fleet.neuron_cores_per_box
    if fleet.neuron_instances:  # agent/neuron_metrics.py: one series per NeuronCore, sent every AGENT_FLUSH_S
        items += [LineItem("Neuron pusher: custom metrics", cores * p["custom_metric_month"],
                           f"{cores:,.0f} NeuronCores × 1 series × ${p['custom_metric_month']}/metric-month"),
                  LineItem("Neuron pusher: PutMetricData", fleet.neuron_instances * MINUTES_PER_MONTH * 60
                           / AGENT_FLUSH_S / 1000 * p["cloudwatch_api_per_1k_requests"],
                           f"one request per box every {AGENT_FLUSH_S} s × "
                           f"${p['cloudwatch_api_per_1k_requests']}/1,000")]
    if fleet.endpoints:  # the lists, tags and descriptions are free SageMaker / tagging / DynamoDB-cached calls
        items.append(LineItem("SageMaker: GetMetricData", ENDPOINT_METRICS_REQUESTED_PER_1K
                              * fleet.endpoints / 1000 * nights / 1000 * p["get_metric_data_per_1k_metrics"],
                              f"{ENDPOINT_METRICS_REQUESTED_PER_1K:,.0f} metrics per 1,000 endpoints a night "
                              f"(measured) × {nights:g} nights"))
    if fleet.eks_nodes or fleet.eks_pods:
        eks_metrics = (EKS_METRICS_PER_100_NODES * fleet.eks_nodes / 100 + EKS_METRICS_PER_1K_PODS * fleet.eks_pods
                       / 1000)
        pages = EKS_LIST_PAGES_BASE + EKS_LIST_PAGES_PER_1K_PODS * fleet.eks_pods / 1000
        items += [LineItem("EKS: GetMetricData", eks_metrics * nights / 1000 * p["get_metric_data_per_1k_metrics"],
                           f"{EKS_METRICS_PER_100_NODES:,.0f} metrics per 100 GPU nodes + "
                           f"{EKS_METRICS_PER_1K_PODS:,.0f} per 1,000 pods a night (measured) × {nights:g} nights"),
                  LineItem("EKS: ListMetrics", math.ceil(pages) * fleet.regions * nights / 1000
                           * p["cloudwatch_api_per_1k_requests"], "one page per 500 Container Insights series")]
    if fleet.nat_gateways:
        items += [LineItem("Network: GetMetricData", NETWORK_METRICS_PER_NAT * fleet.nat_gateways * nights / 1000
                           * p["get_metric_data_per_1k_metrics"],
                           f"{NETWORK_METRICS_PER_NAT:g} metrics per NAT gateway a night (measured) × {nights:g} "
                           "nights"),
                  LineItem("Network: Cost Explorer API", NETWORK_COST_EXPLORER_PER_NIGHT * nights
                           * p["cost_explorer_per_request"], "one query a night: NAT, region-pair and zone lines")]
    return sorted((LineItem(i.name, round(i.monthly_usd, 2), i.basis) for i in items),
                  key=lambda i: -i.monthly_usd)


def unpriced(fleet: Fleet) -> list[str]:
    """What the fleet's choices cost elsewhere that the model cannot price (shown, never added to the total)."""
    return [CONTAINER_INSIGHTS_UNPRICED] if fleet.eks_nodes or fleet.eks_pods else []


def total(items: list[LineItem]) -> float:
    return round(sum(i.monthly_usd for i in items), 2)
