"""The read-only dashboard at /__emulator/ui: its content, and its render in headless Chromium."""

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from emulator.app import create_app
from emulator.client import AppTransport
from emulator.config import EmulatorConfig

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def page(handle) -> str:
    reply = handle.transport.send("GET", "/__emulator/ui", params={"namespace": handle.namespace})
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    return reply.text


@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_the_page_shows_tenants_live_tokens_faults_and_requests(emulator, lp_account, mindbehind_client_token):
    lp_account.issue_ext_jwt()
    emulator.control.add_fault("status", status=503, match={"path": "/nowhere"})
    html = page(emulator)
    assert '<meta http-equiv="refresh" content="2">' in html
    assert "clock 2026-03-01T12:00:00.000Z" in html and "(frozen)" in html
    assert lp_account.id in html and mindbehind_client_token.channel.channel_id in html
    assert "2026-03-01T12:10:00.000Z" in html  # the external JWT's expiry, on the emulator's clock
    assert f"{mindbehind_client_token.channel.channel_id} / {mindbehind_client_token.client_id}" in html
    assert re.search(r"<td>fault-1</td><td>status</td>.*?<td>0</td><td>0</td>", html)
    assert f"POST /api/account/{lp_account.id}/anonymous/authorize" in html
    assert f'href="?namespace={emulator.namespace}" class="current"' in html


@pytest.mark.emulator_time("2026-03-01T12:00:00Z")
def test_expired_tokens_leave_the_page(emulator, lp_account):
    lp_account.issue_ext_jwt()
    assert "2026-03-01T12:10:00.000Z" in page(emulator)
    emulator.control.advance("11m")
    assert "2026-03-01T12:10:00.000Z" not in page(emulator)


def test_values_from_requests_are_escaped(emulator, lp_account):
    emulator.get(f"/api/account/{lp_account.id}/<script>alert(1)</script>")
    html = page(emulator)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_an_empty_namespace_says_so(emulator):
    assert page(emulator).count('class="empty"') >= 4


def test_a_bad_namespace_is_refused_in_the_control_shape(emulator):
    reply = emulator.transport.send("GET", "/__emulator/ui", params={"namespace": "no spaces"})
    assert reply.status == 400 and reply.json()["error"]["field"] == "namespace"


def png_size_and_colours(path: Path) -> tuple[int, int, int]:
    """Width, height and how many distinct byte values the image data holds (1 means a blank page)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        if kind == b"IDAT":
            chunks.append(data[position + 8 : position + 8 + length])
        position += 12 + length
    return width, height, len(set(zlib.decompress(b"".join(chunks))))


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_headless_chromium_renders_the_dashboard(emulator_server, tmp_path):
    emulator_server.control.seed({"liveperson": {"accounts": [{"id": "77000001"}]}})
    assert emulator_server.post("/api/account/77000001/anonymous/authorize").status == 200
    url = f"{emulator_server.base_url}/__emulator/ui?namespace={emulator_server.namespace}"
    common = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=60)
    assert "POST /api/account/77000001/anonymous/authorize" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "dashboard.png"
    subprocess.run([*common, f"--screenshot={shot}", url], capture_output=True, timeout=60)
    width, height, colours = png_size_and_colours(shot)
    assert (width, height) == (1200, 900) and colours > 8


def test_a_token_protected_dashboard_takes_the_token_in_the_query():
    transport = AppTransport(create_app(EmulatorConfig(control_token="s3cret")))
    assert transport.send("GET", "/__emulator/ui").status == 401
    assert transport.send("GET", "/__emulator/ui", params={"token": "wrong"}).status == 401
    allowed = transport.send("GET", "/__emulator/ui", params={"token": "s3cret"})
    assert allowed.status == 200 and 'href="?namespace=default&amp;token=s3cret"' in allowed.text
    assert transport.send("GET", "/__emulator/clock", params={"token": "s3cret"}).status == 401  # the query is for the page only
