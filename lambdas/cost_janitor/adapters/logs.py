"""CloudWatch Logs groups and their retention."""

from __future__ import annotations

from typing import Any

from cost_janitor.core.models import LogGroup


class LogGroups:
    def __init__(self, client: Any) -> None:
        self._logs = client

    def groups(self) -> list[LogGroup]:
        pages = self._logs.get_paginator("describe_log_groups").paginate()
        return [LogGroup(name=g["logGroupName"], arn=g.get("arn", "").removesuffix(":*"),
                         retention_days=g.get("retentionInDays"), stored_bytes=g.get("storedBytes", 0))
                for page in pages for g in page.get("logGroups", [])]
