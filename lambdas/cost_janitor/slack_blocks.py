"""Block Kit for people: one message per owner per run, buttons by case, modals; within Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    LinkButtonElement,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict
from cost_janitor.core.policy import Policy

MAX_BLOCKS = 50
BLOCKS_PER_FINDING = 4  # section, context, actions, divider
PER_MESSAGE = (MAX_BLOCKS - 1) // BLOCKS_PER_FINDING
MAX_SECTION_TEXT = 3000
MAX_PLAIN_TEXT = 150
MAX_VALUE = 2000  # a button's value
KEEP_DAYS = (1, 3, 7, 14, 30, 60, 90)
EMOJI = {Verdict.IDLE: ":zzz:", Verdict.GPU_METRICS_MISSING: ":grey_question:", Verdict.NOT_STOPPABLE: ":lock:",
         Verdict.NOT_EVALUATED: ":warning:", Verdict.BUSY: ":white_check_mark:", Verdict.EXEMPT: ":shield:",
         Verdict.INSUFFICIENT_DATA: ":hourglass:", Verdict.ACCELERATOR_NOT_MEASURED: ":grey_question:",
         Verdict.CANNOT_JUDGE: ":grey_question:", Verdict.CLUSTER_NODE: ":ship:",
         Verdict.UNDERUSED: ":chart_with_downwards_trend:", Verdict.LEFT_RUNNING: ":crescent_moon:",
         Verdict.NO_AUTO_STOP: ":alarm_clock:", Verdict.OVER_REQUESTED: ":balloon:",
         Verdict.NEVER_SCALED_DOWN: ":chart_with_upwards_trend:", Verdict.HELD_AT_MIN: ":crescent_moon:",
         Verdict.NO_CONTAINER_INSIGHTS: ":grey_question:"}


def bill_text(bill: dict[str, Any] | None, *, most: int = 10, markdown: bool = True) -> str | None:
    """The digest's bill line: each stopped instance's cost a month by the bill, before its stop and after, beside
    the estimate (capabilities/report._bill), the first `most` and how many more; or the how-to where it is not used."""
    if not bill:
        return None
    label = "*From the bill:*" if markdown else "From the bill:"
    if "not_used" in bill:
        return f"{label} not used — {bill['not_used']}"

    def usd(v: Any) -> str:
        return "no line" if v is None else f"${v:,.2f}"

    lines = bill.get("lines") or []
    shown = [f"{b['resource_id']} {usd(b['bill_before_monthly_usd'])}/mo before its stop on {b['stopped']} → "
             f"{usd(b['bill_after_monthly_usd'])} after (estimated {usd(b['estimate_monthly_usd'])})"
             for b in lines[:most]]
    more = f"; {len(lines) - most} more in the report" if len(lines) > most else ""
    return f"{label} " + "; ".join(shown) + more + f" ({bill.get('source')})"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def button_value(finding: Finding, **modal: Any) -> str:
    """What a click hands back: the resource and its region, and what the button's modal shows (so the endpoint
    can open it within Slack's 3 seconds without reading the policy or the ledger). Slack allows 2,000 characters:
    the modal hints are dropped before the resource is."""
    value = json.dumps({"resource": finding.resource_id, "region": finding.region, **modal})
    return value if len(value) <= MAX_VALUE else json.dumps({"resource": finding.resource_id,
                                                             "region": finding.region})


def _tag_hints(finding: Finding, policy: Policy) -> dict[str, Any]:
    """The keys the Fix-tags form asks for (missing or invalid) and, where the policy lists them, their values."""
    keys = [k for k in f"{finding.evidence.get('missing') or ''},{finding.evidence.get('invalid') or ''}"
            .split(",") if k]
    allowed = {k: policy.tagging.required[k] for k in keys if policy.tagging.required.get(k)}
    return {"keys": keys, "allowed": allowed}


STOPPABLE = "ec2:instance"  # the one resource type the Stop now answer acts on (capabilities/answers._stop_now)


def buttons_for(finding: Finding, policy: Policy) -> list[ButtonElement]:
    """The owner's choices, by case."""
    value = button_value(finding)
    keep = ButtonElement(text="Keep — justify", action_id="keep", style="primary",
                         value=button_value(finding, max_days=policy.exemptions.max_keep_days))
    not_mine = ButtonElement(text="Not mine", action_id="not_mine", value=value)
    if finding.kind == FindingKind.TAG_COMPLIANCE:
        return [ButtonElement(text="Fix tags", action_id="fix_tags", style="primary",
                              value=button_value(finding, **_tag_hints(finding, policy)))] \
            if finding.verdict == Verdict.NON_COMPLIANT else []
    from cost_janitor.families import answerable  # the notifier's path only, as for the texts

    if not answerable(finding):  # nothing an answer could tag: the message reports, the owner acts in the cluster
        return []
    snooze = ButtonElement(text="Snooze 1 day", action_id="snooze", value=value)
    if finding.action == ActionKind.DELETE_ENDPOINT and finding.action_status == "done":
        return [ButtonElement(text="Restore", action_id="restore", style="primary", value=value)]
    if finding.resource_type != STOPPABLE:  # "stop now" stops an EC2 instance; anything else only by its policy
        if finding.action in (ActionKind.MARK_IDLE, Ask.JUSTIFY, Ask.RIGHT_SIZE, Ask.REVIEW):
            return [keep, snooze, not_mine]
        return []
    if finding.action == Ask.JUSTIFY:
        return [keep, snooze, not_mine]
    if finding.action in (ActionKind.MARK_IDLE,) or (finding.verdict == Verdict.IDLE and finding.action is None
                                                       and finding.environment == "dev"):
        return [keep, ButtonElement(text="Stop now", action_id="stop_now", value=value, style="danger")]
    if finding.action == Ask.INSTALL_GPU_AGENT:
        return [LinkButtonElement(text="How to send GPU metrics", url=policy.slack.gpu_agent_docs_url), not_mine]
    if finding.action == Ask.REVIEW:
        return [keep, not_mine]
    return []


