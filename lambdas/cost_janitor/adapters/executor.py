"""Action → API call. Dry-run goes through the same calls with DryRun=True where the API has it and only logs
the planned call where it does not; one failure never stops the batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.models import ActionKind, ActionResult, Finding
from cost_janitor.core.policy import Policy
from cost_janitor.core.storage import BucketLifecycle
from cost_janitor.observability import audit

BATCH = 100
Api = Callable[..., Any]


@dataclass(frozen=True)
class Run:
    """What an executor function may use besides its client: the policy, the time, and per-resource data."""

    policy: Policy
    now: datetime
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Call:
    service: str
    permissions: tuple[str, ...]
    run: Callable[[Any, Api, list[Finding], Run], None]
    dry_run_supported: bool = True  # the API has DryRun; False: in dry-run the call is logged as planned, not made
    batch: bool = True  # False: one resource per call (APIs without multi-resource requests)
    always: bool = False  # an owner's explicit answer: made in dry-run too (it only ever makes the janitor do less)


def each(call: Callable[[Any, Api, Finding, Run], Any]) -> Callable[[Any, Api, list[Finding], Run], None]:
    """An executor function for APIs that take one resource per call."""

    def run(client: Any, api: Api, findings: list[Finding], r: Run) -> None:
        for f in findings:
            call(client, api, f, r)

    return run


def ids(findings: list[Finding]) -> list[str]:
    return [f.resource_id for f in findings]


def _checkpoint(ssm: Any, api: Api, findings: list[Finding], policy: Policy) -> None:
    """Run each instance's checkpoint command (from its tag or the policy) through SSM Run Command."""
    by_command: dict[str, list[str]] = {}
    for f in findings:
        by_command.setdefault(str(f.evidence.get("checkpoint_command") or policy.spot.checkpoint_command),
                              []).append(f.resource_id)
    for command, ids in by_command.items():
        api(ssm.send_command, InstanceIds=ids, DocumentName="AWS-RunShellScript", TimeoutSeconds=30,
            Comment="cost-janitor: spot interruption warning, checkpoint now",
            Parameters={"commands": [command], "executionTimeout": ["100"]})


def _snapshot(ec2: Any, api: Api, f: Finding, run: Run) -> None:
    """Snapshot first (deleted only on a later run, once the snapshot is complete); the volume names its snapshot."""
    snapshot = api(ec2.create_snapshot, VolumeId=f.resource_id,
                   Description=f"cost-janitor: before deleting unattached volume {f.resource_id}",
                   TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                       {"Key": "cost-janitor:from-volume", "Value": f.resource_id}]}])
    if snapshot:  # not in dry-run
        api(ec2.create_tags, Resources=[f.resource_id],
            Tags=[{"Key": run.policy.storage.snapshot_tag, "Value": snapshot["SnapshotId"]}])

def _put_lifecycle(s3: Any, api: Api, f: Finding, run: Run) -> None:
    """The merged rules, with the bucket's default minimum object size carried through: left out, S3 would reset
    it to all_storage_classes_128K."""
    config: BucketLifecycle = run.payload[f.resource_id]
    size = {"TransitionDefaultMinimumObjectSize": config.min_object_size} if config.min_object_size else {}
    api(s3.put_bucket_lifecycle_configuration, Bucket=f.resource_id, LifecycleConfiguration={"Rules": config.rules},
        **size)


# The janitor's own actions (storage, spot, tags, the owners' answers); a resource family's actions live in its module
# (families/). Adding one: an ActionKind member, its entry (its calls and the IAM actions they need), a test.
EXECUTORS: dict[ActionKind, Call] = {
    ActionKind.CHECKPOINT: Call("ssm", ("ssm:SendCommand",),
                                 lambda ssm, api, fs, r: _checkpoint(ssm, api, fs, r.policy), dry_run_supported=False),
    ActionKind.PUT_LIFECYCLE: Call("s3", ("s3:PutLifecycleConfiguration",), each(_put_lifecycle),
                                    dry_run_supported=False, batch=False),
    ActionKind.MARK_UNATTACHED: Call("ec2", ("ec2:CreateTags",), lambda ec2, api, fs, r: api(
        ec2.create_tags, Resources=ids(fs),
        Tags=[{"Key": r.policy.storage.unattached_since_tag, "Value": r.now.isoformat(timespec="seconds")}])),
    ActionKind.SNAPSHOT_VOLUME: Call("ec2", ("ec2:CreateSnapshot", "ec2:CreateTags"), each(_snapshot),
                                      batch=False),
    ActionKind.DELETE_VOLUME: Call("ec2", ("ec2:DeleteVolume",), each(lambda ec2, api, f, r: api(
        ec2.delete_volume, VolumeId=f.resource_id)), batch=False),
    ActionKind.SET_LOG_RETENTION: Call("logs", ("logs:PutRetentionPolicy",), each(lambda logs, api, f, r: api(
        logs.put_retention_policy, logGroupName=f.resource_id,
        retentionInDays=r.policy.storage.log_retention_days)), dry_run_supported=False, batch=False),
    ActionKind.TAG_CREATED_BY: Call("resourcegroupstaggingapi", ("tag:TagResources",),
                                     each(lambda tagging, api, f, r: _tag(tagging, api, f.resource_arn, {
                                         r.policy.tagging.created_by_tag: str(f.evidence.get("created_by"))})),
                                     dry_run_supported=False, batch=False),
    # The owner's answers write the tags their answer is (payload: resource id → tags), on any service.
    **{kind: Call("resourcegroupstaggingapi", ("tag:TagResources",), each(
        lambda tagging, api, f, r: _tag(tagging, api, f.resource_arn, r.payload[f.resource_id])),
        dry_run_supported=False, batch=False, always=True)
       for kind in (ActionKind.KEEP, ActionKind.SNOOZE, ActionKind.REASSIGN, ActionKind.SET_TAGS)},
}


