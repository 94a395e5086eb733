"""What the HTTP server and the app agree on: WSGI environ keys and the control API's prefix. Plain names in a
module that imports nothing, so that `serve` can listen before the app's modules are loaded."""

ABORT_KEY = "emulator.abort"  # WSGI environ key: the server must drop this connection (see fault_injection.py)
HOLD_KEY = "emulator.hold"  # WSGI environ key: a context manager the server gives for a wait a fault imposes
BODY_REFUSED_KEY = "emulator.body_refused"  # environ: the server stopped reading a body past its limit
CONTROL_PREFIX = "/__emulator/"
