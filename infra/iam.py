"""IAM pieces more than one construct needs: ARNs in every region the policy covers and in the stack's partition,
and the statements that let a function write only given tag keys."""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from cost_janitor.core.policy import Policy


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
