"""IAM pieces more than one construct needs: ARNs in every region the policy covers and in the stack's partition,
and the statements that let a function write only given tag keys."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, ArnFormat, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from cost_janitor.core.endpoints import RESTORABLE_TAG
from cost_janitor.core.policy import Policy
from cost_janitor.families import Arn, Grant, covering


def policy_regions(scope: Construct, policy: Policy) -> list[str]:
    """The policy's regions; the stack's own when it lists none."""
    return list(policy.regions) or [Stack.of(scope).region]


def regional_arns(scope: Construct, policy: Policy, *, service: str, resource: str, resource_name: str = "*",
                  arn_format: ArnFormat = ArnFormat.SLASH_RESOURCE_NAME) -> list[str]:
    """One ARN per policy region: an answer, a retention or a stop acts where the resource is, never beyond."""
    stack = Stack.of(scope)
    return [stack.format_arn(service=service, region=region, resource=resource, resource_name=resource_name,
                             arn_format=arn_format) for region in policy_regions(scope, policy)]


def all_buckets(scope: Construct) -> str:
    """Every bucket, in the stack's partition (arn:aws-cn:s3:::* in China)."""
    return Stack.of(scope).format_arn(service="s3", region="", account="", resource="*")


def nag(scope: IConstruct, text: str) -> str:
    """An ARN as cdk-nag prints it in this stack: with tokens (<AWS::AccountId>) in an environment-agnostic stack,
    with the literal account, region and partition in one deployed to a given account and region."""
    stack = Stack.of(scope)
    for token, value in (("<AWS::Partition>", stack.partition), ("<AWS::AccountId>", stack.account),
                         ("<AWS::Region>", stack.region)):
        if not Token.is_unresolved(value):
            text = text.replace(token, value)
    return text


def acknowledge(target: IConstruct, *acks: Acknowledgment) -> None:
    """Validations.of(target).acknowledge(...), each id's ARN written as cdk-nag prints it for this stack."""
    Validations.of(target).acknowledge(*(Acknowledgment(id=nag(target, a.id), reason=a.reason) for a in acks))


ALL_BUCKETS_NAG = "arn:<AWS::Partition>:s3:::*"  # how cdk-nag prints all_buckets()

# The services behind the tagging API each check their own tagging permission too.
TAG_WRITES = ["ec2:CreateTags", "sagemaker:AddTags", "rds:AddTagsToResource", "eks:TagResource"]


def tag_statements(scope: Construct, sid: str, keys: list[str]) -> list[iam.PolicyStatement]:
    """Write only the given tag keys, on any service the janitor checks (S3 bucket tagging has no key condition)."""
    only = {"ForAllValues:StringEquals": {"aws:TagKeys": keys}}
    return [iam.PolicyStatement(sid=f"{sid}ThroughTaggingApi", actions=["tag:TagResources"], resources=["*"]),
            iam.PolicyStatement(sid=f"{sid}OnlyTheseKeys", actions=TAG_WRITES, resources=["*"], conditions=only),
            iam.PolicyStatement(sid=f"{sid}Buckets", actions=["s3:GetBucketTagging", "s3:PutBucketTagging"],
                                resources=[all_buckets(scope)])]


