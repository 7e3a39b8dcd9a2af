"""Prices the offline table does not know come from the AWS Price List API (the emulator's GetProducts stand-in,
answering in botocore's documented shape from fixtures): an idle box in ap-southeast-2 gets its dollars with the
source and its publication date; a type the API does not know stays unpriced, never guessed. Each call is held to the
sweep's synthesized role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cost_janitor.capabilities import idle_sweep
from cost_janitor.core.models import Verdict
from cost_janitor.core.policy import Policy
from cost_janitor.families import ec2
from cost_janitor.local.emulator import LocalAws
from cost_janitor.local.emulator.seeding import ec2_price_product, seed_price_list
from cost_janitor.settings import Settings
from tests.integration.fleet import DEV, Fleet, night

REGION = "ap-southeast-2"
POLICY = Policy.model_validate({"regions": [REGION]})


def test_a_box_in_a_region_the_table_does_not_know_is_priced_through_the_price_list(aws: LocalAws,
                                                                                     janitor: Any) -> None:
    janitor(POLICY)
    fleet = Fleet(aws, datetime.now(UTC).replace(minute=0, second=0, microsecond=0), region=REGION)
    fleet.add("idle-priced", "m5.large", DEV, cpu=0.5)
    fleet.add("idle-unknown", "m6a.large", DEV, cpu=0.5)
    fleet.done()
    seed_price_list([ec2_price_product("m5.large", REGION, 0.12, published="2026-11-20T00:00:00Z"),
                     ec2_price_product("m5.large", "us-west-1", 0.11)])  # another region: never taken for this one
    report = idle_sweep.run(POLICY, Settings.from_env(), now=night(fleet.end, 0), run_id="night-1", dry_run=True,
                            families=[ec2.FAMILY])
    found = {f.resource_id: f for f in report.findings}
    priced, unknown = found[fleet.ids["idle-priced"]], found[fleet.ids["idle-unknown"]]
    assert priced.verdict == Verdict.IDLE and priced.monthly_usd == round(0.12 * 730, 2)
    assert priced.price_source == "AWS Price List API, on-demand Linux, ap-southeast-2, published 2026-11-20"
    assert unknown.monthly_usd is None and str(unknown.price_source).startswith("unknown")
    assert report.api_calls["pricing:GetProducts"] == 2  # one per type the table does not know, this night
