"""Mindbehind: web chat client tokens and sessions, live-core clients, the generic channel."""
