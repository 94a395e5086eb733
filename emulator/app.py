"""create_app: the provider blueprints, the control blueprint, and the request hooks that bind them."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from functools import lru_cache
from typing import Any

from flask import Flask, Request, Response, g, got_request_exception, has_app_context, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Rule
from werkzeug.sansio.utils import get_current_url
from werkzeug.wsgi import get_content_length

from .config import EmulatorConfig
from .control import blueprint as control_blueprint
from .control import control_error, require_control_token
from .core.clock import wall_sleep
from .core.faults import ABORT_HEADER, REPLACING_KINDS, SPOILING_KINDS, RequestInfo
from .core.journal import Journal, request_header_items
from .core.server_contract import BODY_REFUSED_KEY, HOLD_KEY
from .core.store import DEFAULT_NAMESPACE, Store, check_namespace_name
from .providers import PROVIDERS, ProviderSpec
from .web import (
    NAMESPACE_HEADER,
    REASON_HEADER,
    UNHANDLED_HEADER,
    Runtime,
    body_limit,
    may_have_body,
    runtime,
    size_text,
)
from .web.fault_injection import replacing_response, spoil
from .web.raw_path import keep_encoded_slashes

log = logging.getLogger("emulator")
_NAMESPACE_ENVIRON_KEY = "HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_")


@lru_cache(maxsize=64)
def _host_url(scheme: str, host: str) -> str:
    return get_current_url(scheme, host)


class EmulatorRequest(Request):
    """Flask's request; `host_url` (Sunshine builds every call's URL from it) remembered per scheme and
    host instead of made again, IRI conversion included, on every request."""

    @property
    def host_url(self) -> str:
        return _host_url(self.scheme, self.host)


class EmulatorFlask(Flask):
    """Flask, with `ensure_sync` (Flask asks it of every hook and view on every request, through
    `inspect`) answered once per function: the emulator's hooks and views are all synchronous."""

    @lru_cache(maxsize=1024)  # noqa: B019  (one app per test at most; the functions live as long as the module)
    def ensure_sync(self, func: Any) -> Any:
        return super().ensure_sync(func)


class LazyBuilderRule(Rule):
    """A URL rule whose URL builder (what `url_for` runs) is compiled on first use: Werkzeug compiles one
    per rule as the rule is added, most of the time `create_app` takes, for builders nothing calls."""

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        compile_builder = super()._compile_builder
        compiled: list[Any] = []

        def build(rule: Rule, *args: Any, **kwargs: Any) -> Any:
            if not compiled:
                compiled.append(compile_builder(append_unknown).__get__(rule, None))
            return compiled[0](*args, **kwargs)

        return build


def create_app(config: EmulatorConfig | None = None) -> Flask:
    """A fresh emulator: empty store (plus the config's seed in `default`), its own journal."""
    config = config or EmulatorConfig()
    app = EmulatorFlask("emulator")
    app.request_class = EmulatorRequest
    app.url_rule_class = LazyBuilderRule
    app.url_map.merge_slashes = False  # a provider answers `//path` itself; no redirect page
    store = Store((spec.state_type for spec in PROVIDERS), binding=_bound_namespace)
    app.extensions["emulator"] = Runtime(
        config=config,
        store=store,
        journal=Journal(config.journal_capacity),
        providers={spec.name: spec for spec in PROVIDERS},
    )
    for spec in PROVIDERS:
        app.register_blueprint(spec.blueprint)
    app.register_blueprint(control_blueprint)
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.register_error_handler(HTTPException, _answer_http_error)
    app.register_error_handler(Exception, _answer_unhandled)
    got_request_exception.connect(_keep_escaped, app)  # raised where no handler answers (hooks, handlers)
    encoded_slash_prefixes = tuple(prefix for spec in PROVIDERS if spec.raw_segments for prefix in spec.path_prefixes)
    app.wsgi_app = keep_encoded_slashes(app.wsgi_app, encoded_slash_prefixes)  # type: ignore[method-assign]
    if config.seed is not None:
        store.seed(DEFAULT_NAMESPACE, config.seed.parts())
    return app


