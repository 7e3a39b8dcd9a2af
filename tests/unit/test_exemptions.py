"""Exemption tags: honoured while valid; expired or malformed ones are reported and ignored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.policy import ExemptionPolicy
from tests.builders import NOW

P = ExemptionPolicy()


@pytest.mark.parametrize("tags, exempt, note", [
    ({}, False, None),
    ({"cost-janitor:keep-until": "2026-12-15"}, True, None),
    ({"cost-janitor:keep-until": "2026-11-28"}, True, None),
    ({"cost-janitor:keep-until": "2026-11-27"}, False, "expired"),
    ({"cost-janitor:keep-until": "2026-11-28T01:00:00Z"}, False, "expired"),
    ({"cost-janitor:keep-until": "next friday"}, False, "not an ISO date"),
    ({"cost-janitor:keep-until": "2099-01-01"}, True, "longer than the policy"),
    ({"cost-janitor:opt-out": "true"}, True, None),
    ({"cost-janitor:opt-out": "TRUE"}, True, None),
    ({"cost-janitor:opt-out": "false"}, False, None),
    ({"cost-janitor:opt-out": "maybe"}, False, "not true/false"),
], ids=["no-tags", "future-date", "today-counts-whole-day", "yesterday-expired", "past-datetime-expired",
        "malformed", "too-long-still-honoured", "opt-out", "opt-out-any-case", "opt-out-false", "opt-out-garbage"])
def test_exemption_from_tags(tags: dict[str, str], exempt: bool, note: str | None) -> None:
    result = evaluate_exemption(tags, P, now=NOW)
    assert result.exempt is exempt
    if note:
        assert any(note in n for n in result.notes), result.notes
    else:
        assert result.notes == ()


def test_reason_names_who_kept_it_and_why() -> None:
    result = evaluate_exemption({"cost-janitor:keep-until": "2026-12-01", "cost-janitor:keep-by": "U123",
                                 "cost-janitor:keep-reason": "demo for the board"}, P, now=NOW)
    assert result.reason == "kept until 2026-12-01 by U123: demo for the board"
    assert result.until == datetime(2026, 12, 2, tzinfo=UTC)
