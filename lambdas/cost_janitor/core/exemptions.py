"""Exemption tags: honoured while valid, reported (and ignored) when expired or malformed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cost_janitor.core.policy import ExemptionPolicy

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", ""}


@dataclass(frozen=True)
class Exemption:
    exempt: bool
    reason: str
    until: datetime | None = None
    notes: tuple[str, ...] = ()


def parse_instant(value: str, *, date_means_end_of_day: bool = False) -> datetime | None:
    """An ISO datetime (no zone means UTC) or an ISO date (its start, or its end when asked); None if neither."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if date_means_end_of_day else 0)
            return datetime.combine(day, time.min, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_keep_until(value: str) -> datetime | None:
    """A keep-until date means 'through that whole day (UTC)'."""
    return parse_instant(value, date_means_end_of_day=True)


def evaluate_exemption(tags: dict[str, str], policy: ExemptionPolicy, *, now: datetime) -> Exemption:
    """Whether the tags exempt a resource now, and what about them a human should fix."""
    notes: list[str] = []
    opt_out = tags.get(policy.opt_out_tag)
    if opt_out is not None:
        folded = opt_out.strip().casefold()
        if folded in _TRUE:
            return Exemption(True, f"opted out with tag {policy.opt_out_tag}={opt_out}")
        if folded not in _FALSE:
            notes.append(f"tag {policy.opt_out_tag}={opt_out!r} is not true/false; ignored")

    raw = tags.get(policy.keep_until_tag)
    if raw is None:
        return Exemption(False, "no exemption", notes=tuple(notes))
    until = parse_keep_until(raw)
    if until is None:
        notes.append(f"tag {policy.keep_until_tag}={raw!r} is not an ISO date; ignored")
        return Exemption(False, "malformed exemption", notes=tuple(notes))
    if until <= now:
        notes.append(f"exemption {policy.keep_until_tag}={raw} expired; no longer honoured")
        return Exemption(False, "expired exemption", until=until, notes=tuple(notes))
    if until - now > timedelta(days=policy.max_keep_days):
        notes.append(f"exemption {policy.keep_until_tag}={raw} is longer than the policy's "
                     f"{policy.max_keep_days} days; honoured, please shorten it")
    who = tags.get(policy.by_tag)
    why = tags.get(policy.reason_tag)
    detail = "".join([f" by {who}" if who else "", f": {why}" if why else ""])
    return Exemption(True, f"kept until {raw}{detail}", until=until, notes=tuple(notes))
