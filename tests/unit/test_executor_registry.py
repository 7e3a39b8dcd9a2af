"""Every action kind has an executor — the janitor's own (adapters/executor.EXECUTORS) or its resource family's
(families/) —, and each declares the IAM actions it needs."""

from __future__ import annotations

import pytest

from cost_janitor.adapters.executor import EXECUTORS
from cost_janitor.core.models import ActionKind
from cost_janitor.families import every, permissions


@pytest.mark.parametrize("kind", list(ActionKind), ids=str)
def test_every_action_kind_has_an_executor_with_declared_permissions(kind: ActionKind) -> None:
    calls = [EXECUTORS[kind]] if kind in EXECUTORS else []
    calls += [f.actions[kind] for f in every() if kind in f.actions]
    assert calls
    assert all(c.permissions and all(":" in p for p in c.permissions) for c in calls)


def test_an_action_belongs_to_the_janitor_or_to_families_never_both() -> None:
    """A family's action is carried out by its own call; the janitor's own table holds none of them."""
    assert not {k for f in every() for k in f.actions} & set(EXECUTORS)


def test_nothing_can_terminate_and_the_only_deletes_are_the_opt_in_ones() -> None:
    """Tag removals, and five opt-in deletions (policy flags, off by default): an old unattached volume (after its
    snapshot), an idle dev endpoint (its config and model kept, restorable), a dev Studio app (its space kept), an
    idle persistent dev FSx for Lustre file system (with its final backup, restorable), an unused dev AMI with its own
    marked snapshots (only where the Recycle Bin keeps deleted snapshots). Never a config, a model, a notebook
    instance, a domain, a backup or an instance."""
    granted = permissions(list(ActionKind))
    assert not [p for p in granted if "Terminate" in p]
    assert [p for p in granted if "Delete" in p] == ["ec2:DeleteSnapshot", "ec2:DeleteTags", "ec2:DeleteVolume",
                                                     "fsx:DeleteFileSystem", "sagemaker:DeleteApp",
                                                     "sagemaker:DeleteEndpoint", "sagemaker:DeleteTags"]
    assert permissions([ActionKind.DEREGISTER_IMAGE]) == ["ec2:DeleteSnapshot", "ec2:DeregisterImage"]
    assert permissions([ActionKind.DELETE_FILE_SYSTEM]) == ["fsx:CreateBackup", "fsx:DeleteFileSystem",
                                                            "fsx:TagResource"]  # never without its final backup
    assert permissions([ActionKind.DELETE_VOLUME]) == ["ec2:DeleteVolume"]
    assert permissions([ActionKind.DELETE_ENDPOINT]) == ["sagemaker:AddTags", "sagemaker:DeleteEndpoint"]
