"""ECR repositories (a resource family: families/ecr.py): container images nobody pulls, and untagged images that pile
up with every build. The janitor's one rule — expire untagged images `ecr.untagged_expire_days` after their push — is
merged into the repository's own lifecycle policy by priority, never replacing or renumbering a team rule; images not
pulled for `ecr.unpulled_days` are reported with their dollars and a rule the team may add (the janitor never writes
a rule that expires a tagged image).

The signals, as the ECR API reference documents them (DescribeImages, ImageDetail): imagePushedAt; imageTags (none:
untagged); imageSizeInBytes ("the size, in bytes, of the image in the repository"); lastRecordedPullTime ("when
Amazon ECR recorded the last image pull ... refreshes ... at least once every 24 hours"). An image without a recorded
pull is not counted as unpulled: the absence of a record is not a fact about its use.

The lifecycle rules, as "Lifecycle policy properties in Amazon ECR" states them: each rule has a unique rulePriority,
rules apply from the lowest; "a rule with a tagStatus value of any must have the highest value for rulePriority";
untagged rules omit tag lists; countType sinceImagePushed with countUnit days; action expire. The janitor's rule gets
the priority after the team's highest non-`any` rule and must stay below a team `any` rule: where no such priority
is free, the finding says so and nothing is written. An expired image cannot be brought back, so the rule touches only
images no tag points to, and only with the opt-in, in dev, after the mark and the grace period; the finding warns that
a deployment pinned by digest to an untagged image would lose it.

Price: $0.10 per GB-month of private repository storage (the Amazon ECR pricing page, US East (N. Virginia), as
quoted in March 2026; AWS's page itself was not reachable here); elsewhere unknown, never guessed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.idle import mark_then, no_longer_due, withdrawn
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict, _Frozen
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import Price, RateBook, listed_rate, severity

REPOSITORY_TYPE = "ecr:repository"
GB = 2 ** 30
JANITOR = "cost-janitor:"  # the description prefix that marks the janitor's rule
ECR_PRICE_DATE = "2026-03"
STORAGE_GB_MONTH: dict[str, float] = {"us-east-1": 0.10}  # Amazon ECR pricing, private repository storage


class Image(_Frozen):
    digest: str
    tags: tuple[str, ...] = ()
    pushed_at: datetime | None = None
    last_pull: datetime | None = None  # lastRecordedPullTime; None: no pull recorded
    size_bytes: int | None = None


class Repository(_Frozen):
    name: str
    arn: str
    region: str
    account: str
    created: datetime | None = None
    tags: dict[str, str] = {}
    policy_text: str | None = None  # None: the repository has no lifecycle policy
    policy_read: bool = True  # False: GetLifecyclePolicy failed (nothing is merged into it)
    images: tuple[Image, ...] = ()


def janitor_rule(priority: int, policy: Policy) -> dict[str, Any]:
    days = policy.ecr.untagged_expire_days
    return {"rulePriority": priority, "description": f"{JANITOR} expire untagged images {days} days after push",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                          "countNumber": days}, "action": {"type": "expire"}}


def merge_policy(text: str | None, policy: Policy) -> tuple[str | None, str]:
    """(the merged policy text, why) — None when nothing is to be written: the janitor's rule is there, a team rule
    already expires untagged images, the policy cannot be parsed, or no priority is free before a team `any` rule."""
    try:
        rules: list[dict[str, Any]] = json.loads(text)["rules"] if text else []
    except (ValueError, KeyError, TypeError):
        return None, "its lifecycle policy could not be parsed: never replaced"
    if any(str(r.get("description", "")).startswith(JANITOR) for r in rules):
        return None, "the janitor's rule is there"
    untagged = [r for r in rules if (r.get("selection") or {}).get("tagStatus") == "untagged"]
    if untagged:
        return None, f"the team's rule {untagged[0].get('rulePriority')} handles untagged images"
    anys = [int(r["rulePriority"]) for r in rules if (r.get("selection") or {}).get("tagStatus") == "any"]
    others = [int(r["rulePriority"]) for r in rules if (r.get("selection") or {}).get("tagStatus") != "any"]
    priority = max(others, default=0) + 1
    if anys and priority >= min(anys):
        return None, (f"no free priority between the team's rules and its tagStatus=any rule {min(anys)} "
                      "(ECR wants that rule last; the janitor never renumbers a team rule)")
    return json.dumps({"rules": [*rules, janitor_rule(priority, policy)]}), f"priority {priority}, after the team's"


def _gb(images: list[Image]) -> float | None:
    sizes = [i.size_bytes for i in images]
    return None if any(s is None for s in sizes) else sum(s or 0 for s in sizes) / GB


def storage_rate(region: str, rates: RateBook | None = None) -> Price:
    """Private repository storage's USD per GB-month in `region`: the pricing page's figure, else the Price List's
    ("ecr:storage"), else unknown."""
    return listed_rate("ecr:storage", region, rates, offline=STORAGE_GB_MONTH,
                       source=f"Amazon ECR pricing, private repository storage (as quoted {ECR_PRICE_DATE})")


def classify_repository(repo: Repository, policy: Policy, *, now: datetime, run_id: str = "",
                        rates: RateBook | None = None) -> Finding:
    who = policy.ownership(repo.tags)
    exemption = evaluate_exemption(repo.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = repo.tags.get(policy.exemptions.idle_since_tag)
    dev = policy.environments.classes[str(who["environment"])].on_idle == "stop"
    price = storage_rate(repo.region, rates)
    rate = price.hourly_usd
    untagged_cut = now - timedelta(days=policy.ecr.untagged_expire_days)
    unpulled_cut = now - timedelta(days=policy.ecr.unpulled_days)
    untagged = [i for i in repo.images if not i.tags and i.pushed_at is not None and i.pushed_at < untagged_cut]
    unpulled = [i for i in repo.images if i.tags and i.last_pull is not None and i.last_pull < unpulled_cut]
    unknown = [i for i in repo.images if i.tags and i.last_pull is None and i.pushed_at is not None
               and i.pushed_at < unpulled_cut]
    untagged_gb, unpulled_gb = _gb(untagged), _gb(unpulled)
    evidence: dict[str, float | int | str | None] = {
        "images": len(repo.images), "untagged_old": len(untagged), "untagged_gb": _round(untagged_gb),
        "unpulled": len(unpulled), "unpulled_gb": _round(unpulled_gb), "no_pull_recorded": len(unknown),
        "policy_before": repo.policy_text}
    action: ActionKind | Ask | None = None
    act_after = None
    monthly: float | None = None
    if unknown:
        notes.append(f"{len(unknown)} tagged image(s) pushed before {unpulled_cut:%Y-%m-%d} have no recorded pull: "
                     "not counted as unused (no record is not proof)")
    merged, why = merge_policy(repo.policy_text, policy) if repo.policy_read else (None, "its lifecycle policy "
                                                                                        "could not be read")
    if exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif not repo.policy_read:
        verdict, reason = Verdict.CANNOT_JUDGE, "its lifecycle policy could not be read: nothing is merged into it"
    elif merged is not None and untagged:
        verdict = Verdict.CHANGE_PROPOSED
        monthly = round(untagged_gb * rate, 2) if untagged_gb is not None and rate is not None else None
        reason = (f"{len(untagged)} untagged image(s) older than {policy.ecr.untagged_expire_days} days "
                  f"({_size(untagged_gb)}) and no rule expires them: the janitor's rule is merged after the team's "
                  f"({why})")
        evidence["policy_after"] = merged
        notes.append(f"dry-run diff: + rule \"{janitor_rule(0, policy)['description']}\" ({why}); the team's rules "
                     "unchanged")
        notes.append("expired images cannot be brought back: a deployment pinned by digest to an untagged image "
                     "would lose it")
        back = (f"put-lifecycle-policy --repository-name {repo.name} --lifecycle-policy-text '{repo.policy_text}'"
                if repo.policy_text else f"delete-lifecycle-policy --repository-name {repo.name}")
        notes.append(f"the way back (the rules, not expired images): aws ecr {back}")
        action = Ask.REVIEW
        if dev and policy.ecr.put_lifecycle_policies:
            action, act_after = mark_then(ActionKind.SET_ECR_LIFECYCLE, mark, policy, now, notes)
    elif merged is None and untagged and "no free priority" in why:
        verdict, reason, action = Verdict.CONFLICT, f"{len(untagged)} old untagged image(s), but {why}", Ask.REVIEW
    elif unpulled:
        verdict = Verdict.UNUSED
        monthly = round(unpulled_gb * rate, 2) if unpulled_gb is not None and rate is not None else None
        suggested = json.dumps({"selection": {"tagStatus": "any", "countType": "sinceImagePulled",
                                              "countUnit": "days", "countNumber": policy.ecr.unpulled_days},
                                "action": {"type": "expire"}})
        reason = (f"{len(unpulled)} tagged image(s) not pulled for {policy.ecr.unpulled_days} days "
                  f"({_size(unpulled_gb)}): the janitor never expires a tagged image; a rule the team may add "
                  f"(as its last): {suggested}")
        action = Ask.REVIEW
    elif unknown:
        verdict = Verdict.CANNOT_JUDGE
        reason = (f"{len(unknown)} old tagged image(s) have no recorded pull: whether anyone uses them is not known "
                  "(no record is not proof)")
    else:
        verdict, reason = Verdict.COMPLIANT, why if untagged else "no old untagged image and no unpulled tagged image"
    if unpulled and verdict == Verdict.CHANGE_PROPOSED:
        notes.append(f"also {len(unpulled)} tagged image(s) not pulled for {policy.ecr.unpulled_days} days "
                     f"({_size(unpulled_gb)}): never expired by the janitor")
    if verdict != Verdict.CHANGE_PROPOSED and mark is not None:
        action, act_after = ActionKind.UNMARK_IDLE, None
    costly = verdict in (Verdict.CHANGE_PROPOSED, Verdict.UNUSED)
    return Finding(kind=FindingKind.ECR, resource_id=repo.name, resource_arn=repo.arn, resource_type=REPOSITORY_TYPE,
                   account=repo.account, region=repo.region, **{**who, "name": who["name"] or repo.name},
                   verdict=verdict, reason=reason, evidence=evidence, notes=tuple(notes), monthly_usd=monthly,
                   price_source=(f"{price.source}: ${rate}/GB-month of storage" if rate is not None else price.source)
                   if costly else None, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None, act_after=act_after,
                   severity=severity(monthly) if costly else "info", run_id=run_id, observed_at=now)


def _round(gb: float | None) -> float | None:
    return round(gb, 2) if gb is not None else None


def _size(gb: float | None) -> str:
    return f"{gb:,.1f} GB" if gb is not None else "size not reported"


def recheck_repository(planned: Finding, current: Repository | None, policy: Policy, *, now: datetime) -> Finding:
    """The merge made again on the policy as it is just before: gone, kept, out of dev, unmarked, unreadable, or nothing
    left to add → not written; otherwise the merge of what is there now."""
    if planned.action != ActionKind.SET_ECR_LIFECYCLE:
        return planned
    why = None
    if current is None:
        why = "the repository is gone"
    elif (due := no_longer_due(current.tags, policy, now=now)) is not None:
        why = due
    elif not current.policy_read:
        why = "its lifecycle policy could not be read just before"
    else:
        merged, reason = merge_policy(current.policy_text, policy)
        if merged is None:
            why = reason
        else:
            return planned.model_copy(update={"evidence": {**planned.evidence, "policy_before": current.policy_text,
                                                           "policy_after": merged}})
    return withdrawn(planned, f"not written: {why}")


def policy_to_put(f: Finding) -> str:
    text = str(f.evidence.get("policy_after") or "")
    if not text or not json.loads(text).get("rules"):
        raise ValueError(f"{f.resource_id}: no lifecycle policy to write")
    return text


def what_happens(f: Finding) -> str | None:
    """What the owner reads in Slack (families/ecr.py says it; slack_blocks shows it)."""
    when = f.act_after.strftime("%Y-%m-%d %H:%M UTC") if f.act_after else None
    if f.verdict == Verdict.CHANGE_PROPOSED and f.action == ActionKind.MARK_IDLE:
        return (f"Marked. Unless you keep it, after {when} the janitor's rule (expire untagged images) is added to "
                "its lifecycle policy; your rules are kept as they are." if when else "Marked.")
    if f.action == ActionKind.SET_ECR_LIFECYCLE:
        return {"done": "The janitor's rule was added; your rules are unchanged. ECR expires the untagged images "
                        "within a day. The way back (for the rules) is below.",
                "failed": f"Could not write the lifecycle policy ({f.action_error}); nothing changed.",
                "skipped": f"Not written: it changed before the janitor acted ({f.action_error})."}.get(
            str(f.action_status), f"Lifecycle change {f.action_status}.")
    if f.action == Ask.REVIEW:
        return "Reported: the janitor changes nothing here (production, the opt-in is off, or a tagged image)."
    return None
