"""Storage lifecycle: weekly schedule → Lambda. Lifecycle writes on any bucket (the merge never drops a user rule);
volume snapshots/deletes and log retention are granted only when the policy opts in at deploy time."""

from __future__ import annotations

from aws_cdk import Acknowledgment, ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.policy import Policy
from infra.iam import ALL_BUCKETS_NAG, acknowledge, all_buckets, regional_arns
from infra.janitor_function import FunctionFactory


class StorageLifecycle(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.fn = functions(self, "Function", service="storage-lifecycle", timeout=Duration.minutes(15),
                            memory_size=1024, handler="cost_janitor.handlers.storage_lifecycle.lambda_handler")
        role = self.fn.role
        this = Stack.of(self)
        volumes = this.format_arn(service="ec2", region="*", resource="volume", resource_name="*")
        snapshots = this.format_arn(service="ec2", region="*", account="", resource="snapshot", resource_name="*")
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadStorage", resources=["*"],
            actions=["s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetBucketTagging", "s3:GetBucketVersioning",
                     "s3:GetLifecycleConfiguration", "cloudwatch:GetMetricData", "ec2:DescribeVolumes",
                     "ec2:DescribeSnapshots", "ec2:DescribeImages", "logs:DescribeLogGroups",
                     # EBS rates outside the offline table's region (capabilities/storage_lifecycle._region_findings)
                     "pricing:GetProducts"]))
        role.add_to_policy(iam.PolicyStatement(sid="MergeLifecycleRules", actions=["s3:PutLifecycleConfiguration"],
                                               resources=[all_buckets(self)]))
        role.add_to_policy(iam.PolicyStatement(
            sid="MarkVolumesOnly", actions=["ec2:CreateTags"], resources=[volumes],
            conditions={"ForAllValues:StringEquals": {"aws:TagKeys": [policy.storage.unattached_since_tag,
                                                                      policy.storage.snapshot_tag]}}))
        if policy.storage.delete_unattached_volumes:
            dev = {"StringEqualsIgnoreCase": {f"aws:ResourceTag/{policy.environments.tag_key}":
                                              policy.environments.stop_values()}}
            role.add_to_policy(iam.PolicyStatement(sid="SnapshotDevVolumes", actions=["ec2:CreateSnapshot"],
                                                   resources=[volumes], conditions=dev))
            # the new snapshot carries the janitor's from-volume tag (TagSpecifications), and tags are written only as
            # part of that CreateSnapshot: "ec2:CreateAction" (EC2 User Guide, "Grant permission to tag Amazon EC2
            # resources during creation") — not on any snapshot of the account
            role.add_to_policy(iam.PolicyStatement(
                sid="SnapshotsCarryTheFromVolumeTag", actions=["ec2:CreateSnapshot"], resources=[snapshots],
                conditions={"Null": {"aws:RequestTag/cost-janitor:from-volume": "false"}}))
            role.add_to_policy(iam.PolicyStatement(
                sid="TagSnapshotsOnlyAtCreation", actions=["ec2:CreateTags"], resources=[snapshots],
                conditions={"StringEquals": {"ec2:CreateAction": "CreateSnapshot"}}))
            role.add_to_policy(iam.PolicyStatement(sid="DeleteDevVolumesOptIn", actions=["ec2:DeleteVolume"],
                                                   resources=[volumes], conditions=dev))
        if policy.storage.set_log_retention:
            role.add_to_policy(iam.PolicyStatement(
                sid="SetLogRetentionOptIn", actions=["logs:PutRetentionPolicy"],
                resources=regional_arns(self, policy, service="logs", resource="log-group",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)))
        acknowledge(role,
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                           reason="List/Describe/Get calls and X-Ray writes over every bucket, volume and log group "
                                  "have no narrower resource"),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{ALL_BUCKETS_NAG}]",
                           reason="lifecycle profiles apply to any bucket tagged with a profile, known only at run "
                                  "time; the merge keeps every user rule (property-tested)"),
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*:"
                              "<AWS::AccountId>:volume/*]",
                           reason="any unattached volume in the policy's regions; tag writes limited to the "
                                  "janitor's keys, deletes (opt-in) to dev-tagged volumes"),
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:*::snapshot/*]",
                           reason="opt-in only: the snapshot taken of a dev volume before it is deleted, whose id "
                                  "is not known before it exists"),
            *(Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{region}:"
                                f"<AWS::AccountId>:log-group:*]",
                             reason="opt-in only: retention on log groups that have none, found at run time in "
                                    "the policy's regions") for region in policy.regions or ["<AWS::Region>"]))
        self.rule = events.Rule(self, "Weekly", schedule=events.Schedule.expression(policy.lifecycle.schedule),
                                description="cost-janitor weekly storage run")
        self.rule.add_target(targets.LambdaFunction(self.fn.function, dead_letter_queue=dlq,
                                                    retry_attempts=2, max_event_age=Duration.hours(2)))

