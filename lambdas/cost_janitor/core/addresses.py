"""Elastic IP addresses (a resource family: families/addresses.py): an address associated with nothing still bills
every hour. The signal is the association DescribeAddresses reports; there is no metric.

Prices and billing, from AWS's documentation:
- "AWS charges for all public IPv4 addresses, including public IPv4 addresses associated with running instances and
  Elastic IP addresses" (EC2 User Guide, "Elastic IP addresses", pricing; the Public IPv4 Address tab of the Amazon
  VPC pricing page): $0.005 per IP per hour, in every commercial region, since 2024-02-01.
- Addresses brought with BYOIP (a pool the account owns, not "amazon") are not charged the public IPv4 rate.
- "after you release an IP address, you can't provision that same Elastic IP address again" (AWS Knowledge Center,
  "Why am I being billed for Elastic IP addresses"): a release has no guaranteed way back, so the janitor never
  releases an address; it marks an idle dev one and asks its owner, and reports a prod one.

Absent signals are never idle: an address whose pool is not reported (billing unknown), or that has no allocation ID
(nothing to tag or to name), cannot be judged.
"""

from __future__ import annotations

from datetime import datetime

from cost_janitor.core.exemptions import evaluate_exemption
from cost_janitor.core.models import ActionKind, Ask, Finding, FindingKind, Verdict, _Frozen, arn
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import HOURS_PER_MONTH, severity

ADDRESS_TYPE = "ec2:elastic-ip"
AMAZON_POOL = "amazon"  # DescribeAddresses' PublicIpv4Pool for an address from Amazon's pool
PUBLIC_IPV4_HOURLY_USD = 0.005  # Amazon VPC pricing, Public IPv4 Address tab (see the module docstring)
PRICE_SOURCE = "AWS public IPv4 address charge, $0.005 per IP per hour (Amazon VPC pricing)"


class Address(_Frozen):
    """An Elastic IP address as DescribeAddresses reports it."""

    public_ip: str
    region: str
    account: str
    allocation_id: str | None = None
    association_id: str | None = None
    instance_id: str | None = None
    network_interface_id: str | None = None
    pool: str | None = None  # PublicIpv4Pool: "amazon", or a BYOIP pool id; None: not reported
    border_group: str | None = None  # NetworkBorderGroup: the region, or a Local/Wavelength Zone group
    tags: dict[str, str] = {}

    @property
    def associated(self) -> bool:
        return bool(self.association_id or self.instance_id or self.network_interface_id)


def classify_addresses(addresses: list[Address], policy: Policy, *, now: datetime,
                       run_id: str = "") -> list[Finding]:
    """One finding per address: associated (in use: its resource's own family judges that), exempt, not billed
    (BYOIP), cannot be judged (an absent signal), or idle — billed and associated with nothing."""
    return [_finding(a, policy, now, run_id) for a in addresses]


def _finding(a: Address, policy: Policy, now: datetime, run_id: str) -> Finding:
    who = policy.ownership(a.tags)
    exemption = evaluate_exemption(a.tags, policy.exemptions, now=now)
    notes = list(exemption.notes)
    mark = a.tags.get(policy.exemptions.idle_since_tag)
    action: ActionKind | Ask | None = None
    monthly: float | None = None
    source: str | None = None
    if a.allocation_id is None:
        verdict, reason = Verdict.CANNOT_JUDGE, "no allocation ID reported: the address cannot be named or marked"
    elif a.associated:
        verdict = Verdict.BUSY
        reason = f"associated with {a.instance_id or a.network_interface_id or a.association_id}"
    elif exemption.exempt:
        verdict, reason = Verdict.EXEMPT, exemption.reason
    elif a.pool is None:
        verdict, reason = Verdict.CANNOT_JUDGE, "its address pool is not reported: whether it bills is unknown"
    elif a.pool != AMAZON_POOL:
        verdict, reason = Verdict.COMPLIANT, f"from the account's own pool {a.pool} (BYOIP): not billed per hour"
    else:
        verdict = Verdict.UNATTACHED
        monthly, source = _price(a)
        reason = ("associated with nothing, and billed every hour all the same; release it if no one needs it "
                  "(the janitor never releases an address: a released one cannot always be had back)")
        if policy.environments.classes[str(who["environment"])].on_idle == "stop":
            action = ActionKind.MARK_IDLE if mark is None else Ask.REVIEW
            if mark is not None:
                notes.append(f"idle since {mark} (tag {policy.exemptions.idle_since_tag})")
        else:
            action = Ask.REVIEW
    if verdict != Verdict.UNATTACHED and mark is not None and a.allocation_id is not None:
        action = ActionKind.UNMARK_IDLE
    return Finding(kind=FindingKind.IDLE_ADDRESS, resource_id=a.allocation_id or a.public_ip,
                   resource_arn=arn("ec2", a.region, a.account, f"elastic-ip/{a.allocation_id or a.public_ip}"),
                   resource_type=ADDRESS_TYPE, account=a.account, region=a.region, **who, verdict=verdict,
                   reason=reason, evidence={"public_ip": a.public_ip, "pool": a.pool, "border_group": a.border_group},
                   notes=tuple(notes), monthly_usd=monthly, price_source=source, action=action,
                   action_status="planned" if isinstance(action, ActionKind) else None,
                   severity=severity(monthly) if verdict == Verdict.UNATTACHED else "info", run_id=run_id,
                   observed_at=now)


def _price(a: Address) -> tuple[float | None, str]:
    """The public IPv4 rate in a region's own border group; an address advertised from a Local or Wavelength Zone
    group is left unpriced rather than guessed."""
    if a.border_group not in (None, a.region):
        return None, f"unknown: no public IPv4 price recorded for network border group {a.border_group}"
    return round(PUBLIC_IPV4_HOURLY_USD * HOURS_PER_MONTH, 2), PRICE_SOURCE
