"""Model the organization's night (#27): 100 member accounts × 20 regions swept, their findings forwarded to the hub,
and every owner told in Slack — a discrete-event simulation with a clock, not a run against the emulator (2,000
Lambdas and a Slack workspace do not fit on this machine). Every input is a measured figure of this repository or a
documented limit, named where it is set; the two assumptions (an AWS or Slack round trip, chat.update's tier) are
labelled. Results: bench/results/org_night.json.

    .venv/bin/python bench/org_night.py                       # 100 accounts × 20 regions, 5,000 findings, 800 owners

Each member's regional sweeps are independent Lambdas (per-region schedules), started together; a sweep's calls are
sequential, each one round trip, through its account-and-region EC2 token bucket. Findings reach the hub's queue when
their sweep publishes (EventBridge forwarding taken as immediate). The notifier takes them in batches (100 SQS
messages or 60 s, its event source); one invocation at a time (the conservative case: Slack's limits are per
workspace, so more notifiers would share them), with its 60-second timeout: nothing new starts in its last 10 s, and
what did not start returns after the 6-minute visibility timeout. Within an invocation: one users.list walk when more
owners are new than a minute of lookups (Tier 2, 20 pages a minute; a workspace of 5,000 members assumed), then a
lookup for each owner still unknown (Tier 3, 50 a minute), then `concurrency` recipients written to at once.
chat.postMessage one a second per channel, chat.update 50 a minute (Tier 3) — a call over its limit gets 429 and
waits Retry-After, at most three times (slack-sdk), then the recipient goes back to the queue.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lambdas"))

from cost_janitor.local.token_bucket import TokenBucket  # noqa: E402

ROUND_TRIP_S = 0.25  # assumed: one AWS or Slack call from a Lambda (core/own_cost.AWS_CALL_S; not measurable here)
COLD_START_S = 0.6  # measured: bench/cold_start.py (import + first request)
# EC2's request token bucket for non-mutating actions (EC2 API reference, "Request throttling": DescribeHosts'
# bucket holds 100 tokens and refills 20 a second), per account and region
EC2_BUCKET, EC2_REFILL = 100.0, 20.0
# Slack (docs.slack.dev "Rate limits"): per method per workspace; chat.postMessage per channel
SLACK_LIMITS = {"users.lookupByEmail": (50 / 60, 50.0), "chat.update": (50 / 60, 50.0),  # (per second, burst)
                "users.list": (20 / 60, 20.0), "chat.postMessage": (1.0, 3.0)}
LOOKUPS_A_MINUTE, USERS_PAGE = 50, 200  # adapters/slack: users.list replaces lookups past a minute's worth
WORKSPACE_MEMBERS = 5000  # assumed: the Slack workspace's members, deleted ones included (users.list pages them all)
SLACK_RETRIES = 3  # adapters/slack.SlackGateway: slack-sdk's RateLimitErrorRetryHandler
VISIBILITY_S = 360  # the notifier queue's visibility timeout (adapters/ledger: "its queue's 6-minute visibility")
BATCH_MESSAGES, BATCH_WINDOW_S = 100, 60.0  # infra/constructs/notifier.py: batch_size=100, max_batching_window=1 min
FUNCTION_TIMEOUT_S = 60.0  # infra/constructs/notifier.py: the notifier's timeout
RESERVE_S = 10.0  # capabilities/notifier.RESERVE_MS: past timeout − reserve nothing new starts; it goes back to SQS
DELIVERY_CONCURRENCY = 4  # core/policy.SlackPolicy.delivery_concurrency's default


def sweep_calls(instances: int, acted: int) -> tuple[int, int]:
    """(EC2 Describe* calls, other calls) of one regional sweep, from bench/results/night.json's first night per
    1,000 instances: the read phase, stop protection (one DescribeInstanceAttribute per box acted on), the acts, the
    ledger and the publishes; at least the read phase's fixed calls."""
    night = json.loads((ROOT / "bench" / "results" / "night.json").read_text())["nights"][0]
    per = night["per_1000"]
    describe = max(2, round(per["read"] * instances / 1000 * 0.3)) + acted  # DescribeInstances/Addresses + attributes
    other = max(11, round((per["read"] * 0.7 + per["ledger_and_publish"]) * instances / 1000) + 2)
    return describe, other