def nag_arns(policy: Policy, *, service: str, resource: str) -> list[str]:
    """How cdk-nag prints regional_arns(...) (tokens as <AWS::...>), for its acknowledgements."""
    return [f"arn:<AWS::Partition>:{service}:{region}:<AWS::AccountId>:{resource}/*" for region in policy.regions] or [
        f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}/*"]


def grant(role: iam.Role, grants: Sequence[Grant], policy: Policy) -> None:
    """Statements the resource families declare beside their calls (families/), on a function's role. Grants that
    share a sid are one statement (their actions on all their resources; same effect and conditions, or the synth
    fails): families of one service share their list, mark and deny statements, and the role stays under IAM's
    10,240-character inline policy limit. Each wildcard is acknowledged to cdk-nag with the reasons its grants give
    (a wildcard without one fails the synth)."""
    merged: dict[str, Grant] = {}
    for g in grants:
        was = merged.get(g.sid)
        if was is not None and (was.deny, dict(was.conditions)) != (g.deny, dict(g.conditions)):
            raise ValueError(f"grants with sid {g.sid} differ in effect or conditions: give them their own sids")
        merged[g.sid] = g if was is None else Grant(
            g.sid, tuple(dict.fromkeys((*was.actions, *g.actions))),
            None if was.resources is None or g.resources is None else tuple(dict.fromkeys((*was.resources,
                                                                                           *g.resources))),
            g.conditions, g.deny, "; ".join(w for w in dict.fromkeys((was.why, g.why)) if w))
    # the function's own statements on "*" (Lambda active tracing: xray:PutTraceSegments, PutTelemetryRecords) need a
    # reason too, whichever families are on (a family set with no wildcard of its own failed the synth)
    reasons: dict[str, list[str]] = {"*": ["X-Ray trace writes (active tracing) have no resource scope"]}
    for g in merged.values():
        resources = ["*"] if g.resources is None else [a for arn in g.resources for a in _arns(role, policy, arn)]
        role.add_to_policy(iam.PolicyStatement(
            sid=g.sid, effect=iam.Effect.DENY if g.deny else iam.Effect.ALLOW, actions=list(g.actions),
            resources=resources, conditions={k: dict(v) for k, v in g.conditions.items()} or None))
        if g.deny:
            continue
        for pattern in ["*"] if g.resources is None else [n for arn in g.resources for n in _nag_arns(policy, arn)]:
            said = reasons.setdefault(pattern, [])
            said += [w for w in g.why.split("; ") if w and w not in said]
    if silent := [p for p, why in reasons.items() if not why]:
        raise ValueError(f"no reason given for the IAM wildcard(s) {silent}: set Grant.why on one grant using each")
    acknowledge(role, *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{p}]", reason="; ".join(why))
                        for p, why in reasons.items()))


def _arns(scope: Construct, policy: Policy, arn: Arn) -> list[str]:
    if arn.service == "s3":
        return [all_buckets(scope)]
    if arn.accountless:  # the Service Authorization Reference's ARN for EC2 images and snapshots has no account
        return [Stack.of(scope).format_arn(service=arn.service, region=region, account="", resource=arn.resource,
                                           resource_name="*") for region in policy_regions(scope, policy)]
    if arn.any_region:
        return [Stack.of(scope).format_arn(service=arn.service, region="*", resource=arn.resource, resource_name="*")]
    return regional_arns(scope, policy, service=arn.service, resource=arn.resource)


def _nag_arns(policy: Policy, arn: Arn) -> list[str]:
    if arn.service == "s3":
        return [ALL_BUCKETS_NAG]
    if arn.accountless:
        return [f"arn:<AWS::Partition>:{arn.service}:{region}::{arn.resource}/*" for region in policy.regions] or [
            f"arn:<AWS::Partition>:{arn.service}:<AWS::Region>::{arn.resource}/*"]
    if arn.any_region:
        return [f"arn:<AWS::Partition>:{arn.service}:*:<AWS::AccountId>:{arn.resource}/*"]
    return nag_arns(policy, service=arn.service, resource=arn.resource)


def grant_answers(scope: Construct, role: iam.Role, policy: Policy, *, restore: bool) -> None:
    """What carrying out an owner's answer needs, on `role`: the answers Lambda's own role, or (organization mode)
    the narrow role in a member that the hub assumes — tag writes limited to the answer keys, stops to dev-tagged
    instances, terminate denied. `restore`: CreateEndpoint from a marked config (the hub's own account only)."""
    instances = regional_arns(scope, policy, service="ec2", resource="instance")
    ex = policy.exemptions
    # the resources the families answer for (families/<name>.answered), EC2 instances always (spot findings too)
    answered = [Arn("ec2", "instance"), *(a for f in covering(policy.idle.services) for a in f.answered)]
    ec2_answered = [a for a in dict.fromkeys(answered) if a.service == "ec2" and a.resource != "instance"]
    role.add_to_policy(iam.PolicyStatement(sid="ReadInstances", actions=["ec2:DescribeInstances"], resources=["*"]))
    role.add_to_policy(iam.PolicyStatement(
        sid="WriteOnlyAnswerTags", actions=["ec2:CreateTags"],
        resources=instances + [r for a in ec2_answered for r in _arns(scope, policy, a)],
        conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [
            ex.keep_until_tag, ex.reason_tag, ex.by_tag, policy.tagging.owner_tag]}}))
    for statement in tag_statements(scope, "FixTags", sorted(policy.tagging.required)):
        role.add_to_policy(statement)
    role.add_to_policy(iam.PolicyStatement(
        sid="StopNowOnlyDevInstances", actions=["ec2:StopInstances"], resources=instances,
        conditions={"StringEqualsIgnoreCase": {
            f"aws:ResourceTag/{policy.environments.tag_key}": policy.environments.stop_values()}}))
    role.add_to_policy(iam.PolicyStatement(
        sid="UnmarkOnStop", actions=["ec2:DeleteTags"], resources=instances,
        conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [ex.idle_since_tag]}}))
    role.add_to_policy(iam.PolicyStatement(sid="NeverTerminate", effect=iam.Effect.DENY,
                                           actions=["ec2:TerminateInstances"], resources=["*"]))
    # any other service's resources (EKS node groups): its own TagResource, with the answer tag keys only
    other_answered = [a for a in dict.fromkeys(answered) if a.service not in ("ec2", "sagemaker")]
    for service in sorted({a.service for a in other_answered}):
        role.add_to_policy(iam.PolicyStatement(
            sid=f"WriteOnlyAnswerTags{service.capitalize()}", actions=[f"{service}:TagResource"],
            resources=[r for a in other_answered if a.service == service for r in _arns(scope, policy, a)],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [
                ex.keep_until_tag, ex.reason_tag, ex.by_tag, policy.tagging.owner_tag]}}))
    sagemaker_answered = [a for a in dict.fromkeys(answered) if a.service == "sagemaker"]
    sagemaker = _answer_sagemaker(scope, policy, role, sagemaker_answered, restore=restore) \
        if sagemaker_answered else []
    acknowledge(role,
        Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                       reason="ec2:DescribeInstances, X-Ray writes and tag:TagResources have no resource "
                              "scope; service tag writes are limited to the required cost-tag keys"),
        Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{ALL_BUCKETS_NAG}]",
                       reason="the Fix-tags form may tag any new bucket its creator owns; S3 bucket tagging has "
                              "no tag-key condition"),
        *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                         reason="answers apply to any instance the clicker owns (checked in the handler) in the "
                                "policy's regions; tag writes are limited to the answer tag keys, stops to "
                                "dev-tagged instances") for arn in _instance_nag_arns(policy.regions)),
        *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                         reason="answers on the owner's resources of this kind in the policy's regions: answer tag "
                                "keys only") for a in [*ec2_answered, *other_answered] for arn in _nag_arns(policy, a)),
        *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{arn}]",
                         reason="answers on the owner's SageMaker resources in the policy's regions: answer tag "
                                "keys only; a restore only from an EndpointConfig the janitor marked, as a dev "
                                "endpoint") for arn in sagemaker))


def _answer_sagemaker(scope: Construct, policy: Policy, role: iam.Role, answered: list[Arn], *,
                      restore: bool) -> list[str]:
    """Keep / Snooze / Not mine on the SageMaker families' resources (answer tag keys only), and Restore: a dev
    endpoint, only from an EndpointConfig the janitor marked when it deleted the endpoint."""
    endpoints = regional_arns(scope, policy, service="sagemaker", resource="endpoint")
    configs = regional_arns(scope, policy, service="sagemaker", resource="endpoint-config")
    ex, env = policy.exemptions, policy.environments
    role.add_to_policy(iam.PolicyStatement(
        sid="WriteOnlyAnswerTagsSageMaker", actions=["sagemaker:AddTags"],
        resources=[r for a in answered for r in _arns(scope, policy, a)],
        conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [
            ex.keep_until_tag, ex.reason_tag, ex.by_tag, policy.tagging.owner_tag]}}))
    answered_nag = [n for a in answered for n in _nag_arns(policy, a)]
    if not restore:
        return answered_nag
    role.add_to_policy(iam.PolicyStatement(
        sid="RestoreReadsTheConfig", actions=["sagemaker:DescribeEndpointConfig"], resources=configs))
    role.add_to_policy(iam.PolicyStatement(  # "still being deleted" and "exists already" are told apart first
        sid="RestoreLooksForTheEndpoint", actions=["sagemaker:DescribeEndpoint"], resources=endpoints))
    # A config whose volumes a customer key encrypts: SageMaker creates a grant with the caller's credentials ("The
    # KMS key policy must grant permission to the IAM role that you specify in your CreateEndpoint" — the
    # CreateEndpointConfig API reference, KmsKeyId). Only through SageMaker, only for an AWS resource.
    keys = regional_arns(scope, policy, service="kms", resource="key")
    role.add_to_policy(iam.PolicyStatement(
        sid="RestoreUsesTheConfigsKey", actions=["kms:CreateGrant", "kms:DescribeKey"], resources=keys,
        conditions={"StringLike": {"kms:ViaService": "sagemaker.*.amazonaws.com"}}))
    role.add_to_policy(iam.PolicyStatement(
        sid="RestoreGrantsOnlyForSageMaker", effect=iam.Effect.DENY, actions=["kms:CreateGrant"], resources=keys,
        conditions={"Bool": {"kms:GrantIsForAWSResource": "false"}}))
    role.add_to_policy(iam.PolicyStatement(
        sid="RestoreOnlyMarkedConfigs", actions=["sagemaker:CreateEndpoint"], resources=configs,
        conditions={"Null": {f"aws:ResourceTag/{RESTORABLE_TAG}": "false"}}))
    dev_request = {"StringEqualsIgnoreCase": {f"aws:RequestTag/{env.tag_key}": env.stop_values()}}
    role.add_to_policy(iam.PolicyStatement(
        sid="RestoreOnlyDevEndpoints", actions=["sagemaker:CreateEndpoint"], resources=endpoints,
        conditions=dev_request))
    role.add_to_policy(iam.PolicyStatement(  # CreateEndpoint with Tags needs AddTags on the new endpoint
        sid="TagRestoredDevEndpoints", actions=["sagemaker:AddTags"], resources=endpoints,
        conditions={**dev_request, "StringEqualsIgnoreCaseIfExists": {
            f"aws:ResourceTag/{env.tag_key}": env.stop_values()}}))
    return list(dict.fromkeys([*answered_nag, *nag_arns(policy, service="sagemaker", resource="endpoint"),
                               *nag_arns(policy, service="sagemaker", resource="endpoint-config"),
                               *nag_arns(policy, service="kms", resource="key")]))


def _instance_nag_arns(regions: list[str]) -> list[str]:
    """How cdk-nag prints the instance ARNs (tokens as <AWS::...>)."""
    return [f"arn:<AWS::Partition>:ec2:{region}:<AWS::AccountId>:instance/*" for region in regions] or [
        "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*"]
