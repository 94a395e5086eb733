"""Resource limits over a real socket: bodies past their limit are refused before they are read, in the shape
of the path's owner; headers past waitress's limit get its plain-text 431; huge URLs, many query parameters
and JSON nested 100,000 deep get ordinary answers. After each, the server serves the next request.

Limits: a provider's own (Sunshine: 100 kB of JSON, answered by its routes), else `max_body_bytes` (4 MB)
for provider traffic and `max_control_body_bytes` (64 MB) for the control API. Every test runs against the
session's HTTP server (`emulator_server`), in its own namespace.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.test import EnvironBuilder, run_wsgi_app

from emulator.config import EmulatorConfig
from emulator.providers.sunshine.provider import SPEC as SUNSHINE_SPEC
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, MindbehindChannel, SunshineApp
from emulator.serving.server import MAX_REQUEST_HEADER_BYTES
from emulator.web import UNHANDLED_HEADER, size_text

PROVIDER_CAP = EmulatorConfig().max_body_bytes
CONTROL_CAP = EmulatorConfig().max_control_body_bytes
SUNSHINE_LIMIT = 100 * 1024
DEEP = 100_000
Shape = Callable[[Any], str]  # the message or title of an error body; fails when the body has another shape


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_server


# --- the shapes of each owner's errors -----------------------------------------------------------------


def liveperson_message(body: Any) -> str:
    assert set(body) == {"error"} and set(body["error"]) == {"time", "message", "internalCode", "responseStatus"}, body
    return body["error"]["message"]


def sunshine_title(body: Any, code: str | None = None) -> str:
    assert set(body) == {"errors"} and len(body["errors"]) == 1, body
    if code is not None:
        assert body["errors"][0]["code"] == code, body
    return body["errors"][0]["title"]


def sunshine_v1_description(body: Any) -> str:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "description"}, body
    return body["error"]["description"]


def mindbehind_message(body: Any) -> str:
    assert set(body) == {"success", "message"} and body["success"] is False, body
    return body["message"]


def control_message(body: Any) -> str:
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]["message"]


# --- a raw HTTP exchange ----------------------------------------------------------------------------------


def exchange(base_url: str, request_bytes: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are on a fresh connection; the status, headers and body of the answer."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request_bytes)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def head(method: str, path: str, *lines: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: emulator", *lines, "", ""]).encode()


def assert_serving(handle: EmulatorHandle) -> None:
    assert requests.get(f"{handle.base_url}/__emulator/health", timeout=5).json()["status"] == "ok"
    assert handle.control.calls(status=500) == []


@pytest.fixture
def owners(lp_account: LivePersonAccount, sunshine_app: SunshineApp, mindbehind_channel: MindbehindChannel) -> dict:
    """One body route per owner: its path, the headers it needs, its error shape and its body limit."""
    basic = sunshine_app.basic_headers()["Authorization"]
    return {
        "liveperson": (lp_account.idp_path("anonymous/authorize"), [], liveperson_message, PROVIDER_CAP),
        "sentinel": (
            f"/sentinel/api/account/{lp_account.id}/app/token?v=1.0&grant_type=client_credentials",
            [],
            liveperson_message,
            PROVIDER_CAP,
        ),
        "sunshine": (sunshine_app.path("users"), [f"Authorization: {basic}"], sunshine_title, SUNSHINE_LIMIT),
        "sunshine-v1.1": (
            f"/v1.1/apps/{sunshine_app.id}/appusers",
            [f"Authorization: {basic}"],
            sunshine_v1_description,
            SUNSHINE_LIMIT,
        ),
        "mindbehind": (
            "/external/v1/incoming/mbWebChat/token",
            [f"apiToken: {mindbehind_channel.management_token}"],
            mindbehind_message,
            PROVIDER_CAP,
        ),
        "control": ("/__emulator/seed", [], control_message, CONTROL_CAP),
    }


def refused_unread_past(owner: str) -> int:
    """The size past which the server refuses a body before reading it (Sunshine's routes refuse past
    100 kB too, after reading, unless its ProviderSpec names that limit)."""
    if owner == "control":
        return CONTROL_CAP
    return (SUNSHINE_SPEC.max_body_bytes or PROVIDER_CAP) if owner.startswith("sunshine") else PROVIDER_CAP


OWNERS = ["liveperson", "sentinel", "sunshine", "sunshine-v1.1", "mindbehind", "control"]


# --- bodies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("owner", OWNERS)
def test_a_content_length_past_the_cap_is_refused_before_the_body_is_sent(
    emulator_server: EmulatorHandle, owners: dict, owner: str
) -> None:
    path, lines, shape, _ = owners[owner]
    cap = refused_unread_past(owner)
    # only the headers go out: the answer comes without the server waiting for a byte of the body
    status, headers, body = exchange(
        emulator_server.base_url,
        head("POST", path, "Content-Type: application/json", f"Content-Length: {cap + 1}", *lines),
    )
    assert status == 413 and headers["content-type"] == "application/json", body
    assert UNHANDLED_HEADER.lower() not in headers
    assert shape(json.loads(body)) == f"Request body is larger than {size_text(cap)}"
    if owner != "control":
        assert headers["x-emulator-reason"] == "body_too_large"
    assert_serving(emulator_server)


@pytest.mark.parametrize("owner", ["liveperson", "mindbehind"])
def test_a_client_that_sends_the_whole_body_first_still_reads_the_413(
    emulator_server: EmulatorHandle, owners: dict, owner: str
) -> None:
    """`requests` sends every byte before it reads: the server drops what follows the refusal, half-closes
    after its answer and drains, so the client gets the 413 rather than a reset."""
    path, lines, shape, cap = owners[owner]
    session = requests.Session()
    headers = {"Content-Type": "application/json", **dict(line.split(": ", 1) for line in lines)}
    for _ in range(3):
        reply = session.post(
            emulator_server.base_url + path, data=b" " * (cap + 1024 * 1024), headers=headers, timeout=10
        )
        assert reply.status_code == 413 and reply.headers["Connection"] == "close", reply.text
        assert shape(reply.json()) == f"Request body is larger than {size_text(cap)}"
    assert session.get(f"{emulator_server.base_url}/__emulator/health", timeout=5).status_code == 200
    assert_serving(emulator_server)


@pytest.mark.parametrize("owner", ["liveperson", "mindbehind"])
def test_a_refused_body_is_journaled_in_the_tenants_namespace_without_it(
    emulator_server: EmulatorHandle, owners: dict, owner: str
) -> None:
    path, lines, _, cap = owners[owner]
    exchange(emulator_server.base_url, head("POST", path, f"Content-Length: {cap + 1}", *lines))
    (entry,) = emulator_server.control.calls(status=413)
    assert entry["path"] == path.split("?")[0] and entry["request_body"] == ""


def test_a_chunked_body_is_cut_at_the_cap(emulator_server: EmulatorHandle, owners: dict) -> None:
    path, lines, shape, cap = owners["liveperson"]
    chunk = b"[" * (cap + 1)
    # no Content-Length: the server stops reading once more than the cap arrived (the final chunk never comes)
    request = (
        head("POST", path, "Transfer-Encoding: chunked", "Content-Type: application/json", *lines)
        + b"%x\r\n" % len(chunk)
        + chunk
    )
    status, _, body = exchange(emulator_server.base_url, request)
    assert status == 413 and shape(json.loads(body)) == "Request body is larger than 4MB"
    assert emulator_server.control.calls(status=413)[0]["request_body"] == ""
    assert_serving(emulator_server)


def test_a_chunked_body_under_the_cap_is_read_whole(emulator_server: EmulatorHandle, owners: dict) -> None:
    path, lines, _, _ = owners["liveperson"]
    chunk = json.dumps({"id_token": None}).encode()
    request = head(
        "POST", path, "Transfer-Encoding: chunked", "Content-Type: application/json", *lines
    ) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
    status, _, body = exchange(emulator_server.base_url, request)
    assert status == 200 and "token" in json.loads(body)


def test_sunshine_answers_bodies_past_100_kb_itself(emulator_server: EmulatorHandle, sunshine_app: SunshineApp) -> None:
    big = {"externalId": "x" * SUNSHINE_LIMIT}
    for path, shape in (
        (sunshine_app.path("users"), sunshine_title),
        (f"/v1.1/apps/{sunshine_app.id}/appusers", sunshine_v1_description),
    ):
        reply = requests.post(
            emulator_server.base_url + path, json=big, headers=sunshine_app.basic_headers(), timeout=10
        )
        assert reply.status_code == 413 and shape(reply.json()) == "Request body is larger than 100kB", reply.text
    assert_serving(emulator_server)


def test_in_process_a_body_without_content_length_is_cut_at_the_cap(emulator_app: Any) -> None:
    """Another WSGI server may hand the app a body it did not read (`wsgi.input_terminated`): the app's
    own limit stops the read (here Mindbehind's, which looks for its tenant in the body)."""
    stream = _Endless()
    path = "/external/v1/incoming/mbWebChat/token"
    environ = EnvironBuilder(path=path, method="POST", content_type="application/json").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    body, status, headers = run_wsgi_app(emulator_app, environ, buffered=True)
    assert (
        status.startswith("413 ")
        and mindbehind_message(json.loads(b"".join(body))) == "Request body is larger than 4MB"
    )
    assert headers["X-Emulator-Reason"] == "body_too_large"
    assert stream.read_bytes <= PROVIDER_CAP + 2 * 65536


class _Endless:
    """A body that never ends, counting what was read of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else min(size, 65536)
        self.read_bytes += size
        return b" " * size

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


# --- headers and URLs -----------------------------------------------------------------------------------


def test_headers_past_the_servers_limit_get_a_plain_431_and_the_next_request_is_served(
    emulator_server: EmulatorHandle, owners: dict
) -> None:
    path, _, _, _ = owners["liveperson"]
    reply = requests.post(
        emulator_server.base_url + path, headers={"X-Big": "a" * MAX_REQUEST_HEADER_BYTES}, timeout=10
    )
    assert (reply.status_code, reply.headers["Content-Type"]) == (431, "text/plain; charset=utf-8")
    assert reply.text.startswith("Request Header Fields Too Large")
    reply = requests.post(
        emulator_server.base_url + path, headers={"X-Big": "a" * (MAX_REQUEST_HEADER_BYTES // 2)}, timeout=10
    )
    assert reply.status_code == 200, reply.text  # large but within the limit: served
    assert emulator_server.control.calls(status=431) == []  # refused before the app: not journaled


@pytest.mark.parametrize("owner", OWNERS)
def test_a_url_of_100_kb_is_an_ordinary_answer_of_its_owner(
    emulator_server: EmulatorHandle, owners: dict, owner: str
) -> None:
    path, lines, shape, _ = owners[owner]
    long_path = path.split("?")[0] + "/" + "x" * 100_000
    status, headers, body = exchange(emulator_server.base_url, head("POST", long_path, "Content-Length: 0", *lines))
    assert status in (404, 405) and UNHANDLED_HEADER.lower() not in headers, body  # 405: `users/{id}` has no POST
    shape(json.loads(body))
    assert_serving(emulator_server)


def test_a_url_past_the_header_limit_is_the_same_plain_431(emulator_server: EmulatorHandle, owners: dict) -> None:
    path, _, _, _ = owners["liveperson"]
    status, headers, body = exchange(
        emulator_server.base_url, head("GET", path + "?q=" + "x" * MAX_REQUEST_HEADER_BYTES)
    )
    assert (status, headers["content-type"]) == (431, "text/plain; charset=utf-8") and body.startswith(
        b"Request Header Fields Too Large"
    )
    assert_serving(emulator_server)


@pytest.mark.parametrize("owner", OWNERS)
def test_a_thousand_query_parameters_change_nothing(emulator_server: EmulatorHandle, owners: dict, owner: str) -> None:
    path, lines, shape, _ = owners[owner]
    query = "&".join(f"p{i}=v{i}" for i in range(1000))
    reply = requests.post(
        f"{emulator_server.base_url}{path}{'&' if '?' in path else '?'}{query}",
        data=b"{}",
        headers={"Content-Type": "application/json", **dict(line.split(": ", 1) for line in lines)},
        timeout=10,
    )
    assert reply.status_code < 500 and UNHANDLED_HEADER not in reply.headers, reply.text
    if reply.status_code >= 400:
        shape(reply.json())
    assert_serving(emulator_server)


# --- JSON nested 100,000 deep ---------------------------------------------------------------------------


@pytest.mark.parametrize("owner", OWNERS)
@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_json_nested_100000_deep_is_malformed_json_of_its_owner(
    emulator_server: EmulatorHandle, owners: dict, owner: str, closed: bool
) -> None:
    path, lines, shape, limit = owners[owner]
    body = b'{"a":' * DEEP + (b"1" + b"}" * DEEP if closed else b"")
    headers = {"Content-Type": "application/json", **dict(line.split(": ", 1) for line in lines)}
    reply = requests.post(emulator_server.base_url + path, data=body, headers=headers, timeout=10)
    assert UNHANDLED_HEADER not in reply.headers, reply.text
    message = shape(reply.json())
    if len(body) > limit:
        assert reply.status_code == 413
    elif owner == "sentinel":  # a form body: the credentials are missing, whatever the JSON
        assert reply.status_code == 401
    else:
        assert reply.status_code == 400 and ("JSON" in message or "json" in message), message
    assert_serving(emulator_server)
