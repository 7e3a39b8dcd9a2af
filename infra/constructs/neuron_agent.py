"""NeuronCore metrics on Inferentia / Trainium instances: one State Manager association that installs the Neuron
pusher (agent/neuron_metrics.py, fed by the Neuron SDK's neuron-monitor with agent/neuron-monitor.json) as a
systemd service on instances tagged for it. The files travel inside the document, byte for byte."""

from __future__ import annotations

import base64
from typing import Any

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.settings import ROOT

FILES = {"gpu_metrics.py": ROOT / "agent" / "gpu_metrics.py",  # its Batcher and IMDS helper
         "neuron_metrics.py": ROOT / "agent" / "neuron_metrics.py",
         "neuron-monitor.json": ROOT / "agent" / "neuron-monitor.json"}
TARGET = "/opt/cost-janitor"
NEURON_MONITOR = "/opt/aws/neuron/bin/neuron-monitor"
UNIT = f"""[Unit]
Description=cost-janitor: NeuronCore utilisation to CloudWatch
After=network-online.target

[Service]
ExecStart=/bin/sh -c '{NEURON_MONITOR} -c {TARGET}/neuron-monitor.json | /usr/bin/python3 {TARGET}/neuron_metrics.py'
Restart=always
RestartSec=30

[Install]
WantedBy=multi-user.target
"""
SCHEDULE = "rate(1 day)"


def setup_document() -> dict[str, Any]:
    """Check neuron-monitor and boto3 are there (a clear failure otherwise), write the files, run the service."""
    writes = [f"echo '{base64.b64encode(path.read_bytes()).decode()}' | base64 -d > {TARGET}/{name}"
              for name, path in FILES.items()]
    unit = base64.b64encode(UNIT.encode()).decode()
    return {
        "schemaVersion": "2.2",
        "description": "cost-janitor: publish NeuronCore utilisation (neuron-monitor → agent/neuron_metrics.py)",
        "mainSteps": [{"action": "aws:runShellScript", "name": "installNeuronPusher", "inputs": {"runCommand": [
            "set -eu",
            f"test -x {NEURON_MONITOR} || {{ echo 'neuron-monitor not found: install aws-neuronx-tools (the Neuron "
            "DLAMIs have it)' >&2; exit 1; }",
            "python3 -c 'import boto3' || { echo 'python3 with boto3 is needed' >&2; exit 1; }",
            f"mkdir -p {TARGET}",
            *writes,
            f"echo '{unit}' | base64 -d > /etc/systemd/system/cost-janitor-neuron.service",
            "systemctl daemon-reload",
            "systemctl enable cost-janitor-neuron.service",
            "systemctl restart cost-janitor-neuron.service",
        ]}}],
    }


class NeuronAgent(Construct):
    def __init__(self, scope: Construct, id: str, *, tag_key: str) -> None:
        super().__init__(scope, id)
        self.document = ssm.CfnDocument(self, "Setup", document_type="Command", content=setup_document(),
                                        update_method="NewVersion")
        self.association = ssm.CfnAssociation(
            self, "Install", name=self.document.ref, association_name="cost-janitor-neuron-pusher",
            targets=[ssm.CfnAssociation.TargetProperty(key=f"tag:{tag_key}", values=["true"])],
            schedule_expression=SCHEDULE)
