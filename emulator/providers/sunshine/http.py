"""Sunshine's HTTP kit: the blueprint every route module registers on, its error handlers, how a request
names its tenant, JSON bodies, and `operation`, the one factory of the v2, SDK, v1.1 and hook operations.

An operation is registered at each of its prefixes; per request it is admitted (credentials, scopes, the app:
the `Admit` of its flavour), run under the store's lock, answered as JSON, and the webhook events it gave rise
to are then journaled and queued. A flavour's `refuse` puts every refusal in its envelope (v2 or v1).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from flask import Blueprint, Response, request
from pydantic import BaseModel

from ...core.clock import format_instant
from ...core.journal import clip
from ...core.store import Namespace
from ...web import MalformedJson, current_namespace, json_response, pump_deliveries, read_json_body, runtime
from . import webhooks
from .auth import key_id_of, token_digest
from .bodies import parse_body
from .call import Call
from .errors import SunshineError, bad_request
from .models import PROVIDER, SunshineState, attachment_lookup, key_lookup, oauth_client_lookup, oauth_token_lookup

# [C] api.smooch.io and {subdomain}.zendesk.com/sc; [O] a client host ending in `/` (the Python client joins
# host and path as they are, so `…/sc/` calls `/sc//v2/…`) is harmless against the provider
PREFIXES = ("/v2", "/sc/v2", "//v2", "/sc//v2")
BODY_LIMIT = 100 * 1024  # [C] 100 kB of JSON (the app refuses a larger body before any route reads it)

# What admits a request to an operation: (state, namespace, now, the path's variables, from which it pops
# what it consumes) -> the Call (events, app) and what the operation gets as its first argument.
Admit = Callable[[SunshineState, Namespace, float, dict[str, str]], tuple[Call, Any]]
Refuse = Callable[[SunshineError], SunshineError]
B = TypeVar("B", bound=BaseModel)

blueprint = Blueprint(PROVIDER, __name__)


@blueprint.errorhandler(SunshineError)
def _answer_error(error: SunshineError) -> Response:
    return error.response()


@blueprint.errorhandler(MalformedJson)
def _answer_malformed(_: MalformedJson) -> Response:
    return malformed_json().response()


@blueprint.url_value_preprocessor
def _decode_segments(endpoint: str | None, values: dict | None) -> None:
    """Path segments arrive still percent-encoded (so that `%2F` stays inside an externalId)."""
    if values:
        for name, value in values.items():
            values[name] = unquote(value)


def malformed_json() -> SunshineError:
    return bad_request("Invalid JSON body", "malformed_json")  # [I] title


def as_v2(error: SunshineError) -> SunshineError:
    return error


def tenants_of_request() -> Iterator[str]:
    """The app in the path, then the key of the credentials (for `/v2/apps`), read only when needed; then
    what names no app: an attachment's id, an OAuth access token, an OAuth client id."""
    path = request.view_args or {}
    app_id = path.get("app_id") or request.headers.get("x-smooch-appid")  # [I] the SDK config names its app so
    if app_id:
        yield app_id
    if path.get("attachment_id"):
        yield attachment_lookup(path["attachment_id"])
    header = request.headers.get("Authorization")
    key_id = key_id_of(header)
    if key_id:
        yield key_lookup(key_id)
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        yield oauth_token_lookup(token_digest(token.strip()))
    client_id = request.args.get("client_id") or _oauth_body_client_id()
    if isinstance(client_id, str) and client_id:
        yield oauth_client_lookup(client_id)


def _oauth_body_client_id() -> Any:
    """`client_id` of a `POST /oauth/token` body (JSON, or [I] a form), to find the client's namespace."""
    if request.method != "POST" or not request.path.endswith("/oauth/token"):
        return None
    body = request.get_json(silent=True, cache=True) if request.is_json else request.form
    return body.get("client_id") if isinstance(body, dict) else None  # a form is a MultiDict, a dict too


def request_url() -> str:
    """The request's URL without its query, for pagination links: a path variable such as an externalId
    holds what a URL cannot carry as is (space, non-ASCII), so the path is escaped again; `%` stays, as
    `%2F` and `%25` already are escapes there."""
    return request.host_url.rstrip("/") + quote(request.path, safe="/%:@!$&'()*+,;=-._~")


def json_body(model: type[B], empty: dict | None = None) -> B:
    """The request's JSON body as `model`; `empty` stands for a missing body where the body is optional."""
    return parse_body(model, read_json_body(empty=empty))


def publish(namespace: str, events: list[dict], now: float, app_id: str | None) -> None:
    """Each event is a journal entry (direction `event`, path = its type), then goes to the webhooks of the
    app that subscribe to it: queued now, attempted in the background (webhooks.py), so the answer does not
    wait for a receiver."""
    if not events:
        return
    state = runtime()
    for event in events:
        state.journal.record(
            time=format_instant(now),
            namespace=namespace,
            provider=PROVIDER,
            method="EVENT",
            path=event["type"],
            query="",
            status=0,
            request_body=clip(json.dumps(event)),
            direction="event",
        )
    if webhooks.queue(state.store, namespace, app_id, events, now):
        pump_deliveries(state.store.view(namespace))


def operation(
    method: str,
    rule: str,
    prefixes: Iterable[str],
    admit: Admit,
    *,
    refuse: Refuse = as_v2,
    label: str = "",
    status: int = 200,
    reindex: bool = False,
    multipart: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Response]]:
    """Register an operation at every prefix + `rule` (endpoint `<label><method> <prefix><rule>`). It gets what
    `admit` gives and the path's remaining variables, and answers a body (sent with `status`) or a
    `(body, status)` pair. A `multipart` body is parsed before the store's lock is taken; `reindex` refreshes
    the namespace's lookups after a change of keys, apps or attachments."""

    def register(run: Callable[..., Any]) -> Callable[..., Response]:
        @wraps(run)
        def view(**path: str) -> Response:
            if multipart:
                request.files  # noqa: B018  (reads and parses the upload outside the lock)
            namespace = current_namespace()
            store = runtime().store
            try:
                with store.lock:
                    now = namespace.clock.now()
                    call, subject = admit(namespace.state(PROVIDER), namespace, now, path)
                    answer = run(subject, **path)
                    if reindex:
                        store.reindex(namespace.name)
            except SunshineError as error:
                raise refuse(error) from None
            except MalformedJson:
                raise refuse(malformed_json()) from None
            publish(namespace.name, call.events, now, call.app.id if call.app is not None else None)
            body, code = answer if isinstance(answer, tuple) else (answer, status)
            return json_response(body, code)

        for prefix in prefixes:
            blueprint.add_url_rule(
                prefix + rule, f"{label}{method} {prefix.replace('.', '_')}{rule}", view, methods=[method]
            )
        return view

    return register
