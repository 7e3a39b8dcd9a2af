"""SageMaker Studio: domains without idle shutdown (reported; turned on for dev domains with the opt-in) and apps
left running on GPU/accelerator instances (core/studio.py; deleted in dev only with the opt-in, after a mark and a
grace period — the space and its storage remain)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.adapters.pricing import STUDIO_USES, night_prices
from cost_janitor.adapters.sagemaker import MARKS, inventory
from cost_janitor.core.models import ActionKind, Finding, LedgerRecord, Started
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import PriceBook, accelerated, ml_price
from cost_janitor.core.studio import (
    APP_TYPE,
    DOMAIN_TYPE,
    StudioApp,
    classify_apps,
    classify_domains,
    idle_shutdown_settings,
    recheck_app,
    what_happens,
)
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

DOMAINS, APPS = Arn("sagemaker", "domain"), Arn("sagemaker", "app")
STARTED_WITHIN = timedelta(hours=26)  # an app created since the last nightly run (a day, and a late run's slack)


def _enable_idle_shutdown(sm: Any, api: Api, f: Finding, run: Run) -> None:
    """The domain's default user settings get idle shutdown for the app types that lack it: the domain is read and
    each block sent back whole (core.studio.idle_shutdown_settings), so nothing else in it changes."""
    current = sm.describe_domain(DomainId=f.resource_id).get("DefaultUserSettings") or {}
    settings = idle_shutdown_settings(current, str(f.evidence.get("missing") or "").split(","),
                                      run.policy.sagemaker.studio_idle_timeout_minutes)
    api(sm.update_domain, DomainId=f.resource_id, DefaultUserSettings=settings)


def _delete_app(sm: Any, api: Api, f: Finding, run: Run) -> None:
    """The app only: its user profile or space, and the space's storage, remain."""
    e = f.evidence
    owner = {"UserProfileName": str(e["user_profile"])} if e.get("user_profile") else {"SpaceName": str(e["space"])}
    api(sm.delete_tags, ResourceArn=f.resource_arn, TagKeys=[run.policy.exemptions.idle_since_tag])
    api(sm.delete_app, DomainId=str(e["domain_id"]), AppType=str(e["app_type"]), AppName=str(e["app_name"]), **owner)


def _prices(apps: Sequence[StudioApp], night: Night) -> dict[str, PriceBook]:
    """App type → the Price List API's prices for the accelerated apps' types the offline table does not know,
    under the use that app type is billed as (adapters/pricing.STUDIO_USES)."""
    out: dict[str, PriceBook] = {}
    for app_type, use in STUDIO_USES.items():
        unknown = {(str(a.instance_type), a.region) for a in apps if a.app_type == app_type
                   and accelerated(a.instance_type) and ml_price(str(a.instance_type), a.region).hourly_usd is None}
        out[app_type] = night_prices(night.memory, night.calls, f"sagemaker:{use}", unknown, ledger=night.ledger,
                                     now=night.now)
    return out


class Studio:
    name = "studio"
    service = "sagemaker"
    resource_types = (DOMAIN_TYPE, APP_TYPE)
    rechecked = (ActionKind.DELETE_APP,)
    answered = (APPS,)
    actions = {
        **MARKS,
        ActionKind.ENABLE_IDLE_SHUTDOWN: Call("sagemaker", ("sagemaker:DescribeDomain", "sagemaker:UpdateDomain"),
                                              each(_enable_idle_shutdown), dry_run_supported=False, batch=False),
        ActionKind.DELETE_APP: Call("sagemaker", ("sagemaker:DeleteTags", "sagemaker:DeleteApp"), each(_delete_app),
                                    dry_run_supported=False, batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        """Domains (one DescribeDomain each) and the apps in service in them, with their tags; an app created since
        the last run is a start that may end the savings of a deletion."""
        sagemaker = inventory(region)
        with counted(night, sagemaker.calls, prefix="sagemaker:"):
            domains = sagemaker.domains()
            apps = sagemaker.apps(domains)
        night.starts += [Started(resource_id=a.resource_id, resource_type=APP_TYPE, region=region, at=a.created)
                         for a in apps if night.now - a.created <= STARTED_WITHIN]
        return (classify_domains(domains, night.policy, now=night.now, run_id=night.run_id)
                + classify_apps(apps, night.policy, now=night.now, run_id=night.run_id, prices=_prices(apps, night)))

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """The apps listed again just before the deletions (their state and tags now)."""
        sagemaker = inventory(region)
        with counted(night, sagemaker.calls, prefix="sagemaker:", suffix=" (re-check)"):
            current = {a.resource_id: a for a in sagemaker.apps(sagemaker.domains())}
        return [recheck_app(f, current.get(f.resource_id), night.policy, now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing beyond the ledger's record of every finding."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev = dev_only(policy)
        idle_key = only_tag_keys(policy.exemptions.idle_since_tag)
        why = ("Studio domains and apps of the policy's regions: reads, and writes conditioned on the dev environment "
               "tag and the janitor's tag key")
        grants = [
            Grant("ListSageMaker", ("sagemaker:ListDomains", "sagemaker:ListApps", "tag:GetResources",
                                    "pricing:GetProducts"),
                  why="SageMaker lists, the tagging API and the Price List API have no resource-level permissions"),
            Grant("DescribeEndpointsAndDomains", ("sagemaker:DescribeDomain",), (DOMAINS,), why=why),
            # ListApps returns no ARN: an untagged accelerator app's AppArn
            Grant("DescribeStudioApps", ("sagemaker:DescribeApp",), (APPS,), why=why),
            Grant("MarkOnlyDevSageMaker", ("sagemaker:AddTags",), (APPS,), {**dev, **idle_key}),
            Grant("UnmarkSageMaker", ("sagemaker:DeleteTags",), (APPS,), idle_key),
            Grant("NeverDeleteConfigsModelsNotebooks", ("sagemaker:DeleteDomain", "sagemaker:DeleteUserProfile",
                                                       "sagemaker:DeleteSpace"), deny=True),
        ]
        if policy.sagemaker.enable_studio_idle_shutdown:
            grants.append(Grant("IdleShutdownOnDevDomainsOptIn", ("sagemaker:UpdateDomain",), (DOMAINS,), dev))
        if policy.sagemaker.delete_studio_accelerator_apps:
            grants.append(Grant("DeleteDevStudioAppsOptIn", ("sagemaker:DeleteApp",), (APPS,), dev))
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return []  # the digest's common sections


FAMILY: Family = Studio()
