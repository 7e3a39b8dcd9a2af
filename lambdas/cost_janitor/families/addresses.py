"""Elastic IP addresses associated with nothing (core/addresses.py): each bills $0.005 an hour. A dev one is marked
and its owner asked to release it; a prod one is reported. The janitor never releases an address (a released one
cannot always be had back); a mark on an address in use again is removed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cost_janitor.adapters.clients import client, own_account
from cost_janitor.adapters.ec2 import MARKS, Ec2Inventory
from cost_janitor.core.addresses import ADDRESS_TYPE, classify_addresses
from cost_janitor.core.models import ActionKind, Finding, LedgerRecord
from cost_janitor.core.policy import Policy
from cost_janitor.families import Arn, Family, Grant, Night, dev_only, only_tag_keys

ADDRESSES = Arn("ec2", "elastic-ip")


class Addresses:
    name = "addresses"
    service = "ec2"
    resource_types = (ADDRESS_TYPE,)
    rechecked: tuple[ActionKind, ...] = ()  # it only marks: nothing is taken away, so nothing is looked at again
    answered = (ADDRESSES,)
    actions = MARKS  # EC2's CreateTags/DeleteTags take allocation IDs, with DryRun

    def read(self, region: str, night: Night) -> list[Finding]:
        inventory = Ec2Inventory(client("ec2", region), region)
        try:
            addresses = inventory.addresses(own_account())
        finally:
            night.calls["DescribeAddresses"] += inventory.calls
        return classify_addresses(addresses, night.policy, now=night.now, run_id=night.run_id)

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        return list(planned)

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """Nothing beyond the ledger's record of every finding."""

    def grants(self, policy: Policy) -> list[Grant]:
        idle_key = only_tag_keys(policy.exemptions.idle_since_tag)
        dev = dev_only(policy)
        return [
            Grant("ReadAddresses", ("ec2:DescribeAddresses",), why="ec2:Describe* has no resource-level permissions"),
            Grant("MarkIdleDevAddresses", ("ec2:CreateTags",), (ADDRESSES,), {**dev, **idle_key},
                  why="Elastic IP addresses of the policy's regions: the idle-since tag key only, on dev ones"),
            Grant("UnmarkIdleAddresses", ("ec2:DeleteTags",), (ADDRESSES,), idle_key),
            Grant("NeverReleaseAddresses", ("ec2:ReleaseAddress", "ec2:DisassociateAddress"), deny=True),
        ]

    def says(self, finding: Finding) -> str | None:
        return None  # the common texts (slack_blocks)

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        return []  # the digest's common sections


FAMILY: Family = Addresses()
