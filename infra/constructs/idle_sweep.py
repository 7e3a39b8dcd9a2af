"""Idle sweep: nightly schedule → Lambda; its role is what the resource families it runs declare (families/): stops,
marks and deletions only on dev-tagged resources, never a terminate."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cost_janitor.core.policy import Policy
from cost_janitor.families import covering
from infra.iam import grant
from infra.janitor_function import FunctionFactory


class IdleSweep(Construct):
    def __init__(self, scope: Construct, id: str, *, policy: Policy, functions: FunctionFactory,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, id)
        self.fn = functions(self, "Sweep", service="idle-sweep", timeout=Duration.minutes(15), memory_size=1024,
                            handler="cost_janitor.handlers.idle_sweep.lambda_handler")
        # Each family's statements as it writes them beside its calls (families/<name>.grants); only the families
        # the policy's idle.services turn on.
        grant(self.fn.role, [g for family in covering(policy.idle.services) for g in family.grants(policy)], policy)

        # Regions in parallel: with more than one region, one schedule per region, each invoking the sweep for its
        # region alone — a slow or failing region holds up no other, and each run reports its own coverage. (One
        # rule per region, not one rule with many targets: each firing then has its own event id, which is the
        # sweep's idempotency key.)
        schedule = events.Schedule.expression(policy.idle.schedule)
        self.rules: list[events.Rule] = []
        for region in policy.regions if len(policy.regions) > 1 else [None]:
            rule = events.Rule(self, f"Nightly-{region}" if region else "Nightly", schedule=schedule,
                               description=f"cost-janitor nightly idle sweep{f': {region}' if region else ''}")
            rule.add_target(targets.LambdaFunction(
                self.fn.function, dead_letter_queue=dlq, retry_attempts=2, max_event_age=Duration.hours(2),
                event=_only(region) if region else None))
            self.rules.append(rule)
        self.rule = self.rules[0]


def _only(region: str) -> events.RuleTargetInput:
    """The schedule's own event, its detail narrowed to one region (what `cost-janitor invoke` and the handler
    read as SweepRequest.regions)."""
    return events.RuleTargetInput.from_object({
        "version": "0", "id": events.EventField.event_id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": events.EventField.account, "time": events.EventField.time, "region": events.EventField.region,
        "resources": [], "detail": {"regions": [region]}})