def _headline(f: Finding) -> str:
    name = f.name
    label = f"*{name}* (`{f.resource_id}`)" if name else f"`{f.resource_id}`"
    dollars = f" · ≈ *${f.monthly_usd:,.0f}/month*" if f.monthly_usd else ""
    return (f"{EMOJI.get(f.verdict, '')} {label} · {f.type_label} · {f.environment} · {f.region}{dollars}\n"
            f"{f.reason}")


def _what_happens(f: Finding) -> str:
    """The common texts; a resource family's own come from it (families/<name>.says)."""
    from cost_janitor.families import of_type  # the notifier's path only: the Slack endpoint never renders findings

    family = of_type(f.resource_type)
    if f.kind == FindingKind.TAG_COMPLIANCE:
        text = ("Cost reports cannot attribute it until its cost tags are set: the button opens a form."
                if f.verdict == Verdict.NON_COMPLIANT else "All cost tags are present. Thank you.")
        if f.action == ActionKind.TAG_CREATED_BY:
            text += f" Tagged created-by={f.evidence.get('created_by')} ({f.action_status})."
    elif family is not None and (said := family.says(f)) is not None:
        text = said
    elif f.action == Ask.JUSTIFY:
        text = "Production is never stopped. Please say why it is needed, or snooze, or tell us it is not yours."
    elif f.action == ActionKind.CHECKPOINT:
        text = f"Checkpoint command sent through SSM: {f.action_status}" + (
            f" ({f.action_error})" if f.action_error else "")
    elif f.action == Ask.REVIEW:
        text = "cost-janitor cannot stop this itself; please review it."
    elif f.action == ActionKind.MARK_IDLE:
        text = "Marked idle."
    else:
        text = f"Action: {f.action or 'none'}"
    if f.action_status == "dry-run":
        text += " _(dry-run: nothing was changed)_"
    return text + "".join(f"\n:memo: {n}" for n in f.notes)