def _provider_for_request(state: Runtime | None = None) -> ProviderSpec | None:
    providers = (state or runtime()).providers
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    blueprint = req.blueprint
    if blueprint in providers:
        return providers[blueprint]
    return next((p for p in providers.values() if req.path.startswith(p.path_prefixes)), None)


def _bound_namespace() -> str | None:
    """The namespace of the request under way (`store.lock` locks it); None outside a request."""
    return g.get("namespace") if has_app_context() else None


# The hooks run on every request: each takes the request and `g` out of their proxies once. Flask calls
# one hook each way, which calls the steps in order (a hook per step costs Flask's dispatch per step).


def _before_request() -> Response | None:
    """The control token first (a refused call is neither journaled nor faulted), then the namespace, then the
    fault; the first answer stops the rest."""
    return require_control_token() or _bind_namespace() or _inject_fault()


def _after_request(response: Response) -> Response:
    """Spoil the answer as a fault says, then journal what leaves."""
    return _journal_response(_spoil_response(response))


def _bind_namespace() -> Response | None:
    """A provider request belongs to its tenant's namespace, else the header's, else `default`.

    A body past its limit is refused here, unread (`_body_too_large`): the tenant is then found without
    it, and the 413 is the owner's (after the namespace is known, so that it is journaled there)."""
    flags = g._get_current_object()
    state = flags.runtime = runtime()  # the later hooks take it from here
    flags.namespace = DEFAULT_NAMESPACE
    flags.provider = provider = _provider_for_request(state)
    flags.tenant = None
    refused = flags.body_refused = _body_too_large(state, provider)
    if provider is None:
        flags.namespace = _control_namespace()
        return _refuse_body(refused, None) if refused else None
    answer = _find_namespace(flags, state, provider)
    return _refuse_body(refused, provider) if refused else answer


def _control_namespace() -> str | None:
    """A control call's `?namespace=` (what `store.lock` locks in its code); None for `*` or a bad name."""
    try:
        return check_namespace_name(request.args.get("namespace", DEFAULT_NAMESPACE))
    except ValueError:
        return None


def _body_too_large(state: Runtime, provider: ProviderSpec | None) -> int | None:
    """The limit the request's body is over (Content-Length, or the server stopped reading it), else None.

    A body without Content-Length that the server did not read itself (`wsgi.input_terminated`; waitress
    always reads and sets it) is read through `CappedInput`: past the limit, the read raises 413."""
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    if BODY_REFUSED_KEY in environ:
        return _body_limit(state, provider, req.path)
    length = get_content_length(environ)  # as `req.content_length`, without building the request's headers
    if length is None:
        if environ.get("wsgi.input_terminated") and may_have_body(environ):
            environ["wsgi.input"] = CappedInput(environ["wsgi.input"], _body_limit(state, provider, req.path))
        return None
    limit = _body_limit(state, provider, req.path)
    return limit if length > limit else None


def _body_limit(state: Runtime, provider: ProviderSpec | None, path: str) -> int:
    """`body_limit`, kept for the error handler that refuses a body cut while a route read it."""
    limit = g.body_limit = body_limit(state, provider, path)
    return limit


