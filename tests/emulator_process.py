"""One `serve` subprocess for the tests that run the emulator for real (test_cli, test_standalone,
test_deployment, test_scenarios).

Its stdout and stderr are drained by threads so it never blocks on them; its address is read from the
banner (`listening on http://HOST:PORT`), and it is stopped with a chosen signal, killed if it does not
end in time. Imported as `from emulator_process import ...`: pytest puts `tests/` on `sys.path`.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import pytest
import requests

BANNER = re.compile(r"listening on (?P<url>\S+)\s*$")
HEALTH = "/__emulator/health"
POLL_TIMEOUT = 0.5
EXIT_SECONDS = 20.0


def ctrl_c_reaches_children() -> bool:
    """False when this process ignores SIGINT (say, pytest started in the background by a script):
    children inherit the ignored signal, and can then only be terminated."""
    return signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def without_emulator_variables(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its EMULATOR_* variables, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EMULATOR_")}
    return {**clean, **env}


class EmulatorProcess:
    """One subprocess (usually `... serve ...`); its stdout and stderr are drained by threads.

    `env=None` passes this process's environment unchanged; a mapping replaces it with this process's
    environment minus its EMULATOR_* variables, plus the mapping.
    """

    def __init__(self, command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else without_emulator_variables(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._stdout_lines: queue.Queue[str | None] = queue.Queue()
        assert self.process.stdout is not None and self.process.stderr is not None
        self._pumps = [
            threading.Thread(target=_pump, args=(self.process.stdout, self._stdout, self._stdout_lines), daemon=True),
            threading.Thread(target=_pump, args=(self.process.stderr, self._stderr, None), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        self.announced_url = ""  # the banner's URL as printed
        self.base_url = ""  # the same, usable from here: 0.0.0.0 becomes 127.0.0.1

    def wait_for_banner(self, deadline: float) -> str:
        """The base URL from the `listening on URL` banner (0.0.0.0 mapped to 127.0.0.1); fails the test
        if the banner is not out by `deadline` (a `time.monotonic()` value) or the process exits first."""
        self.announced_url = self.wait_for_line(BANNER, deadline)["url"]
        self.base_url = self.announced_url.replace("://0.0.0.0:", "://127.0.0.1:")
        return self.base_url

    def wait_for_health(self, deadline: float) -> str:
        """Poll `base_url` + /__emulator/health until it answers `"status": "ok"`; fails the test if it
        does not by `deadline` or the process exits. The base URL."""
        while not _answers_health(self.base_url):
            if time.monotonic() > deadline or self.exit_status() is not None:
                pytest.fail(f"{self.base_url}{HEALTH} never answered:\n{self.output()}")
            time.sleep(0.05)  # noqa: sleep-ok: bounded poll: the socket answered but not yet as a server
        return self.base_url

    def wait_for_line(self, pattern: re.Pattern[str], deadline: float) -> re.Match[str]:
        """Read stdout up to the first line that matches `pattern` (lines before it are kept, not matched again)."""
        while True:
            try:
                line = self._stdout_lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                pytest.fail(f"no line matching {pattern.pattern!r} in time:\n{self.output()}")
            if line is None:
                pytest.fail(f"the emulator exited ({self.process.wait()}) before {pattern.pattern!r}:\n{self.output()}")
            match = pattern.search(line)
            if match:
                return match

    def stop(self, sig: signal.Signals | None = None, timeout: float = EXIT_SECONDS) -> int:
        """Send `sig` (default: SIGINT, or SIGTERM when Ctrl-C would not reach children; see
        `ctrl_c_reaches_children`); kill if the process has not ended after `timeout` seconds.
        Idempotent; the exit status, once all output is read."""
        if self.process.poll() is None:
            if sig is None:
                sig = signal.SIGINT if ctrl_c_reaches_children() else signal.SIGTERM
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pump in self._pumps:
            pump.join(timeout=timeout)
        return self.process.returncode

    def exit_status(self) -> int | None:
        """None while the process runs, else its exit status."""
        return self.process.poll()

    def stdout(self) -> str:
        """Everything printed on stdout (complete once stopped)."""
        return "".join(self._stdout)

    def stderr(self) -> str:
        """Everything printed on stderr (complete once stopped)."""
        return "".join(self._stderr)

    def output(self) -> str:
        """stdout and stderr, labelled: for failure messages."""
        return f"--- stdout\n{self.stdout()}--- stderr\n{self.stderr()}"


def _pump(stream: IO[str], sink: list[str], lines: queue.Queue[str | None] | None) -> None:
    for line in stream:
        sink.append(line)
        if lines is not None:
            lines.put(line)
    if lines is not None:
        lines.put(None)


def _answers_health(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}{HEALTH}", timeout=POLL_TIMEOUT).json()["status"] == "ok"
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
