"""The LambdaContext the CLI, the demo and the tests hand to a handler (not shipped: Lambda brings its own)."""

from __future__ import annotations

import uuid


class FakeContext:
    """The LambdaContext fields handlers and Powertools read — the one the CLI, the demo and the tests hand to a
    handler. `remaining_ms`: what the Lambda clock says is left (a 15-minute function by default)."""

    def __init__(self, capability: str = "local", *, remaining_ms: int = 15 * 60 * 1000) -> None:
        name = f"cost-janitor-{capability.replace('_', '-')}"
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._deadline_ms