class CappedInput:
    """A WSGI input that raises RequestEntityTooLarge once more than `limit` bytes were read from it."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def _counted(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._limit:
            raise RequestEntityTooLarge()
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(65536), b""))
        return self._counted(self._stream.read(min(size, self._limit + 1 - self._read)))

    def readline(self, size: int | None = -1) -> bytes:
        room = self._limit + 1 - self._read
        return self._counted(self._stream.readline(room if size is None or size < 0 else min(size, room)))


def _refuse_body(limit: int, provider: ProviderSpec | None) -> Response:
    message = f"Request body is larger than {size_text(limit)}"
    if provider is None:
        response = control_error(413, "payload_too_large", message)
    else:
        response = provider.http_error(413, message)
        response.headers[REASON_HEADER] = "body_too_large"
    return response


def _find_namespace(flags: Any, state: Runtime, provider: ProviderSpec) -> Response | None:
    tenants = iter(provider.tenants_of_request())  # read only as far as the first that has a namespace
    tenant = flags.tenant = next(tenants, None)
    store = state.store
    while tenant is not None:
        owner = store.namespace_of(provider.name, tenant)
        if owner is not None:
            flags.namespace = owner
            return None
        tenant = next(tenants, None)
    header = request.environ.get(_NAMESPACE_ENVIRON_KEY)
    if header is not None:
        try:
            flags.namespace = check_namespace_name(header)
        except ValueError as exc:
            return provider.http_error(400, str(exc))
    return None


def _inject_fault() -> Response | None:
    """Consult the namespace's fault rules: wait out any latency, then answer for the provider if told to."""
    flags = g._get_current_object()
    flags.faults = []
    provider: ProviderSpec | None = flags.get("provider")
    if provider is None:
        return None
    rules = flags.runtime.store.view(flags.namespace).faults
    if rules.empty:  # the common case: nothing to decide
        flags.fault = None
        return None
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    decision = rules.decide(RequestInfo(provider.name, req.method, req.path, flags.tenant))
    flags.faults = [{"rule": rule, "kind": "latency"} for rule in decision.delayed_by]
    if decision.delay:
        with req.environ.get(HOLD_KEY, nullcontext)():  # on waitress, a worker lent for the wait
            wall_sleep(decision.delay)
    flags.fault = decision.fault
    if decision.fault is None:
        return None
    flags.faults.append(decision.fault.describe())
    return replacing_response(decision.fault, provider) if decision.fault.kind in REPLACING_KINDS else None


def _spoil_response(response: Response) -> Response:
    fault = g.get("fault")
    return spoil(response, fault) if fault is not None and fault.kind in SPOILING_KINDS else response


def _request_body(req: Request, refused: bool) -> bytes:
    """`req.get_data(cache=True)`, without building the input stream of a request that has no body."""
    if refused or not may_have_body(req.environ):
        return b""
    try:
        return req.get_data(cache=True)
    except RequestEntityTooLarge:  # a body without Content-Length, cut at the limit while a route read it
        return b""


def _journal_response(response: Response) -> Response:
    """Journal the exchange; the entry's text is made only when the journal is read (`record_request`)."""
    flags = g._get_current_object()
    provider: ProviderSpec | None = flags.get("provider")
    if provider is None:
        return response
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    state: Runtime = flags.runtime
    namespace = flags.namespace
    # the client gets no answer at all (recorded as status 0): only a fault's answer carries the order
    dropped = flags.get("fault") is not None and ABORT_HEADER in response.headers
    state.journal.record_request(
        at=state.store.view(namespace).clock.now(),
        namespace=namespace,
        provider=provider.name,
        method=req.method,
        path=req.path,
        query=req.query_string,
        status=0 if dropped else response.status_code,
        headers=request_header_items(req.environ),
        request_body=_request_body(req, bool(flags.get("body_refused"))),
        response_body=b"" if dropped else response.get_data(),
        faults=tuple(flags.get("faults", ())),
        response_headers=() if dropped else tuple(response.headers.items()),
    )
    return response


def _answer_http_error(error: HTTPException) -> Response:
    """Routing and protocol errors in the shape of whoever owns the path."""
    status = error.code or 500
    provider = g.get("provider") or _provider_for_request()
    if isinstance(error, RequestEntityTooLarge):  # a body without Content-Length, cut while a route read it
        g.body_refused = limit = g.get("body_limit") or body_limit(runtime(), provider, request.path)
        return _refuse_body(limit, provider)
    if provider is not None:
        return provider.http_error(status, error.description or error.name)
    return control_error(status, error.name.lower().replace(" ", "_"), error.description or error.name)


def _answer_unhandled(error: Exception) -> Response:
    """A bug of the emulator, never a provider answer: logged, and marked so tests can tell."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    _keep_escaped(None, error)
    provider = g.get("provider")
    message = "emulator internal error (a bug: see the emulator's log)"
    response = provider.http_error(500, message) if provider else control_error(500, "internal_error", message)
    response.headers[UNHANDLED_HEADER] = type(error).__name__
    return response


def _keep_escaped(sender: Any, exception: BaseException, **extra: Any) -> None:
    """Keep the traceback of a bug for its namespace: the pytest plugin fails the test that met it."""
    runtime().unhandled.record(g.get("namespace"), exception, f"{request.method} {request.path}")
