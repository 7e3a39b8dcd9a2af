"""Resource families: everything the idle sweep knows about one kind of resource, in one module each.

A family reads its inventory in a region (adapters), judges it (its pure core module), looks at what it is about to
act on again just before acting, and owns its actions: each action's call, dry-run form and IAM permissions (the
executor runs them; the sweep's role is built from `grants`). The sweep (capabilities/idle_sweep.py) runs the
families the policy's idle.services turn on and knows none of their names.

Adding a family (README, "Adding a resource family"): a core module (models + pure judgement + re-check), the reads
in an adapter, and a module here that exposes `FAMILY`; it is found by itself (`every()`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import Counter
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from cost_janitor.adapters.executor import EXECUTORS, Call, own_call
from cost_janitor.core.models import ActionKind, Finding, Started
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import RateBook

if TYPE_CHECKING:
    from cost_janitor.adapters.ledger import Ledger
    from cost_janitor.core.models import LedgerRecord


@dataclass(frozen=True)
class Arn:
    """An IAM resource pattern: `<service>:<region>:<account>:<resource>/*` in each of the policy's regions (or in
    any region: `any_region`); for S3, every bucket (`s3:::*`). infra renders it in the stack's partition and
    account."""

    service: str
    resource: str
    any_region: bool = False
    accountless: bool = False  # EC2 images and snapshots: arn:aws:ec2:<region>::snapshot/... (no account)


@dataclass(frozen=True)
class Grant:
    """One IAM statement that a family's calls need, written beside them; the sweep's construct adds it to the
    function's role as it stands (resources None: "*", for the actions AWS gives no resource scope)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[Arn, ...] | None = None
    conditions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deny: bool = False
    why: str = ""  # why a wildcard is needed: cdk-nag's acknowledgement


def dev_only(policy: Policy) -> dict[str, dict[str, Any]]:
    """The IAM condition: only on resources whose environment tag is a value the policy may stop (dev)."""
    return {"StringEqualsIgnoreCase": {f"aws:ResourceTag/{policy.environments.tag_key}":
                                       policy.environments.stop_values()}}


def only_tag_keys(*keys: str) -> dict[str, dict[str, Any]]:
    """The IAM condition: a tag write or removal of these keys and no other."""
    return {"ForAllValues:StringEquals": {"aws:TagKeys": list(keys)}}


@dataclass
class Night:
    """What the families read and act with during one sweep, and what they tally for its report."""

    policy: Policy
    now: datetime
    run_id: str
    ledger: Ledger | None
    calls: Counter[str] = field(default_factory=Counter)
    metrics_requested: int = 0
    starts: list[Started] = field(default_factory=list)  # resources the janitor stopped that run again
    memory: dict[str, Any] = field(default_factory=dict)  # a family's own state from read to recheck/acted

    def rates(self, region: str, names: Iterable[str], *, offline: Container[str]) -> RateBook:
        """The Price List API's unit rates `names` (adapters/pricing.RATES) in `region` — asked only where the
        offline table has no rates for the region (`offline`: the regions it has), at most once a night and a week
        (adapters/pricing.night_prices) — for core/pricing.listed_rate."""
        wanted = {(n, region) for n in names}
        if region in offline or not wanted:
            return {}
        from cost_janitor.adapters.pricing import night_prices

        return night_prices(self.memory, self.calls, "rates", wanted, ledger=self.ledger, now=self.now)


class Family(Protocol):
    """One kind of resource behind the sweep. `read` and `recheck` raise ClientError when the region cannot be read:
    the sweep reports the region and family as not swept (read) or acts on nothing of the family there (recheck)."""

    @property
    def name(self) -> str:
        """How reports and logs name it ("endpoints")."""

    @property
    def service(self) -> str:
        """The policy's idle.services entry that turns it on."""

    @property
    def resource_types(self) -> tuple[str, ...]:
        """The Finding.resource_type values it owns."""

    @property
    def actions(self) -> Mapping[ActionKind, Call]:
        """How each of its actions is carried out on its resources: the call, its IAM actions, its dry-run form."""

    @property
    def rechecked(self) -> tuple[ActionKind, ...]:
        """The actions looked at again just before they are made."""

    @property
    def answered(self) -> tuple[Arn, ...]:
        """Where the owners' answers (Keep, Snooze, Not mine) write their tags: the answers role's grant."""

    def read(self, region: str, night: Night) -> list[Finding]:
        """Inventory and metrics of the region, judged (one finding per resource)."""
        ...

    def recheck(self, region: str, planned: Sequence[Finding], night: Night) -> list[Finding]:
        """The findings whose action is in `rechecked`, decided again on what the resources are now."""
        ...

    def acted(self, findings: Sequence[Finding], night: Night) -> None:
        """After the executor: what the family keeps in the ledger about tonight's actions."""
        ...

    def grants(self, policy: Policy) -> list[Grant]:
        """The IAM statements its reads and actions need, with their conditions."""
        ...

    def says(self, finding: Finding) -> str | None:
        """What its owner reads in Slack about what happens next, where the common texts do not fit (None: them)."""
        ...

    def digest(self, entries: Sequence[LedgerRecord], *, now: datetime) -> list[str]:
        """Its lines in the weekly digest, from the ledger's last weeks (none: nothing beyond the common sections)."""
        ...


@cache
def every() -> tuple[Family, ...]:
    """Every family module's FAMILY, in the order of their names."""
    found = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
        family: Family = importlib.import_module(f"{__name__}.{module}").FAMILY
        found.append(family)
    return tuple(found)


@contextmanager
def counted(night: Night, *counters: Mapping[str, int], prefix: str = "", suffix: str = "") -> Iterator[None]:
    """Whatever happens inside (a refusal too), the calls the adapters made are added to the night's tally."""
    try:
        yield
    finally:
        for calls in counters:
            night.calls.update({f"{prefix}{k}{suffix}": v for k, v in calls.items() if v})


def covering(services: Sequence[str]) -> list[Family]:
    """The families the given idle.services turn on."""
    return [f for f in every() if f.service in services]


def of_type(resource_type: str) -> Family | None:
    """The family that owns a resource type, if any."""
    return next((f for f in every() if resource_type in f.resource_types), None)


def answerable(finding: Finding) -> bool:
    """Whether the owners' answers (Keep, Snooze, Not mine: tags on the resource) can be carried out on it: its family
    answers for resources of its ARN's kind (an EKS namespace is no AWS resource, a Karpenter node is reported only);
    the janitor's own types (storage, tags, spot) always."""
    family = of_type(finding.resource_type)
    if family is None:
        return True
    parts = finding.resource_arn.split(":", 5)
    return len(parts) == 6 and any(a.service == parts[2] and parts[5].startswith(f"{a.resource}/")
                                   for a in family.answered)


def call_for(kind: ActionKind, resource_type: str) -> Call:
    """How an action is carried out on a resource of this type: its family's call, else the janitor's own (storage,
    tags, spot, the owners' answers). The Executor of every capability that acts on a family's resources uses it."""
    family = of_type(resource_type)
    if family is not None and kind in family.actions:
        return family.actions[kind]
    return own_call(kind, resource_type)


def permissions(kinds: Sequence[ActionKind]) -> list[str]:
    """The IAM actions the given kinds need, on every resource type (the constructs grant exactly these, with their
    conditions)."""
    calls = [EXECUTORS[k] for k in kinds if k in EXECUTORS] + [
        c for family in every() for k, c in family.actions.items() if k in kinds]
    return sorted({p for c in calls for p in c.permissions})
