"""Shapes of the janitor's own resources, shared by the CDK stack and the local emulator so they cannot drift."""

from __future__ import annotations

LEDGER_PARTITION_KEY = "pk"
LEDGER_SORT_KEY = "sk"
LEDGER_TTL_ATTRIBUTE = "expires_at"
IDEMPOTENCY_PARTITION_KEY = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
POLICY_PARAMETER_NAME = "/cost-janitor/policy"
SLACK_SECRET_NAME = "cost-janitor/slack"
SLACK_SECRET_KEYS = ("bot_token", "signing_secret")

# organization mode: fixed names, so a member stack and the hub stack find each other without cross-stack references
HUB_BUS_NAME = "cost-janitor-hub"  # the hub's bus; its policy admits the member accounts
MEMBER_BUS_NAME = "cost-janitor"  # a member's own bus; its rule forwards findings to the hub's bus
HUB_ANSWERS_ROLE_NAME = "cost-janitor-hub-answers"  # the hub's answers Lambda role: the only principal members trust
MEMBER_ROLE_NAME = "cost-janitor-member-answers"  # the narrow role in each member that carries out answers
FINDINGS_SOURCE = "cost-janitor"
FINDINGS_DETAIL_TYPE = "cost-janitor findings"
STARTED_DETAIL_TYPE = "cost-janitor resource started again"  # a member → the hub: a stopped resource runs again
