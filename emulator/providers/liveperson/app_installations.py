"""The account-config App Installation API (CSDS `accountConfigReadWrite`): CRUD of an account's app
installations, their credentials and `capabilities.webhooks`.

Reference: liveperson-outbound.md section 2 ([CC]: as LivePerson's Connector App Hub calls it). An admin
user's Login Service bearer (`Authorization: Bearer`) authorises; answers carry the collection's
`ac-revision`, which PUT and DELETE name in `If-Match`; `X-HTTP-Method-Override: PUT` on a POST updates.
The server sets `client_id` (also the `{id}`), `client_secret`, `client_id_issued_at`. Status codes and
error bodies are not public [?]: 201 on create, 200 on read and update, 204 on delete, 404 for an unknown
id, 412 for a stale `If-Match`, 401 for a missing or dead bearer, 403 for a non-admin, 400 for a bad body. [I]
"""

from __future__ import annotations

import secrets
import uuid

from flask import Response, request
from pydantic import ValidationError

from ...core.store import Namespace
from ...web import current_namespace, json_response, read_json_body, runtime
from .conversations import unstorable
from .errors import LivePersonError
from .http import find_account, operation
from .login import session_of_bearer
from .models import Account, App

BASE = "/api/account/<account_id>/configuration/app-install/installations"
VERSIONS = ("1.0", "1", "2.0")  # [C] DEMO sends 1.0; [CC] other public clients 1 and 2.0
REVISION_HEADER = "ac-revision"  # [C] the account-config collection revision
SERVER_FIELDS = ("client_id", "client_secret", "id", "client_id_issued_at", "client_secret_expires_at", "deleted")
SECRET_ALPHABET = "0123456789abcdefghijklmnopqrstuv"  # [I] like the published secrets: 26 chars of [0-9a-v]
SECRET_LENGTH = 26
MAX_INSTALLATIONS = 50  # [I] installations an account may hold


class Installations:
    """The installations of one account, on the namespace's clock (hold the store lock)."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._namespace = namespace
        self._account = account

    @property
    def revision(self) -> str:
        return str(self._account.apps_revision)

    def authorize(self, authorization: str) -> None:
        """An admin user's live Login Service bearer, else 401 (403 for a user that is not an admin). [I]"""
        scheme, _, bearer = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise LivePersonError(401, "Authorization: Bearer <bearer> is required", "missing_bearer")
        session = session_of_bearer(self._account, bearer.strip(), self._namespace.clock.now(), self._namespace.tokens)
        if session is None:
            raise LivePersonError(401, "the bearer is not valid", "invalid_bearer")
        user = self._account.user(session.username)
        if user is None or not user.is_admin:
            raise LivePersonError(403, "the user is not allowed to manage app installations", "not_admin")

    def get(self, installation_id: str) -> App:
        app = self._account.app(installation_id)
        if app is None:
            raise LivePersonError(404, f"installation {installation_id} not found", "unknown_installation")
        return app

    def create(self, body: object) -> App:
        manifest = _manifest(body)
        if len(self._account.apps) >= MAX_INSTALLATIONS:
            raise LivePersonError(
                400, f"at most {MAX_INSTALLATIONS} installations per account", "too_many_installations"
            )
        client_id = str(uuid.uuid4())
        secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
        server = {
            "client_id": client_id,
            "client_secret": secret,
            "id": client_id,
            "client_id_issued_at": int(self._namespace.clock.now()),
        }
        app = self._validated({**manifest, **server}, None)
        self._account.apps.append(app)
        self._account.apps_revision += 1
        return app

    def update(self, installation_id: str, body: object, if_match: str | None) -> App:
        """The whole object replaced by the body's (server-set fields kept). [I] a missing If-Match is accepted."""
        current = self.get(installation_id)
        self._check_revision(if_match)
        manifest = _manifest(body)
        kept = {name: getattr(current, name) for name in SERVER_FIELDS}
        app = self._validated({**manifest, **kept}, current)
        self._account.apps[self._account.apps.index(current)] = app
        self._account.apps_revision += 1
        return app

    def delete(self, installation_id: str, if_match: str | None) -> None:
        """Gone: its AppJWTs are refused from now on and its webhooks stop."""
        current = self.get(installation_id)
        self._check_revision(if_match)
        self._account.apps.remove(current)
        self._account.apps_revision += 1

    def _check_revision(self, if_match: str | None) -> None:
        if if_match is not None and if_match.strip().strip('"') != self.revision:
            raise LivePersonError(
                412, f"If-Match {if_match} is not the current revision {self.revision}", "stale_revision"
            )

    def _validated(self, fields: dict, replacing: App | None) -> App:
        try:
            app = App.model_validate(fields)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise LivePersonError(
                400, f"{where}: {first['msg']}" if where else first["msg"], "bad_installation"
            ) from None
        if app.client_name is None:
            raise LivePersonError(400, "client_name is required", "missing_client_name")  # [C] required
        if any(other.client_name == app.client_name for other in self._account.apps if other is not replacing):
            raise LivePersonError(400, f"client_name {app.client_name!r} is taken", "client_name_taken")  # [C] unique
        return app


