"""SageMaker notebook instances (a resource family: families/notebooks.py): judged on time in service (SageMaker
publishes no utilisation metric for them, and none is invented), the actions that calls for, and the re-check
before a stop."""

from __future__ import annotations

from datetime import datetime

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict, _Frozen
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import PriceBook, ml_price, severity

NOTEBOOK_TYPE = "sagemaker:notebook-instance"


class NotebookInstance(_Frozen):
    name: str
    arn: str
    region: str
    account: str
    status: str
    instance_type: str
    last_modified: datetime  # a notebook instance is modified when it starts: in service since then
    lifecycle_config: str | None = None
    tags: dict[str, str] = {}


def classify_notebooks(notebooks: list[NotebookInstance], policy: Policy, *, now: datetime,
                       run_id: str = "", prices: PriceBook | None = None) -> list[Finding]:
    """In service longer than the policy's hours at the nightly run → left running (a dev one is marked, and
    stopped the next night if still in service and not kept; its ML storage volume survives the stop). No
    auto-stop lifecycle configuration → said in the finding, with the setup link (attaching one needs the
    instance stopped, so the janitor only reports it). `prices`: the Price List API's notebook-instance prices for
    what the offline table does not know."""
    return [_notebook_finding(n, policy, now, run_id, prices) for n in notebooks]


def _notebook_finding(n: NotebookInstance, policy: Policy, now: datetime, run_id: str,
                      prices: PriceBook | None = None) -> Finding:
    who = policy.ownership(n.tags)
    hours = round((now - n.last_modified).total_seconds() / 3600, 1)
    exemption = evaluate_exemption(n.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    if not n.lifecycle_config:
        notes.append("no lifecycle configuration: add one that stops the instance when idle "
                     f"(see {policy.sagemaker.auto_stop_docs_url}); it can be attached while the instance is stopped")
    limit = policy.sagemaker.notebook_max_hours
    mark = n.tags.get(policy.exemptions.idle_since_tag)
    action: ActionKind | Ask | None = None
    act_after = None
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif n.status != "InService":  # its LastModifiedTime is not a start: time in service cannot be judged
        verdict, reason = Verdict.CANNOT_JUDGE, f"status {n.status}, not in service: time in service not judged"
    elif hours > limit:
        verdict = Verdict.LEFT_RUNNING
        reason = f"in service for {hours:g} h at the nightly run (policy: {limit} h); no utilisation metric exists " \
                 "for notebook instances, so time in service is what is judged"
        if policy.environments.classes[str(who["environment"])].on_idle == "stop":
            action, act_after = mark_then(ActionKind.STOP_NOTEBOOK, mark, policy, now, notes)
        else:
            action = Ask.JUSTIFY
    else:
        verdict = Verdict.NO_AUTO_STOP if not n.lifecycle_config else Verdict.STARTED_RECENTLY
        reason = f"in service for {hours:g} h" + (" and it has no auto-stop configuration" if not n.lifecycle_config
                                                  else "")
    if verdict != Verdict.LEFT_RUNNING and mark is not None:
        action = ActionKind.UNMARK_IDLE
    price = ml_price(n.instance_type, n.region, prices)
    return Finding(kind=FindingKind.NOTEBOOK, resource_id=n.name, resource_arn=n.arn, resource_type=NOTEBOOK_TYPE,
                   instance_type=n.instance_type, account=n.account, region=n.region, **who, verdict=verdict,
                   reason=reason, evidence={"hours_in_service": hours, "lifecycle_config": n.lifecycle_config},
                   notes=tuple(notes),
                   monthly_usd=price.monthly_usd if verdict == Verdict.LEFT_RUNNING else None,
                   price_source=price.source if verdict == Verdict.LEFT_RUNNING else None,
                   action=action, action_status="planned" if isinstance(action, ActionKind) else None,
                   act_after=act_after, severity=_severity(verdict, price.monthly_usd), run_id=run_id,
                   observed_at=now)


def _severity(verdict: Verdict, monthly: float | None) -> str:
    if verdict == Verdict.LEFT_RUNNING:
        return severity(monthly)
    return "medium" if verdict == Verdict.NO_AUTO_STOP else "info"


def recheck_notebook(planned: Finding, current: NotebookInstance | None, policy: Policy, *, now: datetime) -> Finding:
    """A stop decided minutes ago, checked against the notebook instance as it is just before acting: gone, stopped
    by its owner, kept or re-tagged → not stopped, and the finding says why."""
    if planned.action != ActionKind.STOP_NOTEBOOK:
        return planned
    again = _notebook_finding(current, policy, now, planned.run_id) if current is not None else None
    if again is not None and again.action == planned.action:
        return planned
    return planned.model_copy(update={"action": None, "action_status": None, "notes": (
        *planned.notes, "not stopped: it changed between read and act (gone, stopped, kept or re-tagged)")})


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack about a notebook instance (families/notebooks.py says it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.action == ActionKind.MARK_IDLE:
        return (f"Marked. It will be stopped after {when} if it is still in service, unless you keep it; its ML "
                "storage volume is kept." if when else "Marked.")
    if f.action == ActionKind.STOP_NOTEBOOK:
        return {"done": "Stopped: still in service a night after it was marked. Its ML storage volume is kept; start "
                        "it again when you need it.",
                "failed": f"Could not be stopped ({f.action_error})."}.get(str(f.action_status),
                                                                           f"Stop {f.action_status}.")
    return None
