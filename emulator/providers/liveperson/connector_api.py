"""LivePerson Connector API (asyncMessagingEnt): conversation and send, with AppJWT + X-LP-ON-BEHALF ConsumerJWS."""
