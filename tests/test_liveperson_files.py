"""File sharing (reference liveperson-outbound.md section 6): upload and download temp URLs from the Connector
API's SEND and the consumer socket, the emulator's own storage behind CSDS `swift` (PUT 201, GET, 401 "Temp URL
invalid" for a wrong or expired one), and the `hosted/file` ContentEvent that names the file."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from test_liveperson_consumer_ws import Peer, connect_consumer, open_conversation

from emulator.pytest_plugin.liveperson_connector_app import LivePersonConnectorApp

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
pytestmark = pytest.mark.emulator_time("2026-03-01T00:00:00Z")


def generate(app: LivePersonConnectorApp, consumer, kind: str, body: dict):
    request = {"kind": "req", "id": "3", "type": kind, "body": body}
    path = f"/api/account/{app.account.id}/messaging/consumer/conversation/send"
    return app.account.handle.post(path, params={"v": "3"}, json=request, headers=consumer.headers())


def storage_call(app: LivePersonConnectorApp, method: str, answer: dict, data: bytes | None = None, **query: str):
    params = {**answer["queryParams"], **query}
    return app.account.handle.request(method, answer["relativePath"], params=params, data=data)


def uploaded(app: LivePersonConnectorApp, consumer, data: bytes = PNG) -> dict:
    reply = generate(app, consumer, "ms.GenerateURLForUploadFile", {"fileSize": str(len(data)), "fileType": "PNG"})
    assert reply.status == 200, reply.text
    answer = reply.json()["body"]
    assert storage_call(app, "PUT", answer, data).status == 201
    return answer


def test_the_storage_is_found_through_csds(lp_account) -> None:
    reply = lp_account.handle.get(f"/api/account/{lp_account.id}/service/swift/baseURI.json")
    assert reply.status == 200 and reply.json()["service"] == "swift"


def test_upload_publish_and_download_through_the_connector_api(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    reply = generate(app, consumer, "ms.GenerateURLForUploadFile", {"fileSize": len(PNG), "fileType": "PNG"})
    assert reply.status == 200 and reply.json() == {"reqId": "3", "code": "OK", "body": reply.json()["body"]}
    answer = reply.json()["body"]
    assert re.fullmatch(
        rf"/v1/AUTH_async-images/{app.account.id}/[0-9a-f-]{{36}}_01-03-2026_00-00-00-000\.PNG", answer["relativePath"]
    )
    assert set(answer["queryParams"]) == {"temp_url_sig", "temp_url_expires"}
    assert answer["queryParams"]["temp_url_expires"] == str(1772323200 + 60)
    assert storage_call(app, "PUT", answer, PNG).status == 201

    message = {
        "caption": "File logo",
        "relativePath": answer["relativePath"],
        "fileType": "PNG",
        "preview": "data:image/png;base64,AAAA",
    }
    event = {"type": "ContentEvent", "contentType": "hosted/file", "message": message}
    assert app.send(consumer, conversation, event) == {"sequence": 0}
    notified = app.wait_for("ms.MessagingEventNotification.ContentEvent")["body"]["changes"][0]["event"]
    assert notified == event

    download = generate(app, consumer, "ms.GenerateURLForDownloadFile", {"relativePath": answer["relativePath"]})
    assert download.status == 200
    fetched = storage_call(app, "GET", download.json()["body"])
    assert fetched.status == 200 and fetched.body == PNG and fetched.headers["Content-Type"] == "image/png"


def test_a_wrong_or_expired_temp_url_is_401(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    reply = generate(app, consumer, "ms.GenerateURLForUploadFile", {"fileSize": "100", "fileType": "JPG"})
    answer = reply.json()["body"]
    wrong = storage_call(app, "PUT", answer, b"x", temp_url_sig="0" * 40)
    assert wrong.status == 401 and "Temp URL invalid" in wrong.text
    assert storage_call(app, "PUT", answer, b"x" * 101).status == 413  # more than announced
    app.account.handle.control.advance("61s")
    assert storage_call(app, "PUT", answer, b"x").status == 401
    assert storage_call(app, "GET", answer).status == 401  # an upload URL never reads


def test_a_download_url_expires_after_a_minute(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    answer = uploaded(app, consumer)
    download = generate(
        app, consumer, "ms.GenerateURLForDownloadFile", {"relativePath": answer["relativePath"]}
    ).json()["body"]
    app.account.handle.control.advance("60s")
    assert storage_call(app, "GET", download).status == 200
    app.account.handle.control.advance("1s")
    assert storage_call(app, "GET", download).status == 401


@pytest.mark.parametrize(
    "kind, body",
    [
        ("ms.GenerateURLForUploadFile", {"fileSize": 3 * 1024 * 1024 + 1, "fileType": "PNG"}),
        ("ms.GenerateURLForUploadFile", {"fileSize": 10, "fileType": "PDF"}),
        ("ms.GenerateURLForUploadFile", {"fileSize": "ten", "fileType": "PNG"}),
        ("ms.GenerateURLForUploadFile", {"fileType": "PNG"}),
        ("ms.GenerateURLForDownloadFile", {"relativePath": "/v1/AUTH_async-images/1/none.PNG"}),
        ("ms.GenerateURLForDownloadFile", {}),
    ],
)
def test_bad_requests_answer_in_the_connector_envelope(
    lp_connector_app: LivePersonConnectorApp, kind: str, body: dict
) -> None:
    reply = generate(lp_connector_app, lp_connector_app.consumer(), kind, body)
    assert reply.status in (400, 404) and reply.json()["type"] == ".ReqBody$ErrorResp"


@pytest.mark.parametrize(
    "message",
    [
        "a string",
        {"fileType": "PNG"},
        {"relativePath": "x", "fileType": "PNG"},
        {"relativePath": "/a", "fileType": "EXE"},
        {"relativePath": "/a", "fileType": "PNG", "preview": "x" * (30 * 1024 + 1)},
    ],
)
def test_a_bad_hosted_file_is_refused(lp_connector_app: LivePersonConnectorApp, message) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    conversation = app.open_conversation(consumer)
    with pytest.raises(AssertionError, match="400"):
        app.send(consumer, conversation, {"type": "ContentEvent", "contentType": "hosted/file", "message": message})


def test_an_account_keeps_its_latest_ten_files(lp_connector_app: LivePersonConnectorApp) -> None:
    app = lp_connector_app
    consumer = app.consumer()
    first = uploaded(app, consumer, b"first")
    for _ in range(10):
        uploaded(app, consumer, b"more")
    reply = generate(app, consumer, "ms.GenerateURLForDownloadFile", {"relativePath": first["relativePath"]})
    assert reply.status == 404


@pytest.fixture
def emulator_backend(request):
    return request.getfixturevalue("emulator_tls_server" if "consumer_socket" in request.fixturenames else "emulator")


@pytest.fixture
def consumer_socket(emulator_tls_server, lp_account, lp_jwt, emulator_tls_ca):
    peer = Peer(connect_consumer(emulator_tls_server, lp_account.id, emulator_tls_ca, lp_jwt))
    try:
        yield peer
    finally:
        peer.hang_up()


def test_the_consumer_socket_shares_a_file(consumer_socket: Peer, emulator_tls_server, emulator_tls_ca) -> None:
    conversation = open_conversation(consumer_socket)
    answer = consumer_socket.call("ms.GenerateURLForUploadFile", {"fileSize": 1000, "fileType": "PNG"})
    assert (answer["code"], answer["type"], set(answer["body"])) == (
        200,
        "ms.GenerateURLResponse",
        {"relativePath", "queryParams"},
    )
    url = emulator_tls_server.base_url + answer["body"]["relativePath"]
    assert (
        requests.put(
            url, params=answer["body"]["queryParams"], data=PNG[:1000], verify=emulator_tls_ca, timeout=5
        ).status_code
        == 201
    )
    message = {"relativePath": answer["body"]["relativePath"], "fileType": "PNG", "caption": "logo"}
    published = consumer_socket.call(
        "ms.PublishEvent",
        {"dialogId": conversation, "event": {"type": "ContentEvent", "contentType": "hosted/file", "message": message}},
    )
    assert published["code"] == 200 and published["body"] == {"sequence": 0}
    download = consumer_socket.call("ms.GenerateURLForDownloadFile", {"relativePath": message["relativePath"]})
    assert download["code"] == 200 and urlsplit(url).path == download["body"]["relativePath"]
    fetched = requests.get(
        emulator_tls_server.base_url + download["body"]["relativePath"],
        params=download["body"]["queryParams"],
        verify=emulator_tls_ca,
        timeout=5,
    )
    assert fetched.content == PNG[:1000]
    refused = consumer_socket.call("ms.GenerateURLForUploadFile", {"fileSize": 10, "fileType": "TXT"})
    assert refused["code"] == 400
