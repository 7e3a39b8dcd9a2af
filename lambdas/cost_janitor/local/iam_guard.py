"""The emulator does not evaluate IAM, so a call a Lambda's role forbids passes every test and fails on AWS. This
guard holds each AWS call a handler makes to the policy its role has in the synthesized template, as AWS would:
a call the role does not allow is answered `AccessDenied` (a botocore ClientError, like AWS's) and recorded, so the
test fails even where the code swallows the refusal.

How a call finds its role: a `cost_janitor.handlers.<name>.lambda_handler` frame on the calling thread's stack names
the function (the template's `Handler`); the call's access key names the account (the emulator's default account,
or one entered with STS AssumeRole), and that account's stack (as deployed with `deploy_janitor_resources`, and
`deploy_hub_bus` / `deploy_member_bus` in organization mode) is synthesized with the policy it was deployed with.
Credentials from an AssumeRole of a role the template names (the hub's answers assuming a member's
`cost-janitor-member-answers`) are held to that role. Calls with no handler on the stack (the tests' own setup, the
CLI, the demo) are not checked.

Modelled: identity policies (AWS::IAM::Policy on the role, and the managed overflow policies CDK adds past the
inline size limit), Allow and Deny by action with wildcards, an explicit
Deny winning; `sts:AssumeRole` also by the role ARN. Not modelled (the README's IAM section says so too): resource
ARNs of other actions (a statement's resources are taken to match), conditions (an Allow with conditions is taken
to apply, a Deny with conditions is not), resource policies (bucket, key, queue, topic, bus), permission
boundaries and SCPs, and the permissions AWS checks behind a call (kms:GenerateDataKey behind an SNS publish to an
encrypted topic, iam:PassRole)."""

from __future__ import annotations

import fnmatch
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from cost_janitor.core.policy import Policy
from cost_janitor.resources import MEMBER_ROLE_NAME

HANDLERS = "cost_janitor.handlers."
HARNESS = "_cost_janitor_harness"  # set on the emulator's own clients (LocalAws.client): the test world, unchecked
_NAMED = (MEMBER_ROLE_NAME,)  # roles assumed across accounts: held to their account's deployment
CAPABILITIES = "cost_janitor.capabilities."
# the capabilities a function runs, each named as its function (restore is also run by the CLI with a person's
# credentials: only its Slack path, inside answers, is a Lambda's)
FUNCTIONS = frozenset({"idle_sweep", "storage_lifecycle", "spot_interruption", "report", "notifier", "answers",
                       "tag_compliance", "slack_interactivity"})

# The IAM service prefix where it is not the API's signing name (Service Authorization Reference).
_PREFIX = {"cloudwatch": "cloudwatch", "resourcegroupstaggingapi": "tag"}
# API operations whose IAM action has another name (Service Authorization Reference, "Actions defined by Amazon S3").
_ACTION = {
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
}
# The error code each service answers a refused call with (its API reference's "Common Errors").
_DENIED = {"ec2": "UnauthorizedOperation", "sagemaker": "AccessDeniedException", "dynamodb": "AccessDeniedException",
           "secretsmanager": "AccessDeniedException", "ssm": "AccessDeniedException", "logs": "AccessDeniedException",
           "ce": "AccessDeniedException", "kms": "AccessDeniedException", "events": "AccessDeniedException",
           "eks": "AccessDeniedException", "elasticfilesystem": "AccessDeniedException",
           "ecr": "AccessDeniedException", "fsx": "AccessDeniedException",
           "rbin": "AccessDeniedException",
           "sns": "AuthorizationError"}
# Needs no permission (STS: "No permissions are required to perform this operation").
_FREE = {"sts:GetCallerIdentity"}


def iam_action(client: Any, operation: str) -> str:
    """The IAM action AWS checks for this client's operation."""
    model = client.meta.service_model
    prefix = _PREFIX.get(model.service_name, model.signing_name)
    return _ACTION.get((prefix, operation), f"{prefix}:{operation}")


