"""What `serve` prints about the seeded Sunshine apps: their keys, and the users API in curl."""

from __future__ import annotations

from ...web.spec import Banner, Shown
from .models import SunshineSeed


def tenant_lines(part: SunshineSeed, shown: Shown) -> list[str]:
    lines = []
    for app in part.apps:
        lines.append(f"Sunshine app {app.id}")
        lines += [f"  key {key.id} secret {shown(key.secret)}" for key in app.keys]
    return lines + [f"Sunshine account key {key.id} secret {shown(key.secret)}" for key in part.account_keys]


def walkthrough_lines(part: SunshineSeed, base_url: str, shown: Shown) -> list[str]:
    """Create and read a user with the first app's first key; none without one."""
    if not part.apps or not part.apps[0].keys:
        return []
    app, key = part.apps[0], part.apps[0].keys[0]
    return [
        "",
        "Sunshine walk-through (Basic with the app key):",
        f'  curl -s -u {key.id}:{shown(key.secret)} -H \'Content-Type: application/json\' -d \'{{"externalId":"ext-1"}}\' "{base_url}/v2/apps/{app.id}/users"',
        f'  curl -s -u {key.id}:{shown(key.secret)} "{base_url}/v2/apps/{app.id}/users/ext-1"',
    ]


BANNER = Banner(tenant_lines, walkthrough_lines)
