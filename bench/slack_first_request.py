"""Slack's 3-second budget: the interactivity endpoint's cold import and first request, then a warm one, each in a
fresh interpreter with the Lambda runtime's environment, against the moto server and the Slack stand-in.

    .venv/bin/python bench/slack_first_request.py

Two kinds of click: Keep (opens its modal: the secret, then views.open) and Snooze (the hand-off to the answers
queue). Median of 7 fresh interpreters. Loopback latency is not AWS's or Slack's: add a real round trip per call
(the cold request makes two: GetSecretValue and views.open or SendMessage; a warm one makes one).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))
sys.path.insert(0, str(ROOT))

from bench.cold_start import LAMBDA_ENV  # noqa: E402

RUNS = 7
SERVER = ("import sys\nfrom cost_janitor.local.emulator import start_moto\naws = start_moto()\n"
          "print(aws.endpoint, flush=True)\nsys.stdin.read()\n")
CHILD = """
import json, time
t0 = time.perf_counter()
from cost_janitor.handlers import slack_interactivity
t1 = time.perf_counter()
from cost_janitor.local.slack_standin import SlackStandIn

class Context:
    function_name = "cost-janitor-slack-interactivity"; memory_limit_in_mb = 1024; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cost-janitor-slack-interactivity"

def request(action, ts):
    value = json.dumps({"resource": "i-0123456789abcdef0", "region": "us-east-1", "max_days": 90})
    payload = {"type": "block_actions", "user": {"id": "U0BO00001"}, "trigger_id": "t", "response_url":
               "https://hooks.slack.com/actions/T/1/x", "container": {"channel_id": "D0BO00001", "message_ts": "1.1"},
               "actions": [{"action_id": action, "action_ts": ts, "value": value}]}
    return SlackStandIn.function_url_event(payload, "local-signing-secret")

first, second = request("{action}", "1.000001"), request("{action}", "1.000002")
t2 = time.perf_counter()
assert slack_interactivity.lambda_handler(first, Context())["statusCode"] == 200
t3 = time.perf_counter()
assert slack_interactivity.lambda_handler(second, Context())["statusCode"] == 200
t4 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t3 - t2) * 1000, "warm_ms": (t4 - t3) * 1000}))
"""


def main() -> None:
    from cost_janitor.core.policy import Policy
    from cost_janitor.local.emulator import FAKE_ENV, LocalAws, deploy_janitor_resources
    from cost_janitor.local.slack_standin import SlackStandIn

    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "lambdas")})
    assert server.stdout is not None
    endpoint = server.stdout.readline().strip()
    slack = SlackStandIn()
    try:
        wiring = deploy_janitor_resources(LocalAws(None, endpoint), Policy())
        env = {**os.environ, **FAKE_ENV, **LAMBDA_ENV, **wiring, "AWS_ENDPOINT_URL": endpoint,
               "SLACK_API_URL": slack.api_url, "POWERTOOLS_SERVICE_NAME": "slack-interactivity",
               "POWERTOOLS_METRICS_NAMESPACE": "CostJanitor", "POWERTOOLS_TRACE_DISABLED": "true"}
        result: dict[str, dict[str, float]] = {}
        for action in ("keep", "snooze"):
            runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD.replace("{action}", action)], check=True,
                                              capture_output=True, text=True, env=env).stdout.splitlines()[-1])
                    for _ in range(RUNS)]
            result[action] = {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}
            result[action]["cold_total_ms"] = round(result[action]["import_ms"] + result[action]["first_ms"], 1)
        result["slack_calls"] = {m: len(slack.of(m)) for m in ("views.open",)}
        print(json.dumps(result, indent=2))
        out = ROOT / "bench" / "results" / "slack_first_request.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
    finally:
        slack.stop()
        server.terminate()


if __name__ == "__main__":
    main()
