"""GPU metrics on the instances: the CloudWatch agent config (agent/cloudwatch-agent.json) in SSM, and one State
Manager association that installs, then configures, the agent on instances tagged for it — one ordered document,
so the configuration never runs before the agent is there."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.settings import ROOT

AGENT_CONFIG = ROOT / "agent" / "cloudwatch-agent.json"  # one series per instance (the GPUs rolled up)
PER_GPU_CONFIG = ROOT / "agent" / "cloudwatch-agent-per-gpu.json"  # agent.per_gpu_series: one per GPU
# The agent's managed policy (CloudWatchAgentServerPolicy) can only read parameters named AmazonCloudWatch-*.
PARAMETER_NAME = "AmazonCloudWatch-cost-janitor-gpu"
SCHEDULE = "rate(1 day)"  # a failed setup (no SSM agent yet, package download refused) is tried again next day


def setup_document(parameter_name: str) -> dict[str, Any]:
    """Install the agent package, then configure it from the parameter; a failed install stops the run."""
    return {
        "schemaVersion": "2.2",
        "description": "cost-janitor: install the CloudWatch agent, then configure it with GPU metrics",
        "mainSteps": [
            {"action": "aws:runDocument", "name": "installAgent", "onFailure": "Abort", "inputs": {
                "documentType": "SSMDocument", "documentPath": "AWS-ConfigureAWSPackage",
                "documentParameters": {"action": "Install", "name": "AmazonCloudWatchAgent"}}},
            {"action": "aws:runDocument", "name": "configureAgent", "inputs": {
                "documentType": "SSMDocument", "documentPath": "AmazonCloudWatch-ManageAgent",
                "documentParameters": {"action": "configure", "mode": "ec2", "optionalConfigurationSource": "ssm",
                                       "optionalConfigurationLocation": parameter_name,
                                       "optionalRestart": "yes"}}},
        ],
    }


class GpuAgent(Construct):
    def __init__(self, scope: Construct, id: str, *, tag_key: str, per_gpu: bool = False) -> None:
        super().__init__(scope, id)
        config = json.dumps(json.loads((PER_GPU_CONFIG if per_gpu else AGENT_CONFIG).read_text()),
                            separators=(",", ":"))
        self.parameter = ssm.StringParameter(self, "Config", parameter_name=PARAMETER_NAME, string_value=config,
                                             description="CloudWatch agent config with nvidia_gpu (cost-janitor)")
        self.document = ssm.CfnDocument(self, "Setup", document_type="Command", content=setup_document(PARAMETER_NAME),
                                        update_method="NewVersion")
        self.association = ssm.CfnAssociation(
            self, "InstallThenConfigure", name=self.document.ref, association_name="cost-janitor-gpu-agent",
            targets=[ssm.CfnAssociation.TargetProperty(key=f"tag:{tag_key}", values=["true"])],
            schedule_expression=SCHEDULE)
        self.association.node.add_dependency(self.parameter)
