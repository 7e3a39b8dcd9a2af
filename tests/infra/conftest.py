"""One synth per session, with cdk.json's context (feature flags included), cdk-nag on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from app import build
from infra.settings import load_cdk_json_context


@dataclass(frozen=True)
class Synth:
    outdir: Path
    template: Template
    raw: dict[str, Any]
    report: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == type_}

    def role_policies(self) -> dict[str, dict[str, Any]]:
        """Every identity policy on a role: the inline default policies, and the managed overflow policies CDK adds
        when a role's statements pass IAM's 10,240-character inline limit (a sweep over many regions does)."""
        return {k: v for k, v in self.raw["Resources"].items()
                if v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and v["Properties"].get("Roles")}


def _synth(outdir: Path, overrides: dict[str, Any] | None = None) -> Synth:
    context = load_cdk_json_context()
    if overrides:
        context["policy_overrides"] = json.dumps(overrides)
    app = App(context=context, outdir=str(outdir))
    [stack] = build(app)
    app.synth()  # cdk-nag violations and CloudFormation validation errors raise here
    raw = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synth(outdir, Template.from_json(raw), raw, report)


HUB, MEMBER = "111111111111", "222222222222"
ORGANIZATION = {"hub": {"account": HUB, "region": "us-east-1"},
                "members": [{"account": HUB, "region": "us-east-1"}, {"account": MEMBER, "region": "us-west-2"}]}


@dataclass(frozen=True)
class OrgSynth:
    hub: Synth
    member: Synth


@pytest.fixture(scope="session")
def synth_org(tmp_path_factory: pytest.TempPathFactory) -> OrgSynth:
    """Organization mode: the hub (which also sweeps its own account) and one member, two regions swept."""
    outdir = tmp_path_factory.mktemp("cdk.out.org")
    context = {**load_cdk_json_context(), "organization": json.dumps(ORGANIZATION),
               "policy_overrides": json.dumps({"regions": ["us-east-1", "us-west-2"]})}
    app = App(context=context, outdir=str(outdir))
    hub, member = build(app)
    app.synth()  # cdk-nag violations and CloudFormation validation errors raise here (no report: nothing to say)
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {"pluginReports": []}

    def one(stack_name: str) -> Synth:
        raw = json.loads((outdir / f"{stack_name}.template.json").read_text())
        return Synth(outdir, Template.from_json(raw), raw, report)

    return OrgSynth(one(hub.stack_name), one(member.stack_name))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(tmp_path_factory.mktemp("cdk.out"))


OPT_INS = {"idle": {"services": ["ec2", "sagemaker", "eks", "network", "efs", "ecr", "fsx", "amis"],
                    "cost_optimization_hub": True},
           "eks": {"scale_idle_dev_nodegroups": True}, "network": {"create_gateway_endpoints": True},
           "efs": {"set_lifecycle": True}, "ecr": {"put_lifecycle_policies": True},
           "fsx": {"delete_idle_dev_file_systems": True}, "amis": {"deregister_unused_dev_images": True},
           "storage": {"delete_unattached_volumes": True, "set_log_retention": True},
           "sagemaker": {"delete_idle_dev_endpoints": True, "enable_studio_idle_shutdown": True,
                         "delete_studio_accelerator_apps": True}}


@pytest.fixture(scope="session")
def synth_opt_in(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack with every family and every destructive opt-in turned on (a second synth, for the grants that depend
    on them)."""
    return _synth(tmp_path_factory.mktemp("cdk.out.opt-in"), OPT_INS)


@pytest.fixture(scope="session")
def synth_regions(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack sweeping two regions with the log-retention opt-in (the grants that must cover every region)."""
    return _synth(tmp_path_factory.mktemp("cdk.out.regions"), {"regions": ["us-east-1", "us-west-2"],
                                                               "storage": {"set_log_retention": True}})