def finding_blocks(f: Finding, policy: Policy, *, outcome: str | None) -> list[Any]:
    blocks: list[Any] = [
        SectionBlock(block_id=f"finding:{f.resource_id}", text=MarkdownTextObject(
            text=_clip(_headline(f), MAX_SECTION_TEXT))),
        ContextBlock(elements=[MarkdownTextObject(text=_clip(_what_happens(f), MAX_SECTION_TEXT))]),
    ]
    buttons = buttons_for(f, policy)
    if outcome:
        blocks.append(ContextBlock(block_id=f"outcome:{f.resource_id}",
                                   elements=[MarkdownTextObject(text=_clip(outcome, MAX_SECTION_TEXT))]))
    elif buttons:
        blocks.append(ActionsBlock(block_id=f"actions:{f.resource_id}", elements=buttons))
    blocks.append(DividerBlock())
    return blocks


def chunks(findings: Sequence[Finding]) -> list[list[Finding]]:
    """Most expensive first, split so each message stays under Slack's 50 blocks."""
    ordered = sorted(findings, key=lambda f: (-(f.monthly_usd or 0), f.resource_id))
    return [ordered[i:i + PER_MESSAGE] for i in range(0, len(ordered), PER_MESSAGE)]


def render(chunk: Sequence[Finding], policy: Policy, *, outcomes: Mapping[str, str] | None = None,
           title: str | None = None, part: tuple[int, int] = (1, 1)) -> dict[str, Any]:
    """One message ({text, blocks}) for one chunk of one recipient's findings."""
    total = sum(f.monthly_usd or 0 for f in chunk)
    heading = title or (f"cost-janitor: {len(chunk)} resource(s) need you"
                        + (f" · ≈${total:,.0f}/month" if total else ""))
    if part[1] > 1:
        heading += f" ({part[0]}/{part[1]})"
    blocks: list[Any] = [HeaderBlock(text=PlainTextObject(text=_clip(heading, MAX_PLAIN_TEXT)))]
    for f in chunk:
        blocks += finding_blocks(f, policy, outcome=(outcomes or {}).get(f.resource_id))
    return {"text": _clip(heading, MAX_PLAIN_TEXT), "blocks": [b.to_dict() for b in blocks]}


# One recipient's messages in a run: at most slack.max_messages_per_recipient with buttons (the costliest first); the
# rest are named in summary messages, SUMMARY_PER_MESSAGE resources each — one line per resource, no buttons — so an
# owner of 500 idle boxes gets a handful of messages Slack accepts, not 42, and each message's saved state (its
# findings, slimmed) stays far under DynamoDB's 400 KB item limit.
SUMMARY_PER_MESSAGE = 200  # ≈ 180 KB of saved state each (measured: tests/integration/test_notifier.py)


def plan_messages(findings: Sequence[Finding], policy: Policy) -> list[tuple[str, list[Finding]]]:
    """("buttons" | "summary", findings) per message, costliest first."""
    parts = chunks(findings)
    cap = policy.slack.max_messages_per_recipient
    if len(parts) <= cap:
        return [("buttons", c) for c in parts]
    rest = [f for c in parts[cap - 1:] for f in c]
    return [("buttons", c) for c in parts[:cap - 1]] + [
        ("summary", rest[i:i + SUMMARY_PER_MESSAGE]) for i in range(0, len(rest), SUMMARY_PER_MESSAGE)]


def summary_line(f: Finding) -> str:
    name = f" {f.name}" if f.name else ""
    dollars = f" · ${f.monthly_usd:,.0f}/month" if f.monthly_usd else ""
    return f"• `{f.resource_id}`{name} · {f.type_label} · {f.region} · {f.verdict}{dollars}"


