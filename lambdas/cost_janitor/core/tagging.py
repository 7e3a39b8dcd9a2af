"""Tag compliance: what a CloudTrail creation call created and who created it, whether its current tags carry the
cost-allocation keys with allowed values, and tag coverage across the account."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cost_janitor.core.errors import JanitorError
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict
from cost_janitor.core.models import arn as make_arn
from cost_janitor.core.policy import Policy

KIND = FindingKind.TAG_COMPLIANCE


@dataclass(frozen=True)
class Created:
    arn: str
    resource_id: str
    resource_type: str
    region: str


@dataclass(frozen=True)
class Creator:
    """Who made the call: a person where one can be named, else the principal or service."""

    name: str
    kind: str  # IAMUser, AssumedRole, FederatedUser, Root, AWSService, ...
    on_behalf_of: str | None = None


class UnexpectedShape(JanitorError, ValueError):
    """A CloudTrail record whose fields are not shaped the way CloudTrail writes them (a bad event, not a bug)."""


def created_resources(event_name: str, event_source: str, region: str, account: str,
                      request: dict[str, Any] | None, response: dict[str, Any] | None) -> list[Created]:
    """Every resource a successful creation call made (RunInstances can launch many). Unknown calls: none.
    Fields of another shape than CloudTrail's raise UnexpectedShape, naming the call."""
    try:
        return _created(event_name, region, account, request or {}, response or {})
    except (AttributeError, TypeError, KeyError) as exc:
        raise UnexpectedShape(f"{event_name}: requestParameters/responseElements are not shaped as CloudTrail "
                              f"writes them ({type(exc).__name__}: {exc})") from None


def _created(event_name: str, region: str, account: str, req: dict[str, Any], resp: dict[str, Any]) -> list[Created]:
    if event_name == "RunInstances":
        items = ((resp.get("instancesSet") or {}).get("items")) or []
        return [Created(make_arn("ec2", region, account, f"instance/{i['instanceId']}"), i["instanceId"],
                        "ec2:instance", region) for i in items if i.get("instanceId")]
    if event_name == "CreateVolume" and resp.get("volumeId"):
        return [Created(make_arn("ec2", region, account, f"volume/{resp['volumeId']}"), resp["volumeId"], "ec2:volume",
                        region)]
    if event_name == "CreateSnapshot" and resp.get("snapshotId"):
        return [Created(make_arn("ec2", region, "", f"snapshot/{resp['snapshotId']}"), resp["snapshotId"],
                        "ec2:snapshot", region)]
    if event_name == "CreateBucket" and req.get("bucketName"):
        return [Created(make_arn("s3", region, "", req["bucketName"]), req["bucketName"], "s3:bucket", region)]
    arn_keys = {"CreateNotebookInstance": ("notebookInstanceArn", "sagemaker:notebook-instance"),
                "CreateEndpoint": ("endpointArn", "sagemaker:endpoint"),
                "CreateTrainingJob": ("trainingJobArn", "sagemaker:training-job"),
                "CreateDBInstance": ("dBInstanceArn", "rds:db"),
                "CreateNodegroup": ("nodegroupArn", "eks:nodegroup")}
    if event_name in arn_keys:
        key, kind = arn_keys[event_name]
        arn = resp.get(key) or (resp.get("nodegroup") or {}).get(key)
        if arn:
            return [Created(str(arn), str(arn).rsplit("/", 1)[-1].rsplit(":", 1)[-1], kind, region)]
    return []


def creator_of(identity: dict[str, Any]) -> Creator:
    """IAM user → its name; assumed role → the session name (often an email); federated → its name; root;
    a service acting for someone (Auto Scaling) → the service, and the role it acted through."""
    try:
        return _creator(identity)
    except (AttributeError, TypeError, KeyError) as exc:
        raise UnexpectedShape(f"userIdentity is not shaped as CloudTrail writes it ({type(exc).__name__}: {exc})") \
            from None


# invokedBy values that are the person's own hands, not a service acting on its own: the console's sign-in, the
# console itself, CloudShell (the CLI in a browser) and the console's internal calls ("AWS Internal").
OWN_HANDS = frozenset({"signin.amazonaws.com", "console.amazonaws.com", "cloudshell.amazonaws.com", "AWS Internal"})


def _creator(identity: dict[str, Any]) -> Creator:
    kind = str(identity.get("type", "Unknown"))
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer")) or {}
    invoked_by = identity.get("invokedBy")
    if kind == "AWSService":
        return Creator(str(invoked_by or "aws-service"), kind)
    if kind == "IAMUser":
        principal, behalf = str(identity.get("userName") or identity.get("arn", "unknown")), None
    elif kind == "Root":
        principal, behalf = "root", None
    elif kind in ("AssumedRole", "FederatedUser"):
        principal = str(identity.get("principalId", "")).split(":", 1)[-1] or str(identity.get("arn", "unknown"))
        behalf = issuer.get("userName")
    else:
        principal, behalf = str(identity.get("arn") or identity.get("principalId") or "unknown"), None
    if invoked_by and str(invoked_by) not in OWN_HANDS and str(invoked_by).endswith(".amazonaws.com"):
        # a service acting on its own for the principal (Auto Scaling, CloudFormation, …)
        return Creator(str(invoked_by), kind, on_behalf_of=str(behalf or principal))
    return Creator(principal, kind, on_behalf_of=behalf)


