"""LivePerson consumer WebSocket (Messaging Window API): /ws_api/account/{a}/messaging/consumer?v=3."""
