#!/usr/bin/env python3
"""NeuronCore utilisation for the idle sweep, on Inferentia and Trainium instances (inf1, inf2, trn1, trn1n, trn2).

Reads the JSON report `neuron-monitor` streams (one report per line; its format is documented in the Neuron
Monitor User Guide: `neuron_runtime_data[].report.neuroncore_counters.neuroncores_in_use.<core>.
neuroncore_utilization`, and `neuron_hardware_info` for the instance's cores) and publishes one series per
NeuronCore: namespace CWAgent, metric `neuroncore_utilization` (Percent), dimensions InstanceId and NeuronCore.
A core no running application uses is published as 0 % — an instance with nothing running is the idle one the
sweep must see, not a gap. The busiest core decides in the sweep, as the busiest GPU does.

The Neuron SDK also ships neuron-monitor-cloudwatch.py; its CloudWatch metric names and dimensions are not in the
Neuron documentation, so the sweep does not guess them: this pusher is what it reads. stdlib + boto3.

    neuron-monitor -c neuron-monitor.json | python3 neuron_metrics.py          # as the State Manager unit runs it
    neuron-monitor | python3 neuron_metrics.py --once --print                  # one report, printed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

try:  # installed side by side on the instance, or imported as the package in tests
    from gpu_metrics import Sender, instance_id, region
except ImportError:  # pragma: no cover - the test path
    from agent.gpu_metrics import Sender, instance_id, region

NAMESPACE = "CWAgent"  # the same namespace as the GPU metrics: gpu_metrics.publish sends both
METRIC = "neuroncore_utilization"


def cores(report: dict[str, Any]) -> dict[str, float]:
    """Utilisation per NeuronCore index from one neuron-monitor report: the busiest application's figure for a core
    several applications use; 0 for every core of the instance that none uses."""
    hardware = report.get("neuron_hardware_info") or {}
    total = int(hardware.get("neuron_device_count") or 0) * int(hardware.get("neuroncore_per_device_count") or 0)
    logical = int(hardware.get("logical_neuroncore_config") or 1)
    out = {str(n): 0.0 for n in range(total // max(logical, 1))}
    for runtime in report.get("neuron_runtime_data") or []:
        counters = ((runtime.get("report") or {}).get("neuroncore_counters") or {})
        for core, data in (counters.get("neuroncores_in_use") or {}).items():
            value = data.get("neuroncore_utilization") if isinstance(data, dict) else None
            if isinstance(value, (int, float)):
                out[str(core)] = max(out.get(str(core), 0.0), float(value))
    return out


def metric_data(utilisation: dict[str, float], *, instance: str, timestamp: datetime) -> list[dict[str, Any]]:
    return [{"MetricName": METRIC, "Unit": "Percent", "Value": value, "Timestamp": timestamp,
             "Dimensions": [{"Name": "InstanceId", "Value": instance}, {"Name": "NeuronCore", "Value": core}]}
            for core, value in sorted(utilisation.items(), key=lambda kv: int(kv[0]))]


def reports(stream: IO[str]) -> Iterable[dict[str, Any]]:
    """One report per line; a line that is not a report (a warning neuron-monitor printed) is skipped."""
    for line in stream:
        try:
            report = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(report, dict):
            yield report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flush", type=int, default=300, help="seconds between sends (samples keep their period)")
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--print", action="store_true", help="print the metric data instead of sending it")
    args = parser.parse_args(argv)
    iid = "i-local" if args.print else instance_id()
    sender = Sender(print_only=args.print, flush_s=0 if args.once else args.flush,
                    region=None if args.print else region())
    for report in reports(sys.stdin):
        sender.send(metric_data(cores(report), instance=iid, timestamp=datetime.now(UTC)), time.monotonic())
        if args.once:
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