@dataclass(frozen=True)
class RolePolicy:
    """One role's identity-policy statements, as synthesized."""

    name: str
    statements: tuple[dict[str, Any], ...]

    def allows(self, action: str, resource: str | None = None) -> bool:
        def matches(statement: dict[str, Any]) -> bool:
            actions = statement.get("Action", [])
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _list(actions)):
                return False
            if resource is None:
                return True
            return any(fnmatch.fnmatchcase(resource, r) for r in _list(statement.get("Resource", "*")))

        if any(s["Effect"] == "Deny" and "Condition" not in s and matches(s) for s in self.statements):
            return False
        return any(s["Effect"] == "Allow" and matches(s) for s in self.statements)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolve(value: Any, account: str, region: str) -> str:
    """A template string (Fn::Join / Ref of the pseudo parameters) as text; what cannot be resolved matches any."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(_resolve(p, account, region) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return {"AWS::Partition": "aws", "AWS::AccountId": account, "AWS::Region": region,
                "AWS::URLSuffix": "amazonaws.com"}.get(value["Ref"], "*")
    return "*"


def roles_of(template: dict[str, Any], *, account: str, region: str = "us-east-1") -> tuple[
        dict[str, RolePolicy], dict[str, RolePolicy]]:
    """(handler → its function's role, role name → role for the roles the template names)."""
    resources = template["Resources"]
    statements: dict[str, list[dict[str, Any]]] = {}
    for body in resources.values():
        if body["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):  # CDK's overflow: managed policies
            for attached in body["Properties"].get("Roles", []):
                for s in body["Properties"]["PolicyDocument"]["Statement"]:
                    resolved = {**s, "Resource": [_resolve(r, account, region) for r in _list(s.get("Resource", "*"))]}
                    statements.setdefault(attached["Ref"], []).append(resolved)

    def role(logical_id: str) -> RolePolicy:
        return RolePolicy(logical_id, tuple(statements.get(logical_id, [])))

    by_handler = {body["Properties"]["Handler"].removesuffix(".lambda_handler"):
                  role(body["Properties"]["Role"]["Fn::GetAtt"][0])
                  for body in resources.values() if body["Type"] == "AWS::Lambda::Function"}
    named = {body["Properties"]["RoleName"]: role(logical_id) for logical_id, body in resources.items()
             if body["Type"] == "AWS::IAM::Role" and isinstance(body["Properties"].get("RoleName"), str)}
    return by_handler, named


@dataclass
class Deployment:
    """What was deployed in one account: its policy and, in organization mode, its part."""

    policy: Policy
    kind: str = "single"  # single | hub | member
    hub: str = ""
    members: tuple[str, ...] = ()


@dataclass
class Refusal:
    role: str
    action: str
    account: str

    def __str__(self) -> str:
        return f"{self.role} in {self.account} may not {self.action}"


@dataclass
class Guard:
    """The installed check: the deployments of the running test and the refusals it met."""

    default_account: str
    synthesize: Callable[[str, Deployment], dict[str, Any]]  # (account, deployment) → that account's template
    deployments: dict[str, Deployment] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    checked: int = 0
    withheld: set[str] = field(default_factory=set)  # actions taken out of every role (a test of a missing grant)
    _assumed: dict[str, str] = field(default_factory=dict)  # access key → role ARN
    _synths: dict[str, tuple[dict[str, RolePolicy], dict[str, RolePolicy]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.deployments.clear()
        self.refusals.clear()
        self._assumed.clear()
        self.withheld.clear()
        self.checked = 0

    def deployed(self, account: str, policy: Policy) -> None:
        self.deployments.setdefault(account, Deployment(policy)).policy = policy

    def organization(self, hub: str, members: list[str]) -> None:
        """The hub bus admits `members`: the hub's account runs the hub stack, each member a member stack."""
        for account in members:
            d = self.deployments.setdefault(account, Deployment(Policy()))
            d.kind, d.hub, d.members = "member", hub, (account,)
        d = self.deployments.setdefault(hub, Deployment(Policy()))
        d.kind, d.hub, d.members = "hub", hub, tuple(members)

    # -- the check ---------------------------------------------------------------------------------------------
    def check(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        if getattr(client, HARNESS, False):
            return  # the test world acting (the emulator's own clients), not a Lambda
        handler, policy = _handler_on_stack()
        if handler is None:
            return
        key = _access_key(client)
        role_arn = self._assumed.get(key or "")
        account = role_arn.split(":")[4] if role_arn else self.default_account
        role_name = role_arn.rsplit("/", 1)[-1] if role_arn else ""
        by_handler, named = self._roles(account, None if role_name in _NAMED else policy)
        role = named.get(role_name) or by_handler.get(handler)
        action = iam_action(client, operation)
        self.checked += 1
        if action in _FREE:
            return
        resource = str(params.get("RoleArn")) if action == "sts:AssumeRole" else None
        if role is not None and action not in self.withheld and role.allows(action, resource):
            return
        refusal = Refusal(f"{handler} ({role.name if role else 'no such function in this stack'})",
                          action + (f" on {resource}" if resource else ""), account)
        self.refusals.append(refusal)
        code = _DENIED.get(action.split(":")[0], "AccessDenied")
        raise ClientError({"Error": {"Code": code, "Message": f"User is not authorized to perform: {refusal.action} "
                                     f"(cost-janitor IAM guard: {refusal})"}}, operation)

    def assumed(self, params: dict[str, Any], response: dict[str, Any]) -> None:
        self._assumed[response["Credentials"]["AccessKeyId"]] = str(params["RoleArn"])

    def _roles(self, account: str, policy: Policy | None) -> tuple[dict[str, RolePolicy], dict[str, RolePolicy]]:
        d = self.deployments.get(account) or Deployment(Policy())
        if policy is not None:
            d = Deployment(policy, d.kind, d.hub, d.members)
        key = json.dumps([account, d.kind, d.hub, d.members, d.policy.model_dump(mode="json")], sort_keys=True)
        with self._lock:
            if key not in self._synths:
                self._synths[key] = roles_of(self.synthesize(account, d), account=account)
            return self._synths[key]


def _handler_on_stack() -> tuple[str | None, Policy | None]:
    """The Lambda making this call: its handler's frame, or (tests and the demo call a capability's entry directly,
    as the handler does) the outermost frame of a capability the function runs; and the policy that capability runs
    with (the stack is synthesized from the same policy the Lambda reads at run time)."""
    frame, handler, capability, policy = sys._getframe(2), None, None, None
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(HANDLERS) and frame.f_code.co_name == "lambda_handler":
            handler = module
        if module.startswith(CAPABILITIES) and module[len(CAPABILITIES):] in FUNCTIONS:
            capability = HANDLERS + module[len(CAPABILITIES):]
            if isinstance(frame.f_locals.get("policy"), Policy):
                policy = frame.f_locals["policy"]
        frame = frame.f_back  # type: ignore[assignment]
    return handler or capability, policy


def _access_key(client: Any) -> str | None:
    credentials = getattr(client._request_signer, "_credentials", None)
    return None if credentials is None else str(credentials.access_key)


_guard: Guard | None = None


def install(default_account: str, synthesize: Callable[[str, Deployment], dict[str, Any]]) -> Guard:
    """Hold every botocore call in this process to the guard (once; later calls return the same guard).
    `synthesize` builds an account's template (the tests pass the CDK app's; this module needs no CDK)."""
    global _guard
    if _guard is not None:
        return _guard
    guard = _guard = Guard(default_account, synthesize)
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def _make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        guard.check(self, operation_name, api_params)
        response = original(self, operation_name, api_params)
        if operation_name == "AssumeRole":
            guard.assumed(api_params, response)
        return response

    BaseClient._make_api_call = _make_api_call  # type: ignore[attr-defined]
    return guard


def current() -> Guard | None:
    """The installed guard, if any (deploy helpers tell it what they deployed)."""
    return _guard


@contextmanager
def withholding(*actions: str) -> Iterator[list[Refusal]]:
    """As if the synthesized roles lacked `actions` (a statement deleted): the refusals met inside are handed over
    to the test, not failed on."""
    assert _guard is not None
    start = len(_guard.refusals)
    _guard.withheld.update(actions)
    got: list[Refusal] = []
    try:
        yield got
    finally:
        _guard.withheld.difference_update(actions)
        got.extend(_guard.refusals[start:])
        del _guard.refusals[start:]
