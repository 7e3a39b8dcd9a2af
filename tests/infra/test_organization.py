"""Organization mode, synthesized (cdk-nag on: an unacknowledged finding on either stack fails the synth): what the
hub and a member stack hold, and what each may do in the other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cost_janitor.events import ScheduledEvent
from cost_janitor.resources import HUB_ANSWERS_ROLE_NAME, HUB_BUS_NAME, MEMBER_BUS_NAME, MEMBER_ROLE_NAME
from infra.settings import SettingsError, load_cdk_json_context, load_settings
from tests.conftest import ROOT, load_event
from tests.infra.conftest import HUB, MEMBER, OrgSynth, Synth
from tests.infra.test_least_privilege import ALLOWED, QUEUE, SHARED

PUBLISHERS = {"idle-sweep", "storage-lifecycle", "tag-compliance", "spot-interruption"}


def _functions(synth: Synth) -> dict[str, dict[str, str]]:
    """POWERTOOLS_SERVICE_NAME → environment, for the janitor's functions."""
    out = {}
    for fn in synth.resources("AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in env:
            out[env["POWERTOOLS_SERVICE_NAME"]] = env
    return out


def _policy_statements(synth: Synth, role_logical_id: str) -> list[dict[str, Any]]:
    return [s for p in synth.role_policies().values()
            if {"Ref": role_logical_id} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statements: list[dict[str, Any]], effect: str = "Allow") -> set[str]:
    return {a for s in statements if s["Effect"] == effect
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


def _role(synth: Synth, name: str) -> tuple[str, dict[str, Any]]:
    [(key, role)] = [(k, r) for k, r in synth.resources("AWS::IAM::Role").items()
                     if r["Properties"].get("RoleName") == name]
    return key, role


def test_the_hub_talks_to_people_and_the_member_does_not(synth_org: OrgSynth) -> None:
    hub, member = _functions(synth_org.hub), _functions(synth_org.member)
    assert set(hub) == {"idle-sweep", "storage-lifecycle", "tag-compliance", "spot-interruption", "notifier",
                        "answers", "slack-interactivity", "report"}  # the hub also sweeps its own account
    assert set(member) == PUBLISHERS
    assert synth_org.member.resources("AWS::SecretsManager::Secret") == {}  # no Slack secret in a member
    assert "SlackInteractivityUrl" in synth_org.hub.raw["Outputs"]
    assert "SlackInteractivityUrl" not in synth_org.member.raw["Outputs"]


def test_the_hubs_bus_admits_exactly_the_members_and_hands_their_findings_to_the_notifier(
        synth_org: OrgSynth) -> None:
    hub = synth_org.hub
    [(bus_id, bus)] = hub.resources("AWS::Events::EventBus").items()
    assert bus["Properties"]["Name"] == HUB_BUS_NAME
    policies = [p["Properties"] for p in hub.resources("AWS::Events::EventBusPolicy").values()]
    assert [(p["Statement"]["Principal"], p["Statement"]["Action"]) for p in policies] == [
        ({"AWS": f"arn:aws:iam::{MEMBER}:root"}, "events:PutEvents")]  # not the hub itself, nobody else
    rules = {r["Properties"]["EventPattern"].get("detail-type", ["?"])[0]: r["Properties"]
             for r in hub.resources("AWS::Events::Rule").values()
             if r["Properties"].get("EventBusName") == {"Ref": bus_id}}
    assert rules["cost-janitor findings"]["EventPattern"] == {
        "account": [MEMBER], "detail-type": ["cost-janitor findings"], "source": ["cost-janitor"]}
    [target] = rules["cost-janitor findings"]["Targets"]
    [notifier_queue] = [k for k in hub.resources("AWS::SQS::Queue") if k.startswith("NotifierFindings")]
    assert target["Arn"] == {"Fn::GetAtt": [notifier_queue, "Arn"]}
    assert _functions(hub)["notifier"]["MEMBER_ACCOUNTS"] == MEMBER
    # members' instances starting again reach the report function (the one digest's savings end there)
    ec2 = rules["EC2 Instance State-change Notification"]
    assert ec2["EventPattern"]["account"] == [MEMBER]
    [started] = ec2["Targets"]
    [report] = [k for k, f in hub.resources("AWS::Lambda::Function").items()
                if f["Properties"]["Environment"]["Variables"].get("POWERTOOLS_SERVICE_NAME") == "report"]
    assert started["Arn"] == {"Fn::GetAtt": [report, "Arn"]}
    # ...and so do the restarts a member's sweep saw in any of its regions (and its notebooks and Studio apps)
    swept = rules["cost-janitor resource started again"]
    assert swept["EventPattern"] == {"account": [MEMBER], "detail-type": ["cost-janitor resource started again"],
                                     "source": ["cost-janitor"]}
    assert [t["Arn"] for t in swept["Targets"]] == [{"Fn::GetAtt": [report, "Arn"]}]


def test_the_hub_may_only_assume_each_members_narrow_role(synth_org: OrgSynth) -> None:
    """The least-privilege list of the hub: its answers function is the single-account one plus AssumeRole on
    exactly the members' answers role — no EC2 or tag right in a member beyond what that role allows."""
    key, _ = _role(synth_org.hub, HUB_ANSWERS_ROLE_NAME)
    statements = _policy_statements(synth_org.hub, key)
    assert _actions(statements) <= ALLOWED["AnswersFunction"] | {"sts:AssumeRole"}
    [assume] = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    assert assume["Resource"] == f"arn:aws:iam::{MEMBER}:role/{MEMBER_ROLE_NAME}"
    others = [s for k, p in synth_org.hub.role_policies().items()
              if {"Ref": key} not in p["Properties"]["Roles"] for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert "sts:AssumeRole" not in _actions(others)  # no other hub function reaches into a member
    env = _functions(synth_org.hub)["answers"]
    assert (env["MEMBER_ACCOUNTS"], env["MEMBER_ROLE_NAME"]) == (MEMBER, MEMBER_ROLE_NAME)


def test_the_members_narrow_role_trusts_only_the_hubs_answers_role_and_does_only_what_an_answer_does(
        synth_org: OrgSynth) -> None:
    key, role = _role(synth_org.member, MEMBER_ROLE_NAME)
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{HUB}:root"}
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{HUB}:role/{HUB_ANSWERS_ROLE_NAME}"}}
    assert role["Properties"]["MaxSessionDuration"] == 3600
    statements = _policy_statements(synth_org.member, key)
    restore = {"sagemaker:CreateEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeEndpoint",
               "kms:CreateGrant", "kms:DescribeKey"}  # restores stay in the member
    assert _actions(statements) == ALLOWED["AnswersFunction"] - SHARED - QUEUE - restore - {
        "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"}
    assert "ec2:TerminateInstances" in _actions(statements, "Deny")
    [stop] = [s for s in statements if s.get("Sid") == "StopNowOnlyDevInstances"]
    assert "aws:ResourceTag/environment" in stop["Condition"]["StringEqualsIgnoreCase"]
    assert stop["Resource"] == [f"arn:aws:ec2:{r}:{MEMBER}:instance/*" for r in ("us-east-1", "us-west-2")]


def test_a_members_findings_go_to_its_bus_and_on_to_the_hub_with_the_hub_outbox_as_dead_letter_queue(
        synth_org: OrgSynth) -> None:
    member = synth_org.member
    [(bus_id, bus)] = member.resources("AWS::Events::EventBus").items()
    assert bus["Properties"]["Name"] == MEMBER_BUS_NAME
    [rule] = [r["Properties"] for r in member.resources("AWS::Events::Rule").values()
              if r["Properties"].get("EventBusName") == {"Ref": bus_id}]
    [target] = rule["Targets"]
    assert target["Arn"] == f"arn:aws:events:us-east-1:{HUB}:event-bus/{HUB_BUS_NAME}"
    [outbox] = [k for k in member.resources("AWS::SQS::Queue") if k.startswith("MemberLinkHubOutbox")]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [outbox, "Arn"]}}
    forwarder = _policy_statements(member, target["RoleArn"]["Fn::GetAtt"][0])
    assert [(s["Action"], s["Resource"]) for s in forwarder] == [("events:PutEvents", target["Arn"])]
    [started] = [r["Properties"] for r in member.resources("AWS::Events::Rule").values()
                 if r["Properties"].get("EventPattern", {}).get("detail-type") == [
                     "EC2 Instance State-change Notification"]]
    assert [t["Arn"] for t in started["Targets"]] == [target["Arn"]]  # instances starting again: to the hub too
    for service, env in _functions(member).items():
        assert env["FINDINGS_BUS_NAME"] == MEMBER_BUS_NAME and env["HUB_OUTBOX_QUEUE_URL"] == {"Ref": outbox}
        fn_role = next(k for k, r in member.resources("AWS::IAM::Role").items()
                       if k.startswith(_construct(service)) and "Lambda" not in k and r["Properties"].get(
                           "AssumeRolePolicyDocument", {}).get("Statement", [{}])[0].get("Principal") == {
                           "Service": "lambda.amazonaws.com"})
        actions = _actions(_policy_statements(member, fn_role))
        assert {"events:PutEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions, service


def _construct(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("-"))


def test_each_region_gets_its_own_nightly_sweep_invocation(synth_org: OrgSynth) -> None:
    """Regions in parallel: one schedule per region, each handing the sweep its region alone (and its own event
    id, the idempotency key); rendered as EventBridge renders it, the handler reads it as that region's sweep."""
    rules = {k: r["Properties"] for k, r in synth_org.member.resources("AWS::Events::Rule").items()
             if k.startswith("IdleSweepNightly")}
    assert len(rules) == 2
    sample = load_event("eventbridge/scheduled_nightly_sweep.json")
    seen = []
    for rule in rules.values():
        [target] = rule["Targets"]
        transformer = target["InputTransformer"]
        text = transformer["InputTemplate"]
        for name, path in transformer["InputPathsMap"].items():  # an unquoted placeholder takes the JSON value
            text = text.replace(f"<{name}>", json.dumps(sample[path.removeprefix("$.")]))
        event = ScheduledEvent.model_validate(json.loads(text))
        assert event.id == sample["id"] and event.account == sample["account"]
        seen += event.detail.regions
    assert sorted(seen) == ["us-east-1", "us-west-2"]


def test_cfn_lint_passes_on_both_templates(synth_org: OrgSynth) -> None:
    templates = [str(p) for p in synth_org.hub.outdir.glob("*.template.json")]
    assert len(templates) == 2
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run([str(cfn_lint), *templates], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("organization, says", [
    ({"hub": {"account": HUB, "region": "us-east-1"}, "members": []}, "members"),
    ({"hub": {"account": HUB, "region": "us-east-1"},
      "members": [{"account": MEMBER, "region": "us-east-1"}, {"account": MEMBER, "region": "eu-west-1"}]},
     "one member stack per account"),
    ({"hub": {"account": "12345", "region": "us-east-1"}, "members": [{"account": MEMBER, "region": "us-east-1"}]},
     "hub.account"),
], ids=["no-members", "an-account-twice", "bad-account"])
def test_a_bad_organization_is_refused_naming_the_field(organization: dict[str, Any], says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        load_settings({**load_cdk_json_context(), "organization": json.dumps(organization)})


def test_a_member_sweeps_its_own_regions_and_a_bad_override_names_the_member(tmp_path: Path) -> None:
    """The policy sweeps eu-west-1 and ap-southeast-2; a member whose boxes are in us-east-1 says so in its entry and
    gets schedules for us-east-1 alone (the hub keeps the policy's)."""
    from aws_cdk import App

    from app import build

    organization = {"hub": {"account": HUB, "region": "eu-west-1"},
                    "members": [{"account": HUB, "region": "eu-west-1"},
                                {"account": MEMBER, "region": "us-east-1", "regions": ["us-east-1"],
                                 "policy_overrides": {"sagemaker": {"delete_idle_dev_endpoints": True}}}]}
    context = {**load_cdk_json_context(), "organization": json.dumps(organization),
               "policy_overrides": json.dumps({"regions": ["eu-west-1", "ap-southeast-2"]}),
               "@aws-cdk/core:validateAgainstDefaultRules": False}
    app = App(context=context, outdir=str(tmp_path))
    hub, member = build(app)
    assert member.settings.policy.regions == ["us-east-1"]
    assert member.settings.policy.sagemaker.delete_idle_dev_endpoints
    assert hub.settings.policy.regions == ["eu-west-1", "ap-southeast-2"]
    assert [r.node.id for r in member.idle_sweep.rules] == ["Nightly"]  # one region: one plain schedule
    assert len(hub.idle_sweep.rules) == 2
    bad = {**organization, "members": [organization["members"][0],
                                       {**organization["members"][1], "regions": ["moon-1"]}]}
    with pytest.raises(SettingsError, match=rf"organization.members\[1\] \({MEMBER}\)"):
        load_settings({**load_cdk_json_context(), "organization": json.dumps(bad)})


def test_a_hundred_members_need_the_organization_id_for_the_bus_policy(tmp_path: Path) -> None:
    """One statement per member passes EventBridge's 10,240-character bus policy quota at about 50 members: 100 are
    refused at synth with what to do, and with org_id the policy is one aws:PrincipalOrgID statement."""
    from aws_cdk import App

    from app import build

    members = [{"account": f"{200000000000 + i}", "region": "us-east-1"} for i in range(100)]
    organization: dict[str, Any] = {"hub": {"account": HUB, "region": "us-east-1"},
                                    "members": [{"account": HUB, "region": "us-east-1"}, *members]}
    with pytest.raises(SettingsError, match=r"over EventBridge's event bus policy size quota \(10,240\).*org_id"):
        load_settings({**load_cdk_json_context(), "organization": json.dumps(organization)})
    organization["org_id"] = "o-a1b2c3d4e5"
    settings = load_settings({**load_cdk_json_context(), "organization": json.dumps(organization)})
    assert settings.organization is not None and settings.organization.bus_policy_size() < 400
    fewer = {**organization, "members": organization["members"][:3]}
    app = App(context={**load_cdk_json_context(), "organization": json.dumps(fewer),
                       "@aws-cdk/core:validateAgainstDefaultRules": False}, outdir=str(tmp_path))
    hub = build(app)[0]
    policies = [r for r in app.synth().get_stack_by_name(hub.stack_name).template["Resources"].values()
                if r["Type"] == "AWS::Events::EventBusPolicy"]
    [statement] = [p["Properties"]["Statement"] for p in policies]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}


def test_targets_and_organization_exclude_each_other() -> None:
    with pytest.raises(SettingsError, match="exclude each other"):
        load_settings({**load_cdk_json_context(), "targets": [{"account": HUB, "region": "us-east-1"}],
                       "organization": {"hub": {"account": HUB, "region": "us-east-1"},
                                        "members": [{"account": MEMBER, "region": "us-east-1"}]}})


ORG_PUBLISH = {"events:PutEvents", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
               "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}  # the member's own bus, and its hub outbox


def test_every_role_in_both_stacks_is_on_the_allow_list(synth_org: OrgSynth) -> None:
    """The least-privilege allow-list, applied to the hub and the member: each function as in the single stack
    (a member's publishers also put on their bus and read the hub outbox; the hub's answers may assume the
    members' role), and the member's link roles exactly what they are for. No wildcard action, every mutating call
    conditioned, terminate denied wherever stopping is allowed."""
    from tests.infra.test_least_privilege import MUTATING_RESOURCE_CALLS, _roles

    extra = {"hub": {"AnswersFunction": {"sts:AssumeRole"}},
             "member": {k: ORG_PUBLISH for k in ("IdleSweep", "SpotInterruptionFunction", "StorageLifecycleFunction",
                                                 "TagComplianceFunction")}}
    link_roles = {"MemberLinkFindingsToHubEvents": {"events:PutEvents"},
                  "MemberLinkStartedToHubEvents": {"events:PutEvents"},
                  "MemberLinkAnswers": ALLOWED["AnswersFunction"] - SHARED - QUEUE - {
                      "sagemaker:CreateEndpoint", "sagemaker:DescribeEndpointConfig", "secretsmanager:DescribeSecret",
                      "secretsmanager:GetSecretValue"}}
    for kind, synth in (("hub", synth_org.hub), ("member", synth_org.member)):
        roles = _roles(synth)
        for function, statements in roles.items():
            allowed = ALLOWED.get(function, link_roles.get(function))
            assert allowed is not None, f"{kind}: {function} is on no allow-list"
            granted = _actions(statements)
            assert granted <= allowed | extra[kind].get(function, set()), (kind, function, granted - allowed)
            assert not {a for a in granted if "*" in a and a != "kms:GenerateDataKey*"}, (kind, function)
            for s in statements:
                if s["Effect"] == "Allow" and MUTATING_RESOURCE_CALLS & set(s["Action"] if isinstance(
                        s["Action"], list) else [s["Action"]]):
                    assert s.get("Condition"), (kind, function, s["Action"])
            if "ec2:StopInstances" in granted:
                assert "ec2:TerminateInstances" in _actions(statements, "Deny"), (kind, function)
    assert set(_roles(synth_org.member)) == {"IdleSweep", "SpotInterruptionFunction", "StorageLifecycleFunction",
                                             "TagComplianceFunction", *link_roles}
