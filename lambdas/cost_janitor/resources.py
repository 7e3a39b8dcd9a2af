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
