"""LivePerson Conversational Cloud: Domain API, connector configuration, IDP consumer identity."""
