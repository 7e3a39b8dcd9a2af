"""Every action kind has exactly one executor, and each declares the IAM actions it needs."""

from __future__ import annotations

import pytest

from cost_janitor.adapters.executor import EXECUTORS, permissions
from cost_janitor.core.models import ActionKind


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
def test_every_action_kind_has_an_executor_with_declared_permissions(kind: ActionKind) -> None:
    assert kind in EXECUTORS
    assert EXECUTORS[kind].permissions and all(":" in p for p in EXECUTORS[kind].permissions)


def test_no_executor_can_terminate_or_delete() -> None:
    granted = permissions(list(ActionKind))
    assert not [p for p in granted if "Terminate" in p or ("Delete" in p and p != "ec2:DeleteTags")]
