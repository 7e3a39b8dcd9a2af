"""SageMaker notebook instances: judged on time in service (core/notebooks.py: SageMaker publishes no utilisation
metric for them). A dev one left in service is marked, then stopped the next night; its ML storage volume stays."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.adapters.pricing import night_prices
from cost_janitor.adapters.sagemaker import MARKS, inventory
from cost_janitor.core.models import ActionKind, Finding, LedgerRecord, Started
from cost_janitor.core.notebooks import NOTEBOOK_TYPE, classify_notebooks, recheck_notebook, what_happens
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import ml_price
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

NOTEBOOKS = Arn("sagemaker", "notebook-instance")
STARTED_WITHIN = timedelta(hours=26)  # a start since the last nightly run (a day, and a late run's slack)


def _stop(sm: Any, api: Api, f: Finding, run: Run) -> None:
    """Unmark, then stop (its ML storage volume stays): restarted by its owner, its next idle spell starts afresh."""
    api(sm.delete_tags, ResourceArn=f.resource_arn, TagKeys=[run.policy.exemptions.idle_since_tag])
    api(sm.stop_notebook_instance, NotebookInstanceName=f.resource_id)


class Notebooks:
    name = "notebooks"
    service = "sagemaker"
    resource_types = (NOTEBOOK_TYPE,)
    rechecked = (ActionKind.STOP_NOTEBOOK,)
    answered = (NOTEBOOKS,)
    actions = {
        **MARKS,
        ActionKind.STOP_NOTEBOOK: Call("sagemaker", ("sagemaker:DeleteTags", "sagemaker:StopNotebookInstance"),
                                       each(_stop), dry_run_supported=False, batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        """The instances in service, with their tags; one started since the last run (LastModifiedTime is the start)
        is a start that may end the savings of a stop."""
        sagemaker = inventory(region)
        with counted(night, sagemaker.calls, prefix="sagemaker:"):
            notebooks = sagemaker.notebooks()
        night.starts += [Started(resource_id=n.name, resource_type=NOTEBOOK_TYPE, region=region, at=n.last_modified)
                         for n in notebooks if night.now - n.last_modified <= STARTED_WITHIN]
        unknown = {(n.instance_type, region) for n in notebooks if ml_price(n.instance_type, region).hourly_usd is None}
        return classify_notebooks(notebooks, night.policy, now=night.now, run_id=night.run_id,
                                  prices=night_prices(night.memory, night.calls, "sagemaker:Notebook", unknown,
                                                      ledger=night.ledger, now=night.now))

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Listed again just before the stops (their state and tags now)."""
        sagemaker = inventory(region)
        with counted(night, sagemaker.calls, prefix="sagemaker:", suffix=" (re-check)"):
            current = {n.name: n for n in sagemaker.notebooks()}
        return [recheck_notebook(f, current.get(f.resource_id), night.policy, now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing beyond the ledger's record of every finding."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev = dev_only(policy)
        idle_key = only_tag_keys(policy.exemptions.idle_since_tag)
        return [
            Grant("ListSageMaker", ("sagemaker:ListNotebookInstances", "tag:GetResources", "pricing:GetProducts"),
                  why="SageMaker lists, the tagging API and the Price List API have no resource-level permissions"),
            Grant("MarkOnlyDevSageMaker", ("sagemaker:AddTags",), (NOTEBOOKS,), {**dev, **idle_key},
                  why="notebook instances of the policy's regions: marks and stops conditioned on the dev environment "
                      "tag and the janitor's tag key"),
            Grant("UnmarkSageMaker", ("sagemaker:DeleteTags",), (NOTEBOOKS,), idle_key),
            Grant("StopOnlyDevNotebooks", ("sagemaker:StopNotebookInstance",), (NOTEBOOKS,), dev),
            Grant("NeverDeleteConfigsModelsNotebooks", ("sagemaker:DeleteNotebookInstance",), deny=True),
        ]

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return []  # the digest's common sections


FAMILY: Family = Notebooks()
