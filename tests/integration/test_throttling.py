"""EC2's request throttling as the EC2 API reference documents it (a token bucket per API, account and region; a
Describe action's holds 100 and refills 20 a second; RequestLimitExceeded over it), in the emulator: a burst a
client without retries cannot get through, and the janitor's clients (botocore's adaptive retry mode, 8 attempts)
ride out — as the sweep's reads must when an Auto Scaling group launches 2,000 instances in ten minutes and
every tool in the account describes them."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cost_janitor.adapters import clients
from cost_janitor.local.emulator import LocalAws, strict


def _codes(call: Callable[[], Any], calls: int) -> list[str]:
    """`call` made `calls` times from 8 threads at once: the error codes met (none: every call answered)."""
    def one(_: int) -> str:
        try:
            call()
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return ""

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [code for code in pool.map(one, range(calls)) if code]


def _burst(client: Any, calls: int) -> list[str]:
    """`calls` DescribeInstances from 8 threads at once: the error codes met."""
    return _codes(client.describe_instances, calls)


def test_a_burst_of_describes_is_throttled_and_the_janitors_clients_ride_it_out(aws: LocalAws) -> None:
    aws.throttle()
    bare = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws.endpoint,
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))
    refused = _burst(bare, 250)  # more than the bucket's 100, faster than its 20 a second refill
    assert refused and set(refused) == {"RequestLimitExceeded"}
    aws.throttle()  # a full bucket again
    before = strict.THROTTLED["ec2"]
    assert _burst(clients.client("ec2", "us-east-1"), 160) == []  # the janitor's client: every call answered...
    assert strict.THROTTLED["ec2"] > before  # ...though EC2 refused some on the way


def test_throttling_is_per_region_as_on_ec2(aws: LocalAws) -> None:
    aws.throttle()
    bare = {r: boto3.client("ec2", region_name=r, endpoint_url=aws.endpoint,
                            config=Config(retries={"mode": "standard", "max_attempts": 1}))
            for r in ("us-east-1", "eu-west-1")}
    assert _burst(bare["us-east-1"], 90) == []
    assert _burst(bare["eu-west-1"], 90) == []  # another region's bucket is its own


def _metric_reads(client: Any, calls: int, *, queries: int = 1, hours: int = 1) -> list[str]:
    """`calls` GetMetricData from 8 threads at once, each `queries` hourly series over the last `hours`: the error
    codes met."""
    from datetime import UTC, datetime, timedelta

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    asked = [{"Id": f"q{n}", "MetricStat": {"Metric": {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization",
                                                       "Dimensions": [{"Name": "InstanceId", "Value": f"i-{n:017x}"}]},
                                            "Period": 3600, "Stat": "Average"}} for n in range(queries)]

    return _codes(lambda: client.get_metric_data(MetricDataQueries=asked, StartTime=end - timedelta(hours=hours),
                                                 EndTime=end), calls)


def test_cloudwatch_refuses_over_its_documented_quotas_and_the_janitors_clients_ride_it_out(aws: LocalAws) -> None:
    """#27: CloudWatch's GetMetricData quotas per account and region (50 TPS; 396,000 data points a second for a
    StartTime older than three hours) answered Throttling as AWS answers it; the janitor's clients get every answer.
    The sweep's own reads (500 series × 9 days hourly = 108,000 data points a call) meet the data-point quota from
    the fourth call in a second, not the TPS one."""
    aws.throttle(services=("cloudwatch",))
    bare = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=aws.endpoint,
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))
    refused = _metric_reads(bare, 200)  # more than a second's 50, from 8 threads
    assert refused and set(refused) == {"Throttling"}
    aws.throttle(services=("cloudwatch",))
    heavy = _metric_reads(bare, 8, queries=500, hours=9 * 24)  # 8 × 108,000 points at once: over 396,000
    assert heavy and set(heavy) == {"Throttling"} and len(heavy) < 8
    aws.throttle(services=("cloudwatch",))
    before = strict.THROTTLED["cloudwatch"]
    janitor = clients.client("cloudwatch", "us-east-1")
    assert _metric_reads(janitor, 120) == [] and _metric_reads(janitor, 8, queries=500, hours=9 * 24) == []
    assert strict.THROTTLED["cloudwatch"] > before  # refused on the way, answered in the end
