"""A deployed stack's outputs (the CLI reads the hub's Slack Request URL from them)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str] | None:
    """The stack's outputs by key; None when no stack has that name (CloudFormation answers ValidationError)."""
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationError":
            raise
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
