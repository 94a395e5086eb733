"""Encoded slashes kept inside path segments (raw_path.py)."""

from __future__ import annotations

import pytest

from emulator.web.raw_path import keep_encoded_slashes, raw_path


def seen_path(environ: dict, prefixes: tuple[str, ...] = ("/v2/",)) -> str:
    seen = {}

    def app(env: dict, start_response: object) -> list[bytes]:
        seen["path"] = env["PATH_INFO"]
        return []

    keep_encoded_slashes(app, prefixes)(environ, lambda *a: None)
    return seen["path"]


@pytest.mark.parametrize(
    ("request_uri", "path_info"),
    [
        ("/v2/apps/a/users/a%2Fb?x=1", "/v2/apps/a/users/a%2Fb"),  # the slash stays encoded, the query goes
        ("/v2/apps/a/users/a%40b%20c", "/v2/apps/a/users/a@b c"),  # everything else is decoded
        ("/v2/apps/a/users/50%25", "/v2/apps/a/users/50%25"),  # a literal % is encoded once more
        ("/v2/apps/a/users/zo%C3%AB", "/v2/apps/a/users/zo\xc3\xab"),  # UTF-8 bytes as WSGI's latin-1 text
        ("/v2/apps/a/users/zo\xc3\xab", "/v2/apps/a/users/zo\xc3\xab"),  # raw UTF-8 sent unencoded
        ("http://host:8080/v2/apps/a/users/a%2Fb", "/v2/apps/a/users/a%2Fb"),  # absolute form
    ],
)
def test_segments_are_decoded_but_slashes_and_percents_stay_encoded(request_uri: str, path_info: str) -> None:
    decoded = "/v2/" + request_uri.split("/v2/", 1)[1].split("?")[0].replace("%2F", "/")  # as the server decoded it
    assert seen_path({"PATH_INFO": decoded, "REQUEST_URI": request_uri}) == path_info


def test_other_prefixes_and_servers_without_a_raw_uri_are_left_alone() -> None:
    assert seen_path({"PATH_INFO": "/api/a/b", "REQUEST_URI": "/api/a%2Fb"}) == "/api/a/b"
    assert seen_path({"PATH_INFO": "/v2/apps/a/b"}) == "/v2/apps/a/b"
    assert raw_path({"RAW_URI": "/v2/x?y"}) == "/v2/x"
