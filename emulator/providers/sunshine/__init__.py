"""Sunshine Conversations (Smooch): the v2 REST API."""
