"""GPU metrics on the instances: the CloudWatch agent config (agent/cloudwatch-agent.json) in SSM, and State
Manager associations that install and configure the agent on instances tagged for it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.settings import ROOT

if TYPE_CHECKING:
    from infra.stack import JanitorStack

AGENT_CONFIG = ROOT / "agent" / "cloudwatch-agent.json"
# The agent's managed policy (CloudWatchAgentServerPolicy) can only read parameters named AmazonCloudWatch-*.
PARAMETER_NAME = "AmazonCloudWatch-cost-janitor-gpu"


class GpuAgent(Construct):
    def __init__(self, scope: Construct, id: str, *, stack: JanitorStack) -> None:
        super().__init__(scope, id)
        tag_key = stack.settings.policy.agent.tag_key
        config = json.dumps(json.loads(AGENT_CONFIG.read_text()), separators=(",", ":"))
        self.parameter = ssm.StringParameter(self, "Config", parameter_name=PARAMETER_NAME, string_value=config,
                                             description="CloudWatch agent config with nvidia_gpu (cost-janitor)")
        target = [ssm.CfnAssociation.TargetProperty(key=f"tag:{tag_key}", values=["true"])]
        self.install = ssm.CfnAssociation(
            self, "Install", name="AWS-ConfigureAWSPackage", association_name="cost-janitor-install-cw-agent",
            targets=target, schedule_expression="rate(7 days)",
            parameters={"action": ["Install"], "name": ["AmazonCloudWatchAgent"]})
        self.configure = ssm.CfnAssociation(
            self, "Configure", name="AmazonCloudWatch-ManageAgent", association_name="cost-janitor-configure-cw-agent",
            targets=target, schedule_expression="rate(7 days)",
            parameters={"action": ["configure"], "mode": ["ec2"], "optionalConfigurationSource": ["ssm"],
                        "optionalConfigurationLocation": [PARAMETER_NAME], "optionalRestart": ["yes"]})
        self.configure.add_dependency(self.install)
