"""ECR repositories (core/ecr.py): old untagged images and images nobody pulls. The janitor's one rule (expire untagged
images after `ecr.untagged_expire_days`) is merged into a dev repository's lifecycle policy only with the opt-in
(ecr.put_lifecycle_policies), after a mark and the grace period, made again on the policy as it is just before; prod
is asked; tagged images are reported, never expired by the janitor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.ecr import EcrInventory
from cost_janitor.adapters.executor import Api, Call, Run, each
from cost_janitor.core.ecr import (
    REPOSITORY_TYPE,
    STORAGE_GB_MONTH,
    classify_repository,
    policy_to_put,
    recheck_repository,
    what_happens,
)
from cost_janitor.core.models import ActionKind, Finding, FindingKind, LedgerRecord
from cost_janitor.core.policy import Policy
from cost_janitor.core.report import storage_digest
from cost_janitor.families import Arn, Family, Grant, Night, counted, dev_only, only_tag_keys

REPOSITORIES = Arn("ecr", "repository")


def _put(ecr: Any, api: Api, f: Finding, r: Run) -> None:
    """The merged policy (the team's rules unchanged), then the mark removed."""
    api(ecr.put_lifecycle_policy, repositoryName=f.resource_id, lifecyclePolicyText=policy_to_put(f))
    api(ecr.untag_resource, resourceArn=f.resource_arn, tagKeys=[r.policy.exemptions.idle_since_tag])


class Ecr:
    name = "ecr"
    service = "ecr"
    resource_types = (REPOSITORY_TYPE,)
    rechecked = (ActionKind.SET_ECR_LIFECYCLE,)
    answered = (REPOSITORIES,)
    actions = {
        ActionKind.MARK_IDLE: Call("ecr", ("ecr:TagResource",), each(lambda ecr, api, f, r: api(
            ecr.tag_resource, resourceArn=f.resource_arn, tags=[{
                "Key": r.policy.exemptions.idle_since_tag, "Value": r.now.isoformat(timespec="seconds")}])),
            dry_run_supported=False, batch=False),
        ActionKind.UNMARK_IDLE: Call("ecr", ("ecr:UntagResource",), each(lambda ecr, api, f, r: api(
            ecr.untag_resource, resourceArn=f.resource_arn, tagKeys=[r.policy.exemptions.idle_since_tag])),
            dry_run_supported=False, batch=False),
        ActionKind.SET_ECR_LIFECYCLE: Call("ecr", ("ecr:PutLifecyclePolicy", "ecr:UntagResource"), each(_put),
                                           dry_run_supported=False, batch=False),
    }

    def read(self, region: str, night: Night) -> list[Finding]:
        inventory = EcrInventory(client("ecr", region), region, own_account())
        with counted(night, inventory.calls, prefix="ecr:"):
            repositories = inventory.repositories()
        rates = night.rates(region, ["ecr:storage"] if repositories else [], offline=STORAGE_GB_MONTH)
        return [classify_repository(r, night.policy, now=night.now, run_id=night.run_id, rates=rates)
                for r in repositories]

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """Each repository about to get the rule: its tags and lifecycle policy read again (not its images)."""
        inventory = EcrInventory(client("ecr", region), region, own_account())
        with counted(night, inventory.calls, prefix="ecr:", suffix=" (re-check)"):
            current = {r.name: r for r in inventory.repositories([f.resource_id for f in planned], images=False)}
        return [recheck_repository(f, current.get(f.resource_id), night.policy, now=night.now) for f in planned]

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing: the policy before is in the finding's evidence and the ledger (the way back for the rules)."""

    def grants(self, policy: Policy) -> list[Grant]:
        dev, idle_key = dev_only(policy), only_tag_keys(policy.exemptions.idle_since_tag)
        grants = [
            Grant("ReadEcr", ("ecr:DescribeRepositories", "ecr:DescribeImages", "ecr:GetLifecyclePolicy",
                              "ecr:ListTagsForResource"), (REPOSITORIES,),
                  why="ECR repositories of the policy's regions: reads"),
            Grant("EcrPrices", ("pricing:GetProducts",), why="the Price List API has no resource-level permissions"),
            Grant("MarkOnlyDevRepositories", ("ecr:TagResource",), (REPOSITORIES,), {**dev, **idle_key},
                  why="ECR repositories of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("UnmarkRepositories", ("ecr:UntagResource",), (REPOSITORIES,), idle_key),
            Grant("NeverDeleteEcr", ("ecr:BatchDeleteImage", "ecr:DeleteRepository", "ecr:DeleteLifecyclePolicy"),
                  deny=True),
        ]
        if policy.ecr.put_lifecycle_policies:
            grants.append(Grant("MergeLifecycleDevRepositoriesOptIn", ("ecr:PutLifecyclePolicy",), (REPOSITORIES,),
                                dev))
        return grants

    def says(self, finding: Finding) -> str | None:
        return what_happens(finding)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return storage_digest(entries, kind=FindingKind.ECR, label="ECR", now=now)


FAMILY: Family = Ecr()
