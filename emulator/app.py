"""create_app: the provider blueprints, the control blueprint, and the request hooks that bind them."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from .config import EmulatorConfig
from .fault_injection import replacing_response, spoil
from .control import blueprint as control_blueprint, control_error
from .core.clock import format_instant, wall_sleep
from .core.faults import ABORT_HEADER, REPLACING_KINDS, SPOILING_KINDS, RequestInfo
from .core.journal import Journal, clip
from .core.store import DEFAULT_NAMESPACE, Store, check_namespace_name
from .providers import PROVIDERS
from .raw_path import keep_encoded_slashes
from .web import NAMESPACE_HEADER, UNHANDLED_HEADER, ProviderSpec, Runtime, runtime

log = logging.getLogger("emulator")


def create_app(config: EmulatorConfig | None = None) -> Flask:
    """A fresh emulator: empty store (plus the config's seed in `default`), its own journal."""
    config = config or EmulatorConfig()
    app = Flask("emulator")
    app.url_map.merge_slashes = False  # a provider answers `//path` itself; no redirect page
    store = Store(spec.state_type for spec in PROVIDERS)
    app.extensions["emulator"] = Runtime(
        config=config,
        store=store,
        journal=Journal(config.journal_capacity),
        providers={spec.name: spec for spec in PROVIDERS},
    )
    for spec in PROVIDERS:
        app.register_blueprint(spec.blueprint)
    app.register_blueprint(control_blueprint)
    app.before_request(_bind_namespace)
    app.before_request(_inject_fault)
    app.after_request(_journal_response)
    app.after_request(_spoil_response)  # Flask runs these in reverse: spoil, then journal what left
    app.register_error_handler(HTTPException, _answer_http_error)
    app.register_error_handler(Exception, _answer_unhandled)
    encoded_slash_prefixes = tuple(prefix for spec in PROVIDERS if spec.raw_segments for prefix in spec.path_prefixes)
    app.wsgi_app = keep_encoded_slashes(app.wsgi_app, encoded_slash_prefixes)  # type: ignore[method-assign]
    if config.seed is not None:
        store.seed(DEFAULT_NAMESPACE, config.seed.parts())
    return app


def _provider_for_request() -> ProviderSpec | None:
    providers = runtime().providers
    if request.blueprint in providers:
        return providers[request.blueprint]
    return next((p for p in providers.values() if request.path.startswith(p.path_prefixes)), None)


def _bind_namespace() -> None:
    """A provider request belongs to its tenant's namespace, else the header's, else `default`."""
    g.namespace = DEFAULT_NAMESPACE
    g.provider = _provider_for_request()
    g.tenant = None
    if g.provider is None:
        return
    tenants = g.provider.tenants_of_request()
    g.tenant = tenants[0] if tenants else None
    store = runtime().store
    owner = next((o for o in (store.namespace_of(g.provider.name, t) for t in tenants) if o is not None), None)
    if owner is not None:
        g.namespace = owner
        return None
    header = request.headers.get(NAMESPACE_HEADER)
    if header is not None:
        try:
            g.namespace = check_namespace_name(header)
        except ValueError as exc:
            return g.provider.http_error(400, str(exc))
    return None


def _inject_fault() -> Response | None:
    """Consult the namespace's fault rules: wait out any latency, then answer for the provider if told to."""
    g.faults = []
    provider: ProviderSpec | None = g.get("provider")
    if provider is None:
        return None
    decision = runtime().store.view(g.namespace).faults.decide(
        RequestInfo(provider.name, request.method, request.path, g.tenant)
    )
    g.faults = [{"rule": rule, "kind": "latency"} for rule in decision.delayed_by]
    if decision.delay:
        wall_sleep(decision.delay)
    g.fault = decision.fault
    if decision.fault is None:
        return None
    g.faults.append(decision.fault.describe())
    return replacing_response(decision.fault, provider) if decision.fault.kind in REPLACING_KINDS else None


def _spoil_response(response: Response) -> Response:
    fault = g.get("fault")
    return spoil(response, fault) if fault is not None and fault.kind in SPOILING_KINDS else response


def _journal_response(response: Response) -> Response:
    provider: ProviderSpec | None = g.get("provider")
    if provider is None:
        return response
    state = runtime()
    now = state.store.view(g.namespace).clock.now()
    dropped = ABORT_HEADER in response.headers  # the client gets no answer at all: recorded as status 0
    state.journal.record(
        time=format_instant(now),
        namespace=g.namespace,
        provider=provider.name,
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
        status=0 if dropped else response.status_code,
        request_headers=dict(request.headers),
        request_body=clip(request.get_data(cache=True).decode("utf-8", "replace")),
        response_body="" if dropped else clip(response.get_data().decode("utf-8", "replace")),
        faults=g.get("faults", []),
    )
    return response


def _answer_http_error(error: HTTPException) -> Response:
    """Routing and protocol errors in the shape of whoever owns the path."""
    status = error.code or 500
    provider = g.get("provider") or _provider_for_request()
    if provider is not None:
        return provider.http_error(status, error.description or error.name)
    return control_error(status, error.name.lower().replace(" ", "_"), error.description or error.name)


def _answer_unhandled(error: Exception) -> Response:
    """A bug of the emulator, never a provider answer: logged, and marked so tests can tell."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    provider = g.get("provider")
    message = "emulator internal error (a bug: see the emulator's log)"
    response = provider.http_error(500, message) if provider else control_error(500, "internal_error", message)
    response.headers[UNHANDLED_HEADER] = type(error).__name__
    return response
