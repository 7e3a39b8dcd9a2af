"""Every action kind has exactly one executor, and each declares the IAM actions it needs."""

from __future__ import annotations

import pytest

from cost_janitor.adapters.executor import EXECUTORS, permissions
from cost_janitor.core.models import ActionKind


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
def test_every_action_kind_has_an_executor_with_declared_permissions(kind: ActionKind) -> None:
    assert kind in EXECUTORS
    assert EXECUTORS[kind].permissions and all(":" in p for p in EXECUTORS[kind].permissions)


def test_nothing_can_terminate_and_the_only_deletes_are_the_opt_in_ones() -> None:
    """Tag removals, and three opt-in deletions (policy flags, off by default): an old unattached volume (after its
    snapshot), an idle dev endpoint (its config and model kept, restorable), a dev Studio app (its space kept).
    Never a config, a model, a notebook instance, a domain, a snapshot or an instance."""
    granted = permissions(list(ActionKind))
    assert not [p for p in granted if "Terminate" in p]
    assert [p for p in granted if "Delete" in p] == ["ec2:DeleteTags", "ec2:DeleteVolume", "sagemaker:DeleteApp",
                                                     "sagemaker:DeleteEndpoint", "sagemaker:DeleteTags"]
    assert permissions([ActionKind.DELETE_VOLUME]) == ["ec2:DeleteVolume"]
    assert permissions([ActionKind.DELETE_ENDPOINT]) == ["sagemaker:AddTags", "sagemaker:DeleteEndpoint"]