def _manifest(body: object) -> dict:
    """The body's fields a client may set: an object, exportable; the server's own fields are ignored. [I]"""
    if not isinstance(body, dict):
        raise LivePersonError(400, "request body must be a JSON object", "body_not_object")
    problem = unstorable(body)
    if problem:
        raise LivePersonError(400, problem, "unstorable_json")
    return {name: value for name, value in body.items() if name not in SERVER_FIELDS}


def installation_json(app: App) -> dict:
    return {**app.model_dump(mode="json", exclude_none=True), "id": app.installation_id()}


# --- routes: parse, call, serialise ----------------------------------------------------------------------


def _installations(account_id: str) -> Installations:
    """The account's installations once the version and the bearer hold (hold the store lock)."""
    namespace = current_namespace()
    installations = Installations(namespace, find_account(account_id))
    if request.args.get("v") not in VERSIONS:
        raise LivePersonError(400, "unsupported version: use v=1.0", "unsupported_version")  # [I]
    installations.authorize(request.headers.get("Authorization", ""))
    return installations


def _answer(body: object, installations: Installations, status: int = 200) -> Response:
    return json_response(body, status, headers={REVISION_HEADER: installations.revision})


@operation("GET", BASE)
def list_installations(account_id: str) -> Response:
    with runtime().store.lock:
        installations = _installations(account_id)
        return _answer([installation_json(app) for app in find_account(account_id).apps], installations)


@operation("POST", BASE)
def create_installation(account_id: str) -> Response:
    body = read_json_body(empty=None)
    with runtime().store.lock:
        installations = _installations(account_id)
        app = installations.create(body)
        return _answer(installation_json(app), installations, 201)


@operation("GET", BASE + "/<installation_id>")
def read_installation(account_id: str, installation_id: str) -> Response:
    with runtime().store.lock:
        installations = _installations(account_id)
        return _answer(installation_json(installations.get(installation_id)), installations)


@operation(("PUT", "POST"), BASE + "/<installation_id>")
def update_installation(account_id: str, installation_id: str) -> Response:
    """PUT, or POST with `X-HTTP-Method-Override: PUT` ([C] the account-config convention)."""
    if request.method == "POST" and request.headers.get("X-HTTP-Method-Override", "").upper() != "PUT":
        raise LivePersonError(405, "POST on an installation needs X-HTTP-Method-Override: PUT", "method_not_allowed")
    body = read_json_body(empty=None)
    with runtime().store.lock:
        installations = _installations(account_id)
        app = installations.update(installation_id, body, request.headers.get("If-Match"))
        return _answer(installation_json(app), installations)


@operation("DELETE", BASE + "/<installation_id>")
def delete_installation(account_id: str, installation_id: str) -> Response:
    with runtime().store.lock:
        installations = _installations(account_id)
        installations.delete(installation_id, request.headers.get("If-Match"))
        return Response(b"", status=204, headers={REVISION_HEADER: installations.revision})
