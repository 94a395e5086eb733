"""The documentation site builds strictly (any warning, a broken reference included, fails the build)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_without_a_warning(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    routes = (tmp_path / "reference" / "routes.html").read_text()
    assert "/api/account/&lt;account_id&gt;/anonymous/authorize" in routes
    assert "/__emulator/clock" in routes
    assert "expired_ext_jwt" in (tmp_path / "reference" / "fixtures.html").read_text()
