"""Every action kind has exactly one executor, and each declares the IAM actions it needs."""

from __future__ import annotations

import pytest

from cost_janitor.adapters.executor import EXECUTORS, permissions
from cost_janitor.core.models import ActionKind


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
def test_every_action_kind_has_an_executor_with_declared_permissions(kind: ActionKind) -> None:
    assert kind in EXECUTORS
    assert EXECUTORS[kind].permissions and all(":" in p for p in EXECUTORS[kind].permissions)


def test_nothing_can_terminate_and_the_only_delete_is_the_opt_in_volume_delete() -> None:
    granted = permissions(list(ActionKind))
    assert not [p for p in granted if "Terminate" in p]
    assert [p for p in granted if "Delete" in p] == ["ec2:DeleteTags", "ec2:DeleteVolume"]
    assert permissions([ActionKind.DELETE_VOLUME]) == ["ec2:DeleteVolume"]