def render_summary(chunk: Sequence[Finding], *, part: tuple[int, int]) -> dict[str, Any]:
    """The resources beyond the messages with buttons, one line each, packed into section blocks."""
    total = sum(f.monthly_usd or 0 for f in chunk)
    heading = (f"cost-janitor: {len(chunk)} more resource(s)" + (f" · ≈${total:,.0f}/month" if total else "")
               + (f" ({part[0]}/{part[1]})" if part[1] > 1 else ""))
    blocks: list[Any] = [HeaderBlock(text=PlainTextObject(text=_clip(heading, MAX_PLAIN_TEXT))), ContextBlock(
        elements=[MarkdownTextObject(text="Too many to list one by one with buttons: the costliest are in the "
                                          "messages before this one. Keep or answer these with `cost-janitor`, "
                                          "or tag them `cost-janitor:keep-until`.")])]
    section = ""
    for line in (_clip(summary_line(f), MAX_SECTION_TEXT) for f in chunk):
        if section and len(section) + 1 + len(line) > MAX_SECTION_TEXT:
            blocks.append(SectionBlock(text=MarkdownTextObject(text=section)))
            section = ""
        section = f"{section}\n{line}" if section else line
    if section:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=section)))
    return {"text": _clip(heading, MAX_PLAIN_TEXT), "blocks": [b.to_dict() for b in blocks[:MAX_BLOCKS]]}


def slim(f: Finding) -> Finding:
    """What a summary line needs of a finding, for its saved state (no evidence or notes; the reason clipped)."""
    return f.model_copy(update={"evidence": {}, "notes": (), "reason": _clip(f.reason, 200)})


def planned_messages(findings: Sequence[Finding], policy: Policy, *, outcomes: Mapping[str, str] | None = None,
                     title: str | None = None) -> list[tuple[str, list[Finding], dict[str, Any]]]:
    """(kind, its findings, the message) for each of one recipient's messages (plan_messages, rendered)."""
    parts = plan_messages(findings, policy)
    return [(kind, c, render(c, policy, outcomes=outcomes, title=title, part=(n, len(parts))) if kind == "buttons"
             else render_summary(c, part=(n, len(parts)))) for n, (kind, c) in enumerate(parts, start=1)]


def owner_messages(findings: Sequence[Finding], policy: Policy, *, outcomes: Mapping[str, str] | None = None,
                   title: str | None = None) -> list[dict[str, Any]]:
    """Every message for one recipient."""
    return [m for _, _, m in planned_messages(findings, policy, outcomes=outcomes, title=title)]


def keep_modal(*, resource_id: str, max_days: int, metadata: Mapping[str, str]) -> dict[str, Any]:
    """Keep — justify: a required reason and a duration capped by the policy."""
    days = [d for d in KEEP_DAYS if d <= max_days] or [max_days]
    options = [Option(value=str(d), text=f"{d} day{'s' if d > 1 else ''}") for d in days]
    initial = next((o for o in options if o.value == "7"), options[-1])
    view = View(type="modal", callback_id="keep", title="Keep this resource", submit="Keep", close="Cancel",
                private_metadata=json.dumps(dict(metadata)), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"Keeping `{resource_id}` exempts it from cost-janitor "
                                                              "until the date you choose.")),
                    InputBlock(block_id="reason", label="Why is it needed?", element=PlainTextInputElement(
                        action_id="reason", multiline=True, min_length=10, max_length=1000)),
                    InputBlock(block_id="days", label="Keep for", element=StaticSelectElement(
                        action_id="days", options=options, initial_option=initial)),
                ])
    return view.to_dict()


