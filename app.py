#!/usr/bin/env python3
"""CDK entry point: one JanitorStack per account/region target in cdk.json context (or one env-agnostic stack)."""

from __future__ import annotations

import sys

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.settings import SettingsError, StackSettings, load_settings
from infra.stack import JanitorStack


def build(app: App) -> list[JanitorStack]:
    settings = load_settings({k: app.node.try_get_context(k) for k in (
        "policy", "policy_overrides", "targets", "log_retention_days", "ops_email",
        "slack_reserved_concurrency", "organization")})
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    if settings.organization:
        return organization_stacks(app, settings)
    if not settings.targets:
        return [JanitorStack(app, "CostJanitor", settings=settings)]
    return [JanitorStack(app, f"CostJanitor-{t.account}-{t.region}", settings=settings,
                         env=Environment(account=t.account, region=t.region)) for t in settings.targets]


def organization_stacks(app: App, settings: StackSettings) -> list[JanitorStack]:
    """The hub (in its account and region) and one member stack per other account; the hub's own account is swept
    by the hub stack itself."""
    org = settings.organization
    assert org is not None
    def own(account: str) -> StackSettings:  # each stack deploys its member entry's policy (its regions, ...)
        return settings.model_copy(update={"policy": settings.policy_for(account)})

    hub = JanitorStack(app, "CostJanitorHub", settings=own(org.hub.account), kind="hub",
                       env=Environment(account=org.hub.account, region=org.hub.region))
    return [hub, *(JanitorStack(app, f"CostJanitorMember-{m.account}", settings=own(m.account), kind="member",
                                env=Environment(account=m.account, region=m.region))
                   for m in org.members if m.account != org.hub.account)]


def main() -> None:
    app = App()
    try:
        build(app)
    except SettingsError as exc:
        print(f"cost-janitor: cannot synthesize: {exc}", file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
