"""Whether the Slack endpoint's reserved concurrency fits the account, decided before the deploy (pure)."""

from __future__ import annotations

import pytest

from cost_janitor.core.deploy import reservation_problem


@pytest.mark.parametrize(("reserved", "limit", "unreserved", "fits"), [
    (5, 1000, 1000, True),
    (5, 105, 105, True),  # 100 left unreserved: the minimum, allowed
    (5, 104, 104, False),
    (5, 10, 10, False),  # a new account's limit
    (5, 1000, 102, False),  # other functions reserved most of it
    (0, 10, 10, True),  # no reservation asked: nothing to fit
], ids=["default-account", "exactly-the-minimum-left", "one-short", "new-account", "reserved-elsewhere",
        "no-reservation"])
def test_the_reservation_fits_only_with_100_left_unreserved(reserved: int, limit: int, unreserved: int,
                                                            fits: bool) -> None:
    problem = reservation_problem(reserved, limit=limit, unreserved=unreserved)
    assert (problem is None) == fits
    if problem:
        assert "slack_reserved_concurrency=0" in problem and str(reserved + 100 + limit - unreserved) in problem
