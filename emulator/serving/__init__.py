"""Serving the app: waitress and Werkzeug servers, TLS certificates, the HTTPS proxy, state files."""
