"""The one Slack app's manifest: the scopes are exactly what the code calls, the Request URL is the hub's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cost_janitor.slack_manifest import METHOD_SCOPES, ManifestError, bot_scopes, manifest

SLACK_ADAPTER = Path(__file__).resolve().parents[2] / "lambdas" / "cost_janitor" / "adapters" / "slack.py"


def _called_methods() -> set[str]:
    """Every Web API method the adapter calls through `self._call("<method>", ...)`."""
    tree = ast.parse(SLACK_ADAPTER.read_text())
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_call"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)}


def test_every_method_the_adapter_calls_has_its_scopes_in_the_manifest_and_no_more() -> None:
    called = _called_methods()
    assert called == {"chat_postMessage", "chat_update", "chat_postEphemeral", "users_lookupByEmail", "users_info",
                      "users_list", "views_open"}
    assert called == set(METHOD_SCOPES), "a Slack method without its scope (or a scope nothing uses)"
    assert bot_scopes() == ["chat:write", "users:read", "users:read.email"]


def test_the_manifest_carries_the_request_url_and_a_bot_that_can_send_direct_messages() -> None:
    url = "https://abc123.lambda-url.eu-west-1.on.aws/slack/actions"
    document = manifest(url, name="acme-janitor")
    assert document["settings"]["interactivity"] == {"is_enabled": True, "request_url": url}
    assert document["features"]["bot_user"]["display_name"] == "acme-janitor"
    assert document["display_information"]["name"] == "acme-janitor"
    assert document["features"]["app_home"]["messages_tab_enabled"] is True
    assert document["oauth_config"]["scopes"] == {"bot": ["chat:write", "users:read", "users:read.email"]}
    assert "event_subscriptions" not in document["settings"]  # nothing subscribes to events: no URL to verify


@pytest.mark.parametrize("url", ["http://abc.lambda-url.us-east-1.on.aws/slack/actions", "", "abc/slack/actions"])
def test_a_request_url_slack_would_refuse_is_refused_here(url: str) -> None:
    with pytest.raises(ManifestError, match="https"):
        manifest(url)
