"""The one Slack app, as a manifest: paste it into api.slack.com/apps → Create New App → From an app manifest.

One app serves every account: only the hub (or the single-account stack) has an interactivity URL, and that
is the manifest's one Request URL. The scopes are exactly what `adapters/slack.py` calls (a test keeps them in
step: a new Web API method without its scope here fails it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

# Web API method (slack-sdk's name) → the bot scopes it needs (api.slack.com/methods/<method>)
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat_postMessage": ("chat:write",),
    "chat_update": ("chat:write",),
    "chat_postEphemeral": ("chat:write",),
    "users_lookupByEmail": ("users:read", "users:read.email"),  # users:read.email needs users:read alongside
    "users_info": ("users:read", "users:read.email"),  # the profile's email needs users:read.email
    "users_list": ("users:read", "users:read.email"),  # the members' emails need users:read.email
    "views_open": (),  # no scope: the click's trigger_id is the permission
}
OUTPUT_NAME = "SlackInteractivityUrl"  # the stack output that holds the Request URL


class ManifestError(ValueError):
    """A Request URL Slack would refuse."""


def bot_scopes() -> list[str]:
    return sorted({s for scopes in METHOD_SCOPES.values() for s in scopes})


def manifest(request_url: str, *, name: str = "cost-janitor") -> dict[str, Any]:
    """The app manifest (schema v1) for this Request URL. Slack only sends interactivity to https URLs."""
    parsed = urlparse(request_url)
    if parsed.scheme != "https" or not parsed.netloc:
        raise ManifestError(f"the Request URL must be an https URL, not {request_url!r}: use the hub stack's "
                            f"{OUTPUT_NAME} output")
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Finds idle and forgotten ML infrastructure and asks its owners what to do.",
            "background_color": "#1d3b2a",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            # findings arrive as direct messages from the app: its Messages tab must exist, read-only
            "app_home": {"home_tab_enabled": False, "messages_tab_enabled": True,
                         "messages_tab_read_only_enabled": True},
        },
        "oauth_config": {"scopes": {"bot": bot_scopes()}},
        "settings": {
            "interactivity": {"is_enabled": True, "request_url": request_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }
