"""SageMaker Studio (a resource family: families/studio.py): domains without idle shutdown, and apps left running on
GPU/accelerator instances; the actions they call for and the re-check before a deletion."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict, _Frozen
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import PriceBook, accelerated, ml_price, severity

DOMAIN_TYPE = "sagemaker:domain"
APP_TYPE = "sagemaker:app"
IDLE_SHUTDOWN_APPS = ("JupyterLab", "CodeEditor")  # the app types Studio's idle shutdown covers
SETTINGS_OF = {"JupyterLab": "JupyterLabAppSettings", "CodeEditor": "CodeEditorAppSettings"}


class StudioDomain(_Frozen):
    domain_id: str
    name: str
    arn: str
    region: str
    account: str
    idle_shutdown: dict[str, bool]  # app type → idle shutdown enabled in the domain's default user settings
    tags: dict[str, str] = {}


class StudioApp(_Frozen):
    """A Studio app, owned by a user profile or a space; its environment is read from its own tags (the domain's
    tags reach its apps when the domain's TagPropagation is on), as IAM reads them."""

    arn: str
    domain_id: str
    app_type: str
    app_name: str
    region: str
    account: str
    created: datetime
    user_profile: str | None = None
    space: str | None = None
    instance_type: str | None = None
    status: str = "InService"
    tags: dict[str, str] = {}

    @property
    def owner_name(self) -> str:
        return f"user profile {self.user_profile}" if self.user_profile else f"space {self.space}"

    @property
    def resource_id(self) -> str:
        return f"{self.domain_id}/{self.user_profile or self.space}/{self.app_type}/{self.app_name}"


def idle_shutdown_settings(current: dict[str, object], app_types: list[str], minutes: int) -> dict[str, object]:
    """DefaultUserSettings for UpdateDomain: each app type's whole settings block as the domain has it, with idle
    shutdown on. UpdateDomain may replace a block it is given (its reference promises no merge), so a block with only
    the idle settings would drop the team's images, lifecycle configurations and default resource spec."""
    idle = {"LifecycleManagement": "ENABLED", "IdleTimeoutInMinutes": minutes}
    out: dict[str, object] = {}
    for t in app_types:
        if t not in SETTINGS_OF:
            continue
        block = dict(current.get(SETTINGS_OF[t]) or {})  # type: ignore[call-overload]
        lifecycle = dict(block.get("AppLifecycleManagement") or {})
        lifecycle["IdleSettings"] = {**dict(lifecycle.get("IdleSettings") or {}), **idle}
        block["AppLifecycleManagement"] = lifecycle
        out[SETTINGS_OF[t]] = block
    return out


def classify_domains(domains: list[StudioDomain], policy: Policy, *, now: datetime,
                     run_id: str = "") -> list[Finding]:
    """A domain whose JupyterLab or Code Editor apps have no idle shutdown keeps every GPU app its users forget
    running: reported, or (opt-in) turned on with the policy's timeout."""
    out = []
    for d in domains:
        missing = [t for t in IDLE_SHUTDOWN_APPS if not d.idle_shutdown.get(t)]
        who = policy.ownership(d.tags)
        verdict = Verdict.NO_IDLE_SHUTDOWN if missing else Verdict.COMPLIANT
        reason = (f"idle shutdown is off for {', '.join(missing)} apps: an app left open runs (and bills) until "
                  "someone stops it" if missing else "idle shutdown is on for JupyterLab and Code Editor apps")
        dev = policy.environments.classes[str(who["environment"])].on_idle == "stop"
        action = ActionKind.ENABLE_IDLE_SHUTDOWN if missing and dev and policy.sagemaker.enable_studio_idle_shutdown \
            else None
        notes = () if action or not missing else (
            f"turn it on in the domain's app settings (with sagemaker.enable_studio_idle_shutdown the janitor sets "
            f"{policy.sagemaker.studio_idle_timeout_minutes} minutes on dev domains; a prod domain is only reported)",)
        out.append(Finding(kind=FindingKind.STUDIO_DOMAIN, resource_id=d.domain_id, resource_arn=d.arn,
                           resource_type=DOMAIN_TYPE, account=d.account, region=d.region,
                           **{**who, "name": d.name}, verdict=verdict, reason=reason,
                           evidence={"missing": ",".join(missing)}, notes=notes, action=action,
                           action_status="planned" if action else None,
                           severity="medium" if missing else "info", run_id=run_id, observed_at=now))
    return out


def classify_apps(apps: list[StudioApp], policy: Policy, *, now: datetime, run_id: str = "",
                  prices: Mapping[str, PriceBook] | None = None) -> list[Finding]:
    """Apps in service on GPU/accelerator instances for longer than the policy's hours: reported with their owner
    and dollars; in dev, with the opt-in, marked then deleted after the grace period (the space and its storage
    remain). Apps on CPU instances, or started recently, are not findings. `prices`: app type → the Price List API's
    prices for that kind of Studio app where the offline table has none."""
    out = []
    limit = policy.sagemaker.studio_app_max_hours
    for a in apps:
        if a.status != "InService" or not accelerated(a.instance_type):
            continue
        hours = round((now - a.created).total_seconds() / 3600, 1)
        mark = a.tags.get(policy.exemptions.idle_since_tag)
        exemption = evaluate_exemption(a.tags, policy.exemptions, now=now)
        notes = list(exemption.notes)
        who = policy.ownership(a.tags)
        action: ActionKind | Ask | None = None
        act_after = None
        if exemption.exempt:
            verdict, reason = Verdict.EXEMPT, exemption.reason
        elif hours <= limit:
            verdict, reason = Verdict.STARTED_RECENTLY, f"running for {hours:g} h"
        else:
            verdict = Verdict.ACCELERATOR_APP_RUNNING
            reason = (f"{a.app_type} app of {a.owner_name} on {a.instance_type} running for {hours:g} h "
                      f"(policy: {limit} h)")
            may_delete = policy.environments.classes[str(who["environment"])].on_idle == "stop"
            if may_delete and policy.sagemaker.delete_studio_accelerator_apps:
                action, act_after = mark_then(ActionKind.DELETE_APP, mark, policy, now, notes)
            else:
                action = Ask.JUSTIFY
                if may_delete:
                    notes.append("deleting dev Studio apps is off (sagemaker.delete_studio_accelerator_apps): the "
                                 "owner is asked")
        if verdict != Verdict.ACCELERATOR_APP_RUNNING and mark is not None:
            action = ActionKind.UNMARK_IDLE
        price = ml_price(str(a.instance_type), a.region, (prices or {}).get(a.app_type))
        dollars = verdict == Verdict.ACCELERATOR_APP_RUNNING
        owner = {"owner": who["owner"] or a.user_profile} if who["owner"] is None and a.user_profile else {}
        out.append(Finding(
            kind=FindingKind.STUDIO_APP, resource_id=a.resource_id, resource_arn=a.arn, resource_type=APP_TYPE,
            instance_type=a.instance_type,
            account=a.account, region=a.region, **{**who, **owner}, verdict=verdict, reason=reason,
            evidence={"domain_id": a.domain_id, "user_profile": a.user_profile, "space": a.space,
                      "app_type": a.app_type, "app_name": a.app_name, "hours_running": hours},
            notes=tuple(notes), monthly_usd=price.monthly_usd if dollars else None,
            price_source=price.source if dollars else None, action=action,
            action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
            severity=severity(price.monthly_usd) if dollars else "info", run_id=run_id,
            observed_at=now))
    return out


def recheck_app(planned: Finding, current: StudioApp | None, policy: Policy, *, now: datetime) -> Finding:
    """A deletion decided minutes ago, checked against the app as it is just before acting: gone, no longer in
    service, kept or re-tagged → not deleted, and the finding says why."""
    if planned.action != ActionKind.DELETE_APP:
        return planned
    again = next(iter(classify_apps([current], policy, now=now, run_id=planned.run_id)), None) if current else None
    if again is not None and again.action == planned.action:
        return planned
    return planned.model_copy(update={"action": None, "action_status": None, "notes": (
        *planned.notes, "not deleted: it changed between read and act (gone, stopped, kept or re-tagged)")})


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack about a Studio domain or app (families/studio.py says it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE:
        return (f"Marked. It will be deleted after {when} if it is still running, unless you keep it; your space and "
                "its files remain — open the app again from Studio when you need it." if when else "Marked.")
    if f.action == ActionKind.DELETE_APP:
        return {"done": "Deleted: still running on a GPU/accelerator instance after the grace period. Your space and "
                        "its files remain; open the app again from Studio when you need it.",
                "failed": f"Could not be deleted ({f.action_error}); it is still running."}.get(
            str(f.action_status), f"Deletion {f.action_status}.")
    if f.action == ActionKind.ENABLE_IDLE_SHUTDOWN:
        return f"Idle shutdown turned on for {f.evidence.get('missing')} apps ({f.action_status})."
    if f.verdict == Verdict.NO_IDLE_SHUTDOWN:
        return "Reported: apps left open in this domain run until someone stops them."
    return None