def _tag(tagging: Any, api: Api, arn: str, tags: dict[str, str]) -> None:
    """The Resource Groups Tagging API adds tags (it never replaces a resource's other tags) on any service;
    it reports per-resource failures in a map, which become errors here."""
    failed = (api(tagging.tag_resources, ResourceARNList=[arn], Tags=tags) or {}).get("FailedResourcesMap") or {}
    if arn in failed:
        raise ClientError({"Error": {"Code": str(failed[arn].get("ErrorCode", "TagFailed")),
                                     "Message": str(failed[arn].get("ErrorMessage", ""))}}, "TagResources")


def own_call(kind: ActionKind, resource_type: str) -> Call:
    """The janitor's own call for an action (families.call_for adds the resource families' calls)."""
    if kind not in EXECUTORS:
        raise KeyError(f"no executor for {kind} on {resource_type or 'a resource of unknown type'}")
    return EXECUTORS[kind]


class Executor:
    def __init__(self, client_for: Callable[[str, str], Any], *, dry_run: bool,
                 calls: Callable[[ActionKind, str], Call] = own_call) -> None:
        """client_for(service, region) → a boto3 client (adapters.clients.client); calls(kind, resource_type) → how
        the action is carried out (families.call_for where resource families' actions may come)."""
        self._client = client_for
        self._calls = calls
        self.dry_run = dry_run

    def execute(self, findings: Sequence[Finding], policy: Policy, *, now: datetime,
                payload: Mapping[str, Any] | None = None) -> list[Finding]:
        """Carry out every planned action; return the findings with their action's outcome filled in.
        `payload` carries per-resource data an action needs (a bucket's merged lifecycle rules)."""
        run = Run(policy, now, payload or {})
        groups: dict[tuple[str, ActionKind, str], list[Finding]] = {}
        for f in findings:
            if isinstance(f.action, ActionKind) and f.action_status == "planned":
                groups.setdefault((f.region, f.action, f.resource_type), []).append(f)
        results: dict[tuple[str, ActionKind], ActionResult] = {}
        for (region, kind, resource_type), group in groups.items():
            call = self._calls(kind, resource_type)
            api_client = self._client(call.service, region)
            size = BATCH if call.batch else 1
            for start in range(0, len(group), size):
                for result in self._run(api_client, kind, call, region, group[start:start + size], run):
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

    def _run(self, api_client: Any, kind: ActionKind, call: Call, region: str, group: list[Finding],
             run: Run) -> list[ActionResult]:
        """Try the batch in one call; if it fails, try each resource alone so one bad apple fails alone."""
        if self.dry_run and not call.dry_run_supported and not call.always:
            return [self._result(kind, call, region, f.resource_id, None) for f in group]  # planned, logged by audit
        outcome = self._call(api_client, call, group, run)
        if outcome is None or len(group) == 1:
            return [self._result(kind, call, region, f.resource_id, outcome) for f in group]
        return [self._result(kind, call, region, f.resource_id, self._call(api_client, call, [f], run))
                for f in group]

    def _call(self, api_client: Any, call: Call, group: list[Finding], run: Run) -> ClientError | None:
        def api(method: Callable[..., Any], **kwargs: Any) -> Any:
            """EC2 calls go out with DryRun; in dry-run, EC2's DryRunOperation means 'would succeed'."""
            try:
                return method(DryRun=self.dry_run, **kwargs) if call.dry_run_supported else method(**kwargs)
            except ClientError as exc:
                if not (self.dry_run and exc.response["Error"]["Code"] == "DryRunOperation"):
                    raise
            return None

        try:
            call.run(api_client, api, group, run)
        except ClientError as exc:
            return exc
        return None

    def _result(self, kind: ActionKind, call: Call, region: str, resource_id: str,
                error: ClientError | None) -> ActionResult:
        if error is None:
            return ActionResult(kind=kind, resource_id=resource_id, region=region,
                                status="dry-run" if self.dry_run and not call.always else "done")
        return ActionResult(kind=kind, resource_id=resource_id, region=region, status="failed",
                            error_code=error.response["Error"]["Code"],
                            message=error.response["Error"].get("Message", "")[:500])
