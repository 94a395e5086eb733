"""What `serve` prints about the seeded LivePerson accounts: their credentials and the unauthenticated flow in curl."""

from __future__ import annotations

from ...web.spec import Banner, Shown
from .models import LivePersonSeed


def tenant_lines(part: LivePersonSeed, shown: Shown) -> list[str]:
    lines = []
    for account in part.accounts:
        lines.append(f"LivePerson account {account.id}")
        for connector in account.connectors:
            lines.append(f"  connector {connector.id} ({connector.type})")
        for user in account.users:
            secret = (
                f"password {shown(user.password)}" if user.password is not None else f"app_key {shown(user.app_key)}"
            )
            lines.append(f"  user {user.username} ({secret})")
        for app in account.apps:
            lines.append(f"  app client_id {app.client_id} client_secret {shown(app.client_secret)}")
    return lines


def walkthrough_lines(part: LivePersonSeed, base_url: str, shown: Shown) -> list[str]:
    """The unauthenticated consumer's flow, on the first account that has it; none without one."""
    unauth = next(
        (
            (a.id, c.id)
            for a in part.accounts
            if a.has_feature("Messaging.Un_Auth_Messaging")
            for c in a.connectors
            if c.type == "unauthenticated"
        ),
        None,
    )
    if unauth is None:
        return []
    account_id, connector_id = unauth
    json_header = "-H 'Content-Type: application/json'"
    return [
        "",
        "Unauthenticated consumer walk-through (needs curl and jq):",
        f"  BASE={base_url} ACCOUNT={account_id} CONNECTOR={connector_id}",
        '  curl -s "$BASE/api/account/$ACCOUNT/service/idp/baseURI.json?version=1.0"',
        '  curl -s "$BASE/api/account/$ACCOUNT/configuration/le-connectors/all-connectors"',
        f'  EXT=$(curl -s -X POST {json_header} "$BASE/api/account/$ACCOUNT/anonymous/authorize" | jq -r .token)',
        f'  curl -s -X POST {json_header} -d "{{\\"id_token\\":\\"$EXT\\"}}" "$BASE/api/account/$ACCOUNT/app/$CONNECTOR/authenticate?v=3.0"',
        f'  curl -s -X POST {json_header} -d \'{{"advance":"11m"}}\' "$BASE/__emulator/clock"   # the exchange is now refused',
        f'  EXT=$(curl -s -X POST {json_header} -d "{{\\"id_token\\":\\"$EXT\\"}}" "$BASE/api/account/$ACCOUNT/anonymous/authorize" | jq -r .token)   # refresh',
    ]


BANNER = Banner(tenant_lines, walkthrough_lines, walkthrough_rank=1)  # its walk-through closes the banner
