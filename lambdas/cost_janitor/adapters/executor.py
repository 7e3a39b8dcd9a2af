"""Action → API call. Dry-run goes through the same calls with DryRun=True; one failure never stops the batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.models import ActionKind, ActionResult, Finding
from cost_janitor.core.policy import Policy
from cost_janitor.observability import audit

BATCH = 100


Api = Callable[..., None]


@dataclass(frozen=True)
class _Call:
    permissions: tuple[str, ...]
    run: Callable[[Any, Api, list[str], Policy, datetime], None]


def _stop(ec2: Any, api: Api, ids: list[str], policy: Policy, *, hibernate: bool) -> None:
    """Remove the idle mark first, then stop: if the owner restarts it, the next idle spell is announced afresh.
    (If the stop fails after the unmark, the box is marked and announced again: the safe direction.)"""
    api(ec2.delete_tags, Resources=ids, Tags=[{"Key": policy.exemptions.idle_since_tag}])
    api(ec2.stop_instances, InstanceIds=ids, **({"Hibernate": True} if hibernate else {}))


# Adding an action: one ActionKind member, one entry here (its calls and the IAM actions they need), a test.
EXECUTORS: dict[ActionKind, _Call] = {
    ActionKind.MARK_IDLE: _Call(("ec2:CreateTags",), lambda ec2, api, ids, policy, now: api(
        ec2.create_tags, Resources=ids,
        Tags=[{"Key": policy.exemptions.idle_since_tag, "Value": now.isoformat(timespec="seconds")}])),
    ActionKind.UNMARK_IDLE: _Call(("ec2:DeleteTags",), lambda ec2, api, ids, policy, now: api(
        ec2.delete_tags, Resources=ids, Tags=[{"Key": policy.exemptions.idle_since_tag}])),
    ActionKind.STOP: _Call(("ec2:DeleteTags", "ec2:StopInstances"),
                           lambda ec2, api, ids, policy, now: _stop(ec2, api, ids, policy, hibernate=False)),
    ActionKind.HIBERNATE: _Call(("ec2:DeleteTags", "ec2:StopInstances"),
                                lambda ec2, api, ids, policy, now: _stop(ec2, api, ids, policy, hibernate=True)),
}


def permissions(kinds: Sequence[ActionKind]) -> list[str]:
    """The IAM actions the given kinds need (the construct grants exactly these)."""
    return sorted({p for k in kinds for p in EXECUTORS[k].permissions})


class Executor:
    def __init__(self, ec2_for_region: Callable[[str], Any], *, dry_run: bool) -> None:
        self._ec2 = ec2_for_region
        self.dry_run = dry_run

    def execute(self, findings: Sequence[Finding], policy: Policy, *, now: datetime) -> list[Finding]:
        """Carry out every planned action; return the findings with their action's outcome filled in."""
        groups: dict[tuple[str, ActionKind], list[Finding]] = {}
        for f in findings:
            if isinstance(f.action, ActionKind) and f.action_status == "planned":
                groups.setdefault((f.region, f.action), []).append(f)
        results: dict[tuple[str, ActionKind], ActionResult] = {}
        for (region, kind), group in groups.items():
            ec2 = self._ec2(region)
            ids = [f.resource_id for f in group]
            for start in range(0, len(ids), BATCH):
                for result in self._run(ec2, kind, region, ids[start:start + BATCH], policy, now):
                    results[(result.resource_id, kind)] = result
        out = []
        for f in findings:
            outcome = results.get((f.resource_id, f.action)) if isinstance(f.action, ActionKind) else None
            if outcome is None:
                out.append(f)
                continue
            done = f.model_copy(update={"action_status": outcome.status, "action_error": outcome.error_code})
            audit(outcome, done, dry_run=self.dry_run)
            out.append(done)
        return out

    def _run(self, ec2: Any, kind: ActionKind, region: str, ids: list[str], policy: Policy,
             now: datetime) -> list[ActionResult]:
        """Try the batch in one call; if it fails, try each resource alone so one bad apple fails alone."""
        outcome = self._call(ec2, kind, ids, policy, now)
        if outcome is None or len(ids) == 1:
            return [self._result(kind, region, i, outcome) for i in ids]
        return [self._result(kind, region, i, self._call(ec2, kind, [i], policy, now)) for i in ids]

    def _call(self, ec2: Any, kind: ActionKind, ids: list[str], policy: Policy, now: datetime) -> ClientError | None:
        try:
            EXECUTORS[kind].run(ec2, self._api, ids, policy, now)
        except ClientError as exc:
            return exc
        return None

    def _api(self, method: Callable[..., Any], **kwargs: Any) -> None:
        """Every mutating call goes out with DryRun; in dry-run, EC2's DryRunOperation means 'would succeed'."""
        try:
            method(DryRun=self.dry_run, **kwargs)
        except ClientError as exc:
            if not (self.dry_run and exc.response["Error"]["Code"] == "DryRunOperation"):
                raise

    def _result(self, kind: ActionKind, region: str, resource_id: str, error: ClientError | None) -> ActionResult:
        if error is None:
            return ActionResult(kind=kind, resource_id=resource_id, region=region,
                                status="dry-run" if self.dry_run else "done")
        return ActionResult(kind=kind, resource_id=resource_id, region=region, status="failed",
                            error_code=error.response["Error"]["Code"],
                            message=error.response["Error"].get("Message", "")[:500])
