"""cdk.json context → validated settings. A bad value stops `cdk synth` with a message naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cost_janitor.core.policy import Policy, PolicyError, load_policy, merge_overrides
from cost_janitor.resources import HUB_BUS_NAME

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ROOT = ROOT / "lambdas"
DEPS_LAYER = ROOT / "build" / "deps-layer"
# EventBridge quotas, "Event bus policy size": 10,240 characters per bus (adjustable).
EVENT_BUS_POLICY_CHARS = 10_240
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653)  # CloudWatch Logs' allowed values (infra.janitor_function.RETENTION)


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    account: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


class Member(Target):
    """A member account: its stack's region, and what of the one policy is its own — the regions it sweeps (its
    boxes may be nowhere near the policy's), and any other policy field, deep-merged like `policy_overrides`."""

    regions: list[str] | None = None
    policy_overrides: dict[str, Any] = Field(default_factory=dict)

    def overrides(self) -> dict[str, Any]:
        return {**self.policy_overrides, **({"regions": self.regions} if self.regions is not None else {})}


class Organization(BaseModel):
    """Organization mode: one hub stack (Slack, notifier, answers, digest — and the hub account's own sweep) and one
    member stack per other account. `cdk deploy --all` rolls them out (each account bootstrapped to trust the
    deploying one)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hub: Target
    members: list[Member] = Field(min_length=1)
    # Admit the whole organization with one aws:PrincipalOrgID statement instead of one statement per member: the
    # per-member policy passes EventBridge's "Event bus policy size" quota (10,240 characters, adjustable) at about
    # 50 members. The hub's rule still hears only the listed members.
    org_id: str | None = Field(None, pattern=r"^o-[a-z0-9]{10,32}$")

    @field_validator("members")
    @classmethod
    def _one_stack_per_account(cls, v: list[Member]) -> list[Member]:
        accounts = [t.account for t in v]
        twice = sorted({a for a in accounts if accounts.count(a) > 1})
        if twice:
            raise ValueError(f"one member stack per account (it sweeps the policy's regions): {', '.join(twice)} "
                             "listed more than once")
        return v

    def bus_policy_size(self) -> int:
        """How long the hub bus's policy is, in characters, as EventBridge counts it (the JSON document)."""
        bus = f"arn:aws:events:{self.hub.region}:{self.hub.account}:event-bus/{HUB_BUS_NAME}"
        statements = [{"Sid": f"Member{a}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:root"},
                       "Action": "events:PutEvents", "Resource": bus} for a in self.member_accounts()] \
            if self.org_id is None else [{"Sid": "Organization", "Effect": "Allow", "Principal": "*",
                                          "Action": "events:PutEvents", "Resource": bus, "Condition": {
                                              "StringEquals": {"aws:PrincipalOrgID": self.org_id}}}]
        return len(json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":")))

    def member_accounts(self) -> list[str]:
        """Accounts the hub answers for: every member but the hub's own (the hub acts there itself)."""
        return [t.account for t in self.members if t.account != self.hub.account]


class StackSettings(BaseModel):
    """Everything cdk.json context (and -c overrides) may set."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    policy: Policy
    targets: list[Target] = Field(default_factory=list)
    log_retention_days: int = 90
    ops_email: str | None = None
    # The Slack endpoint is a public URL (auth NONE): reserved concurrency caps what a flood of unsigned requests
    # can cost or take from the account's other functions. Slack sends a click at a time; 5 is plenty.
    # 0: no reservation. Lambda keeps at least 100 of the account's concurrency unreserved, so an account whose limit
    # is low (new accounts often have 10) cannot reserve any: `cost-janitor preflight` says so before the deploy.
    slack_reserved_concurrency: int = Field(5, ge=0, le=100)
    organization: Organization | None = None

    def policy_for(self, account: str) -> Policy:
        """The policy a member's stack deploys: the one policy with that member's own overrides (validated at
        load_settings, so this cannot fail later)."""
        member = next((m for m in self.organization.members if m.account == account), None) \
            if self.organization else None
        if member is None or not member.overrides():
            return self.policy
        return load_policy(merge_overrides(self.policy.model_dump(mode="json"), member.overrides()))

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if v not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of CloudWatch Logs' values {LOG_RETENTION_DAYS}")
        return v


class SettingsError(ValueError):
    """Bad context; the message is what `cdk synth` prints."""


def _json_context(raw: Any, name: str) -> Any:
    """`-c key=value` arrives as a string; cdk.json values arrive parsed."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"context {name!r} is not valid JSON: {exc}") from None
    return raw


def load_settings(context: dict[str, Any]) -> StackSettings:
    """Validate the context: the policy (with `policy_overrides` deep-merged in) and the stack's own knobs."""
    policy_raw = _json_context(context.get("policy") or {}, "policy")
    overrides = _json_context(context.get("policy_overrides") or {}, "policy_overrides")
    if not isinstance(policy_raw, dict) or not isinstance(overrides, dict):
        raise SettingsError("context 'policy' and 'policy_overrides' must be JSON objects")
    try:
        policy = load_policy(merge_overrides(policy_raw, overrides))
    except PolicyError as exc:
        raise SettingsError(str(exc)) from None
    raw = {k: _json_context(context[k], k) for k in ("targets", "log_retention_days",
                                                     "ops_email", "slack_reserved_concurrency", "organization")
           if context.get(k) is not None}
    if raw.get("targets") and raw.get("organization"):
        raise SettingsError("context 'targets' and 'organization' exclude each other: an organization lists its hub "
                            "and members itself")
    try:
        settings = StackSettings(policy=policy, **raw)
    except ValidationError as exc:
        lines = [f"  context.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SettingsError("invalid cost-janitor context:\n" + "\n".join(lines)) from None
    org = settings.organization
    if org is not None and org.bus_policy_size() > EVENT_BUS_POLICY_CHARS:
        raise SettingsError(
            f"the hub bus policy for {len(org.member_accounts())} member accounts would be {org.bus_policy_size():,} "
            f"characters, over EventBridge's event bus policy size quota ({EVENT_BUS_POLICY_CHARS:,}): set "
            "organization.org_id to admit your AWS Organization with one aws:PrincipalOrgID statement (or raise "
            "the quota in Service Quotas and say so here)")
    for i, member in enumerate(settings.organization.members if settings.organization else []):
        try:
            settings.policy_for(member.account)
        except PolicyError as exc:
            raise SettingsError(f"context.organization.members[{i}] ({member.account}): {exc}") from None
    return settings


def load_cdk_json_context(path: Path = ROOT / "cdk.json") -> dict[str, Any]:
    """cdk.json's context, for tests and tools that build an App without the CLI."""
    context: dict[str, Any] = json.loads(path.read_text())["context"]
    return context


def policy_json(policy: Policy) -> str:
    """The SSM parameter value: compact, stable key order (so a redeploy without change is a no-op)."""
    return json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