def fix_tags_modal(*, resource_id: str, keys: Sequence[str], allowed: Mapping[str, list[str]],
                   metadata: Mapping[str, str]) -> dict[str, Any]:
    """One field per missing (or invalid) cost tag: a choice where the policy lists allowed values."""
    blocks: list[Any] = [SectionBlock(text=MarkdownTextObject(
        text=f"Set the cost-allocation tags of `{resource_id}`; they are written to the resource as you submit."))]
    for key in keys:
        values = allowed.get(key) or []
        element: Any = (StaticSelectElement(action_id="value", options=[Option(value=v, text=v) for v in values[:100]])
                        if values else PlainTextInputElement(action_id="value", min_length=1, max_length=256))
        blocks.append(InputBlock(block_id=f"tag:{key}", label=_clip(key, 2000), element=element))
    view = View(type="modal", callback_id="fix_tags", title="Fix cost tags", submit="Save tags", close="Cancel",
                private_metadata=json.dumps(dict(metadata)), blocks=blocks)
    return view.to_dict()


def reassign_modal(*, resource_id: str, metadata: Mapping[str, str]) -> dict[str, Any]:
    view = View(type="modal", callback_id="reassign", title="Not mine", submit="Reassign", close="Cancel",
                private_metadata=json.dumps(dict(metadata)), blocks=[
                    SectionBlock(text=MarkdownTextObject(text=f"Who owns `{resource_id}`? They will be asked instead "
                                                              "and become its owner tag.")),
                    InputBlock(block_id="owner", label="Owner", element=UserSelectElement(action_id="user")),
                ])
    return view.to_dict()


ML_ACTIONS = {"delete-endpoint": "endpoints deleted", "stop-notebook": "notebook instances stopped",
              "delete-app": "Studio apps deleted"}


