"""An owner's answers in Slack: what each is called in the ledger, and the modal inputs read without any I/O, so
the interactivity endpoint can refuse a bad form — or accept a good one — within Slack's 3 seconds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MIN_REASON = 10


class Answer(StrEnum):
    """What the ledger records for an answer (the report reads these: an answer ends an open request)."""

    JUSTIFIED = "justified"
    SNOOZED = "snoozed"
    REASSIGNED = "reassigned"
    TAGGED = "tagged"
    STOP_REQUESTED = "stop-requested"
    RESTORE_REQUESTED = "restore-requested"


ENDS_A_REQUEST = (Answer.JUSTIFIED, Answer.SNOOZED, Answer.REASSIGNED)


@dataclass(frozen=True)
class KeepInput:
    reason: str
    days: int


@dataclass(frozen=True)
class ReassignInput:
    owner: str


@dataclass(frozen=True)
class TagsInput:
    tags: dict[str, str]


Submission = KeepInput | ReassignInput | TagsInput


def text(values: Any, *path: str) -> str:
    """One input's value from a modal's state, stripped; "" where the path is missing or not what Slack sends."""
    node = values
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node.strip() if isinstance(node, str) else ""


def read_submission(callback_id: str, state: Any) -> Submission | dict[str, str]:
    """The modal's inputs, or the errors Slack shows beside its fields (block id → message)."""
    values = state.get("values", {}) if isinstance(state, dict) else {}
    if callback_id == "keep":
        reason = text(values, "reason", "reason", "value")
        if len(reason) < MIN_REASON:
            return {"reason": f"Please give a reason ({MIN_REASON}+ characters)."}
        days = text(values, "days", "days", "selected_option", "value") or "7"
        if not re.fullmatch(r"[0-9]{1,4}", days):
            return {"days": "Choose how long to keep it."}
        return KeepInput(reason, int(days))
    if callback_id == "reassign":
        owner = text(values, "owner", "user", "selected_user")
        return ReassignInput(owner) if owner else {"owner": "Choose who owns it."}
    tags = {str(block)[4:]: text(values, block, "value", "value") or text(values, block, "value", "selected_option",
                                                                           "value")
            for block in (values if isinstance(values, dict) else {}) if str(block).startswith("tag:")}
    empty = [k for k, v in tags.items() if not v]
    if empty or not tags:
        return {f"tag:{k}": "Required." for k in empty or ["team"]}
    return TagsInput(tags)