@dataclass
class TagCheck:
    missing: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    wrong_case: dict[str, str] = field(default_factory=dict)  # required key → the key found

    @property
    def compliant(self) -> bool:
        return not self.missing and not self.invalid


def check_tags(tags: dict[str, str], policy: Policy) -> TagCheck:
    """Required keys present (a key differing only by case counts, with a warning) with allowed values."""
    result = TagCheck()
    folded = {k.casefold(): k for k in tags}
    for key, allowed in policy.tagging.required.items():
        actual = key if key in tags else folded.get(key.casefold())
        if actual is None or not tags[actual].strip():
            result.missing.append(key)
            continue
        if actual != key:
            result.wrong_case[key] = actual
        if allowed and tags[actual].strip().casefold() not in {a.casefold() for a in allowed}:
            result.invalid[key] = tags[actual]
    return result


def compliance_finding(resource: Created, tags: dict[str, str], creator: Creator, *, account: str, policy: Policy,
                       now: datetime, run_id: str) -> Finding:
    check = check_tags(tags, policy)
    needs_created_by = policy.tagging.created_by_tag not in tags
    notes = [f"tag key '{found}' should be '{key}' (accepted, but cost reports treat keys as case-sensitive)"
             for key, found in check.wrong_case.items()]
    parts = ([f"missing {', '.join(check.missing)}"] if check.missing else []) + [
        f"{k}={v!r} is not one of {policy.tagging.required[k]}" for k, v in check.invalid.items()]
    by = creator.name + (f" (for {creator.on_behalf_of})" if creator.on_behalf_of else "")
    action: ActionKind | Ask | None
    if needs_created_by:
        action = ActionKind.TAG_CREATED_BY
    elif not check.compliant:
        action = Ask.FIX_TAGS
    else:
        action = None
    who = policy.ownership(tags)
    who["owner"] = who["owner"] or (creator.name if "@" in creator.name else None)
    return Finding(
        kind=KIND, resource_id=resource.resource_id, resource_arn=resource.arn, resource_type=resource.resource_type,
        account=account, region=resource.region, **who,
        verdict=Verdict.COMPLIANT if check.compliant else Verdict.NON_COMPLIANT,
        reason=(f"created by {by}: " + "; ".join(parts)) if parts else f"created by {by}: all cost tags present",
        evidence={"created_by": creator.name, "creator_type": creator.kind, "missing": ",".join(check.missing),
                  "invalid": ",".join(check.invalid)},
        notes=tuple(notes), action=action, action_status="planned" if isinstance(action, ActionKind) else None,
        severity="info" if check.compliant else "low", run_id=run_id, observed_at=now)


@dataclass(frozen=True)
class Coverage:
    resources: int
    by_key: dict[str, float]
    by_team: dict[str, float]
    by_type: dict[str, float]
    top_untagged: list[tuple[str, str, float | None]]  # (arn, missing keys, monthly USD where known)


def coverage(resources: list[tuple[str, dict[str, str]]], policy: Policy,
             monthly_usd: dict[str, float | None] | None = None, *, top: int = 10) -> Coverage:
    """Share of resources carrying each required key (valid value), per team and per resource type (all keys)."""
    total = len(resources) or 1
    by_key = {k: round(100 * sum(1 for _, t in resources if k not in check_tags(t, policy).missing
                                 and k not in check_tags(t, policy).invalid) / total, 1)
              for k in policy.tagging.required}
    team_ok: dict[str, list[bool]] = defaultdict(list)
    type_ok: dict[str, list[bool]] = defaultdict(list)
    untagged = []
    for arn, tags in resources:
        check = check_tags(tags, policy)
        team_ok[tags.get(policy.tagging.team_tag, "(no team)")].append(check.compliant)
        type_ok[_type_of(arn)].append(check.compliant)
        if not check.compliant:
            untagged.append((arn, ",".join(check.missing + list(check.invalid)), (monthly_usd or {}).get(arn)))
    untagged.sort(key=lambda u: -(u[2] or 0))
    pct = {k: round(100 * sum(v) / len(v), 1) for k, v in team_ok.items()}
    return Coverage(len(resources), by_key, pct, {k: round(100 * sum(v) / len(v), 1) for k, v in type_ok.items()},
                    untagged[:top])


def _type_of(arn: str) -> str:
    parts = arn.split(":", 5)
    service, resource = parts[2], parts[5] if len(parts) > 5 else ""
    kind = resource.split("/", 1)[0] if "/" in resource else ("bucket" if service == "s3" else resource.split(":")[0])
    return f"{service}:{kind}"
