"""The account's own limits that decide whether a deploy can work (Lambda's concurrency)."""

from __future__ import annotations

from typing import Any


def lambda_concurrency(lambda_client: Any) -> tuple[int, int]:
    """(the account's concurrent-executions limit, how much of it no function has reserved) in this region."""
    limit = lambda_client.get_account_settings()["AccountLimit"]
    return int(limit["ConcurrentExecutions"]), int(limit["UnreservedConcurrentExecutions"])