def simulate(accounts: int, regions: int, findings: int, owners: int, *, directory_warm: bool,
             later: str = "thread", concurrency: int = 4, seed: int = 7) -> dict[str, Any]:
    """`later`: what a later batch of the same run does for an owner already told — "thread" (the notifier since #27:
    a reply in the message's thread, chat.postMessage) or "update" (before: chat.update of the run's message)."""
    rng = random.Random(seed)
    per_region = findings // (accounts * regions)
    extra = findings - per_region * accounts * regions
    arrivals: list[tuple[float, list[int]]] = []  # (time the hub's queue has it, the owners of its findings)
    sweep_s, throttled_ec2 = [], 0
    for a in range(accounts):
        for r in range(regions):
            n = per_region + (1 if a * regions + r < extra else 0)
            describe, other = sweep_calls(instances=25, acted=n)
            bucket, t = TokenBucket(EC2_REFILL, EC2_BUCKET), COLD_START_S
            calls = ["ec2"] * describe + ["other"] * other
            for c in calls:
                if c == "ec2" and (w := bucket.take(t)):
                    throttled_ec2 += 1
                    t += w
                    bucket.take(t)
                t += ROUND_TRIP_S
            sweep_s.append(t)
            if n:
                arrivals.append((t, [rng.randrange(owners) for _ in range(n)]))
    arrivals.sort()
    slack = {m: TokenBucket(*v) for m, v in SLACK_LIMITS.items() if m != "chat.postMessage"}
    channels: dict[int, TokenBucket] = {}
    calls: Counter[str] = Counter()
    met_429: Counter[str] = Counter()
    known = set(range(owners)) if directory_warm else set()
    posted: dict[int, float] = {}
    told: set[tuple[int, int]] = set()  # (message index, owner) delivered
    pending = [(t, k, owners_) for k, (t, owners_) in enumerate(arrivals)]
    clock, handed_back, longest_batch = 0.0, 0, 0.0
    while pending:
        first = pending[0][0]
        window = [p for p in pending if p[0] <= max(first + BATCH_WINDOW_S, clock)][:BATCH_MESSAGES]
        pending = pending[len(window):]
        clock = max(clock, min(window[-1][0], first + BATCH_WINDOW_S)) + COLD_START_S
        by_owner: dict[int, list[int]] = defaultdict(list)
        for _, k, owners_ in window:
            for o in owners_:
                by_owner[o].append(k)
        back = []
        started = clock
        again = "chat.update" if later == "update" else "chat.postMessage"

        def call(method: str, owner: int, at: float) -> tuple[bool, float]:
            """One Slack call at `at` through its bucket, waiting out 429s (at most SLACK_RETRIES): (answered, when
            it returned)."""
            bucket = channels.setdefault(owner, TokenBucket(*SLACK_LIMITS[method])) \
                if method == "chat.postMessage" else slack[method]
            tries = 0
            while (w := bucket.take(at)) > 0:
                met_429[method] += 1
                tries += 1
                if tries > SLACK_RETRIES:
                    return False, at
                at += math.ceil(w) + 0.5  # Retry-After (whole seconds) + slack-sdk's jitter (mean)
            calls[method] += 1
            return True, at + ROUND_TRIP_S

        deadline = started + FUNCTION_TIMEOUT_S - RESERVE_S  # notifier.RESERVE_MS: nothing new starts after it
        # users.list once when more owners are new than a minute of lookups (adapters/slack.SlackGateway.prime)
        # (every member saved in the directory: a night walks it once, a later batch finds its owners there)
        new = [o for o in by_owner if o not in known]
        if len(new) > LOOKUPS_A_MINUTE:
            for _page in range(math.ceil(WORKSPACE_MEMBERS / USERS_PAGE)):
                ok, clock = call("users.list", -1, clock) if clock <= deadline else (False, clock)
                if not ok:
                    break
            else:
                known.update(range(owners))
        # the notifier's first loop, one finding after another: each owner not in the directory looked up
        ready = []
        for owner, messages in sorted(by_owner.items()):
            if clock > deadline:
                back += messages
                continue
            if owner not in known:
                ok, clock = call("users.lookupByEmail", owner, clock)
                if not ok:
                    back += messages
                    continue
                known.add(owner)
            ready.append((owner, messages))
        # then its deliveries, `concurrency` recipients at once (policy.slack.delivery_concurrency)
        workers = [clock] * concurrency
        for owner, messages in ready:
            w = min(range(concurrency), key=workers.__getitem__)
            if workers[w] > deadline:
                back += messages
                continue
            ok, workers[w] = call(again if owner in posted else "chat.postMessage", owner, workers[w])
            if ok:
                posted.setdefault(owner, workers[w])
                told.update((k, owner) for k in messages)
            else:
                back += messages
        clock = max(workers)
        longest_batch = max(longest_batch, clock - started)
        if back:  # their SQS messages return after the visibility timeout
            handed_back += len(set(back))
            returned = {k for k in back}
            pending += [(clock + VISIBILITY_S, k, [o for o in arrivals[k][1] if (k, o) not in told])
                        for k in sorted(returned)]
            pending.sort()
    expected = {(k, o) for k, (_, owners_) in enumerate(arrivals) for o in owners_}
    return {"accounts": accounts, "regions": regions, "findings": findings, "owners": owners,
            "directory_warm": directory_warm, "later_batches": later, "delivery_concurrency": concurrency,
            "built": later == "thread" and concurrency == DELIVERY_CONCURRENCY,
            "sweeps_done_s": round(max(sweep_s), 1), "ec2_throttled_calls": throttled_ec2,
            "last_owner_told_s": round(max(posted.values()), 1) if posted else None,
            "last_update_s": round(clock, 1), "owners_told": len(posted),
            "slack_calls": dict(calls), "slack_429s_met": dict(met_429), "sqs_messages_handed_back": handed_back,
            "longest_invocation_s": round(longest_batch + COLD_START_S, 1),
            "within_function_timeout": longest_batch + COLD_START_S <= FUNCTION_TIMEOUT_S,
            "findings_lost": len(expected - told)}


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--accounts", type=int, default=100)
    args.add_argument("--regions", type=int, default=20)
    args.add_argument("--findings", type=int, default=5000)
    args.add_argument("--owners", type=int, default=800)
    a = args.parse_args()
    results = [simulate(a.accounts, a.regions, a.findings, a.owners, directory_warm=warm, later=later,
                        concurrency=concurrency)
               for later, concurrency in (("thread", DELIVERY_CONCURRENCY), ("thread", 1), ("update", 1))
               for warm in (False, True)]
    out = ROOT / "bench" / "results" / "org_night.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        night = "later nights" if r["directory_warm"] else "first night "
        print(f"{r['later_batches']:>6} ×{r['delivery_concurrency']}, {night}: sweeps done {r['sweeps_done_s']} s "
              f"(EC2 throttled calls {r['ec2_throttled_calls']}); last owner told {r['last_owner_told_s']} s, last "
              f"update {r['last_update_s']} s; Slack {r['slack_calls']}, 429s {r['slack_429s_met']}, handed back "
              f"{r['sqs_messages_handed_back']}; findings lost {r['findings_lost']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
