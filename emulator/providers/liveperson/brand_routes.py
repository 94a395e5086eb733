"""The emulator as a brand's authorization server (code endpoint, token endpoint, JWKS) for LivePerson authenticated connectors."""
