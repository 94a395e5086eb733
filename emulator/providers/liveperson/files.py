"""File sharing: upload and download temp URLs (`ms.GenerateURLForUploadFile` / `...DownloadFile`) and the
storage (CSDS `swift`) that serves them, the bytes kept in the account's state.

Reference: liveperson-outbound.md section 6. An upload URL is `PUT https://{swift}{relativePath}?temp_url_sig=
&temp_url_expires=` (201), a download URL the same with GET; a temp URL lives one minute on the namespace's
clock, and a wrong or expired one answers 401 "Temp URL invalid". The file is then published as a
`hosted/file` ContentEvent naming its `relativePath` (conversations.hosted_file).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timezone

from flask import Response, request

from ...core.store import Namespace
from ...web import current_namespace, runtime
from .conversations import MessagingError
from .http import find_account, operation
from .models import MAX_FILE_BYTES, MAX_FILES, MAX_TEMP_URLS, Account, StoredFile

STORAGE_PREFIX = "/v1/AUTH_async-images"  # [C] the published relativePath's prefix
UPLOAD_TYPES = ("JPG", "JPEG", "PNG", "GIF")  # [C] the upload schema's fileType enum
TEMP_URL_SECONDS = 60  # [C] temp URLs expire after 1 minute by default
CONTENT_TYPES = {"JPG": "image/jpeg", "JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
TEMP_URL_INVALID = "401 Unauthorized: Temp URL invalid\n"  # [C] "Temp URL invalid"; [I] the rest of the text


def storage_path(account_id: str, name: str) -> str:
    return f"{STORAGE_PREFIX}/{account_id}/{name}"


class SharedFiles:
    """The shared files of one account (hold the store lock)."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._account = account
        self._now = namespace.clock.now()

    def upload_url(self, body: dict) -> dict:
        """`{"fileSize", "fileType"}` -> `{"relativePath", "queryParams": {"temp_url_sig", "temp_url_expires"}}`."""
        size = body.get("fileSize")
        if isinstance(size, str) and size.isdigit():  # [C] a string in the schema, a number in the tutorial
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_FILE_BYTES:
            raise MessagingError(
                400, f"fileSize must be a number of bytes from 1 to {MAX_FILE_BYTES}"
            )  # [C] at most 3 MB
        file_type = body.get("fileType")
        if file_type not in UPLOAD_TYPES:
            raise MessagingError(400, f"fileType must be one of {', '.join(UPLOAD_TYPES)}")
        stamp = datetime.fromtimestamp(self._now, tz=timezone.utc).strftime("%d-%m-%Y_%H-%M-%S-%f")[:-3]
        name = f"{uuid.uuid4()}_{stamp}.{file_type}"  # [C] the published path's shape: ..._04-06-2018_04-10-59-845.PNG
        sig, expires = self._temp_url()
        stored = StoredFile(
            relative_path=storage_path(self._account.id, name),
            file_type=file_type,
            size=size,
            upload_sig=sig,
            upload_expires=expires,
        )
        files = self._account.files
        if len(files) >= MAX_FILES:
            del files[next(iter(files))]  # [I] the oldest goes
        files[stored.relative_path] = stored
        return _url(stored.relative_path, sig, expires)

    def download_url(self, body: dict) -> dict:
        """`{"relativePath"}` of an uploaded file -> the same shape, for a GET."""
        stored = self._account.files.get(body.get("relativePath"))  # type: ignore[arg-type]
        if stored is None or stored.data is None:
            raise MessagingError(404, "relativePath names no uploaded file")  # [I]
        sig, expires = self._temp_url()
        if len(stored.download_urls) >= MAX_TEMP_URLS:
            del stored.download_urls[next(iter(stored.download_urls))]
        stored.download_urls[sig] = expires
        return _url(stored.relative_path, sig, expires)

    def put(self, relative_path: str, sig: str, expires: str, data: bytes) -> bool:
        """Store an upload's bytes; False when the temp URL does not hold. [I] at most the announced size."""
        stored = self._account.files.get(relative_path)
        if stored is None or not _holds(sig, expires, stored.upload_sig, stored.upload_expires, self._now):
            return False
        if len(data) > stored.size:
            raise MessagingError(413, f"the file is larger than the {stored.size} bytes announced")
        stored.data = base64.b64encode(data).decode("ascii")
        return True

    def get(self, relative_path: str, sig: str, expires: str) -> tuple[bytes, str] | None:
        """An uploaded file's bytes and content type, or None when the temp URL does not hold."""
        stored = self._account.files.get(relative_path)
        if stored is None or stored.data is None or sig not in stored.download_urls:
            return None
        if not _holds(sig, expires, sig, stored.download_urls[sig], self._now):
            return None
        return base64.b64decode(stored.data), CONTENT_TYPES[stored.file_type]

    def _temp_url(self) -> tuple[str, int]:
        return secrets.token_hex(20), int(self._now) + TEMP_URL_SECONDS  # [I] 40 hex, like a Swift HMAC-SHA1


def _holds(sig: str, expires: str, expected_sig: str, expected_expires: int, now: float) -> bool:
    return secrets.compare_digest(sig, expected_sig) and expires == str(expected_expires) and now <= expected_expires


def _url(relative_path: str, sig: str, expires: int) -> dict:
    return {"relativePath": relative_path, "queryParams": {"temp_url_sig": sig, "temp_url_expires": str(expires)}}


GENERATE_UPLOAD_URL = "ms.GenerateURLForUploadFile"  # [C]
GENERATE_DOWNLOAD_URL = "ms.GenerateURLForDownloadFile"  # [C]
GENERATE_URL_RESPONSE = "ms.GenerateURLResponse"  # [C] the consumer socket's response type


def generate_url(namespace: Namespace, account: Account, kind: str, body: dict) -> dict:
    """The answer body of `ms.GenerateURLForUploadFile` / `ms.GenerateURLForDownloadFile` (hold the lock)."""
    files = SharedFiles(namespace, account)
    return files.upload_url(body) if kind.endswith("UploadFile") else files.download_url(body)


# --- the storage (swift): parse, call, serialise ---------------------------------------------------------

STORAGE_ROUTE = STORAGE_PREFIX + "/<account_id>/<name>"


def _invalid() -> Response:
    return Response(TEMP_URL_INVALID, status=401, mimetype="text/plain")


@operation("PUT", STORAGE_ROUTE)
def upload(account_id: str, name: str) -> Response:
    data = request.get_data(cache=True)
    with runtime().store.lock:
        files = SharedFiles(current_namespace(), find_account(account_id))
        try:
            stored = files.put(
                storage_path(account_id, name),
                request.args.get("temp_url_sig", ""),
                request.args.get("temp_url_expires", ""),
                data,
            )
        except MessagingError as error:
            return Response(error.message + "\n", status=error.code, mimetype="text/plain")
    return Response(b"", status=201) if stored else _invalid()


@operation("GET", STORAGE_ROUTE)
def download(account_id: str, name: str) -> Response:
    with runtime().store.lock:
        found = SharedFiles(current_namespace(), find_account(account_id)).get(
            storage_path(account_id, name),
            request.args.get("temp_url_sig", ""),
            request.args.get("temp_url_expires", ""),
        )
    if found is None:
        return _invalid()
    data, content_type = found
    return Response(data, status=200, mimetype=content_type)
