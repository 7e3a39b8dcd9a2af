"""Whether a deploy can work in this account, decided before `cdk deploy` fails halfway (pure)."""

from __future__ import annotations

# Lambda: "You can reserve up to the Unreserved account concurrency value that is shown, minus 100 for functions
# that don't have reserved concurrency" (Configuring reserved concurrency for a function).
UNRESERVED_MINIMUM = 100


def reservation_problem(reserved: int, *, limit: int, unreserved: int) -> str | None:
    """Why the Slack endpoint's reserved concurrency would fail the deploy, and what to change; None when it fits."""
    if reserved <= 0 or unreserved - reserved >= UNRESERVED_MINIMUM:
        return None
    return (f"the Slack endpoint reserves {reserved} concurrent executions, but this account's Lambda concurrency "
            f"limit is {limit} with {unreserved} unreserved, and Lambda keeps at least {UNRESERVED_MINIMUM} "
            f"unreserved: deploy with `-c slack_reserved_concurrency=0` (no reservation; a flood of unsigned "
            f"requests then shares the account's concurrency) or ask for a higher 'Concurrent executions' quota "
            f"(Service Quotas → AWS Lambda) of at least {reserved + UNRESERVED_MINIMUM + (limit - unreserved)}")