def digest_message(doc: Mapping[str, Any], *, team: str | None, dashboard: str | None = None) -> dict[str, Any]:
    """The weekly digest as one Slack message: the whole account, or one team's share of it. `dashboard`: the
    stack's CloudWatch dashboard, linked for the charts (the full picture is `cost-janitor report --html`)."""
    weeks = doc.get("weeks") or []
    this = weeks[-1] if weeks else {"realized_usd": 0.0, "estimated_usd": 0.0}
    title = f"cost-janitor weekly digest{f' for {team}' if team else ''}"
    lines = []
    if team:
        lines.append(f"*Realized savings this week:* ${doc.get('by_team', {}).get(team, 0.0):,.2f}")
    else:
        lines.append(f"*Realized savings this week:* ${this['realized_usd']:,.2f} "
                     f"(estimated ${this['estimated_usd']:,.2f} had every stop lasted the week)")
        trend = " → ".join(f"${w['realized_usd']:,.0f}" for w in weeks)
        lines.append(f"*Last {len(weeks)} weeks:* {trend}")
        accounts = doc.get("by_account") or {}
        if accounts and set(accounts) != {"(this account)"}:  # a hub's: every member listed, a $0 (unpriced) one too
            lines.append("*By account:* " + ", ".join(f"{k} ${v:,.2f}" for k, v in accounts.items()))
        if doc.get("unpriced"):
            lines.append(f"*Unpriced:* {sum(doc['unpriced'].values())} stop(s) with no price known, counted but not "
                         "in the dollars: " + ", ".join(f"{k} ×{n}" for k, n in doc["unpriced"].items()))
        if plans := doc.get("after_plans"):
            lines.append(f"*After Savings Plans:* {plans['stops']:g} stop(s) counted at ${plans['realized_usd']:,.2f} "
                         f"(${plans['list_usd']:,.2f} at list price): a share a plan covers saves $0 until its "
                         "commitment is used elsewhere")
        if bill_line := bill_text(doc.get("bill")):
            lines.append(bill_line)
        if doc.get("by_action"):
            lines.append("*By action:* " + ", ".join(f"{k} ${v:,.2f}" for k, v in doc["by_action"].items()))
        ml = {k: v for k, v in (doc.get("by_action") or {}).items() if k in ML_ACTIONS}
        if ml:
            lines.append("*SageMaker this week:* " + ", ".join(f"{ML_ACTIONS[k]} ${v:,.2f}" for k, v in ml.items())
                         + " (saved until restored or started again)")
        own = doc.get("own_cost") or {}
        if own:
            share = own.get("share_of_savings_pct")
            lines.append(f"*cost-janitor's own cost:* ${own['usd']:,.2f} this week"
                         + (f", {share:g} % of what it saved" if share is not None else ""))
    blocks: list[Any] = [HeaderBlock(text=PlainTextObject(text=_clip(title, MAX_PLAIN_TEXT))),
                         SectionBlock(text=MarkdownTextObject(text=_clip("\n".join(lines), MAX_SECTION_TEXT)))]
    sections = []
    if doc.get("open_requests"):
        sections.append("*Open justification requests:* " + ", ".join(
            f"`{r}` {days} d" + (f" (${usd:,.0f}/mo)" if usd else "") for r, days, usd in doc["open_requests"][:10]))
    if doc.get("families") and not team:
        sections.append("\n".join(doc["families"][:10]))
    if doc.get("top_idle") and not team:
        sections.append("*Costliest idle:* " + ", ".join(f"`{r}` ${usd:,.0f}/mo ({a})" for r, a, usd
                                                          in doc["top_idle"][:5]))
    coverage = doc.get("tag_coverage") or {}
    if coverage:
        if team:
            sections.append(f"*Tag coverage (all keys):* {coverage.get('by_team', {}).get(team, 0.0)}%")
        else:
            sections.append("*Tag coverage:* " + ", ".join(f"{k} {v}%" for k, v in coverage["by_key"].items()))
    spot = doc.get("spot") or {}
    if spot.get("by_type_and_az") and not team:
        sections.append("*Spot interruptions (30 d):* " + ", ".join(
            f"{s['instance_type']}/{s['availability_zone']} {s['interruptions']}" for s in spot["by_type_and_az"][:5])
            + "".join(f"\n→ {s}" for s in spot.get("suggestions", [])))
    if doc.get("gpu_bands") and not team:
        sections.append("*GPU utilisation (7-day average per instance):* " + ", ".join(
            f"{band}: {n}" for band, n in doc["gpu_bands"].items())
            + (f"\n{len(doc['gpu_candidates'])} right-sizing candidate(s) under 50 % (smaller type, MIG or sharing)"
               if doc.get("gpu_candidates") else ""))
    for model in (doc.get("cost_per_prediction") or []) if not team else []:
        trend = ", ".join(f"{m}: ${per:,.4f}/1k" if per is not None else f"{m}: no predictions"
                          for m, _cost, _n, per in model["months"])
        sections.append(f"*Cost per 1,000 predictions, {model['name']}:* {trend}")
    if doc.get("egress") and not team:
        sections.append("*Top data transfer (30 d):* " + ", ".join(f"{u} ${usd:,.2f}" for u, usd in doc["egress"]))
    if dashboard:
        sections.append(f"*Charts:* <{dashboard}|CloudWatch dashboard> · the whole report as one page: "
                        "`cost-janitor report --html report.html`")
    if doc.get("unavailable"):
        sections.append("_Not available this week: " + ", ".join(f"{k} ({v})" for k, v in doc["unavailable"].items())
                        + "_")
    for text in sections:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_clip(text, MAX_SECTION_TEXT))))
    return {"text": _clip(title, MAX_PLAIN_TEXT), "blocks": [b.to_dict() for b in blocks[:MAX_BLOCKS]]}


def plain_text(message: Mapping[str, Any]) -> str:
    """A message's header and sections as plain text (the digest's email): Slack's `<url|label>` as `label: url`."""
    text = "\n\n".join(b["text"]["text"] for b in message["blocks"] if b["type"] in ("header", "section"))
    return re.sub(r"<([^|>]+)\|([^>]+)>", r"\2: \1", text)
