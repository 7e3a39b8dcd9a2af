"""The synthesized stacks the IAM guard holds the Lambdas' calls to (cost_janitor.local.iam_guard needs no CDK;
the tests hand it this)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import App

from app import build
from cost_janitor.local.iam_guard import Deployment
from infra.settings import load_cdk_json_context


def synthesize(account: str, d: Deployment) -> dict[str, Any]:
    """The stack this account runs: cdk.json's context with this deployment's policy, cdk-nag on (CloudFormation's
    own validator off: tests/infra runs it on every stack kind)."""
    context = {**load_cdk_json_context(), "policy": d.policy.model_dump(mode="json"),
               "@aws-cdk/core:validateAgainstDefaultRules": False}
    if d.kind != "single":
        members = [{"account": m, "region": "us-east-1"} for m in (d.hub, *d.members) if m]
        context["organization"] = json.dumps({"hub": {"account": d.hub, "region": "us-east-1"},
                                              "members": list({m["account"]: m for m in members}.values())})
    app = App(context=context)
    stacks = build(app)
    assembly = app.synth()
    name = {"single": stacks[0].stack_name, "hub": "CostJanitorHub"}.get(d.kind, f"CostJanitorMember-{account}")
    template: dict[str, Any] = assembly.get_stack_by_name(name).template
    return template
