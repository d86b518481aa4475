"""Headless Chromium for the browser tests, driven over the DevTools protocol.

:func:`chromium_path` installs the Debian ``chromium`` package when it is
missing (CI runs as root on a fresh machine) and fails the test, with the
reason, when that is impossible: a browser test that is skipped proves
nothing.  :class:`Browser` starts one headless instance with a fresh profile
and the flags that keep it off the network, and speaks the protocol through
``websockets`` (installed with uvicorn[standard]).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "chromium"
INSTALL_TIMEOUT_SECONDS = 900
#: Without these Chromium tries to reach the network (updates, sync, field trials).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-port=0", "--remote-allow-origins=*")
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_path() -> str:
    """The chromium binary, installed with apt-get when missing; pytest.fail if it can't be."""
    found = shutil.which(CHROMIUM)
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail("the browser test needs Chromium: install the Debian package `chromium` "
                    "(apt-get install -y chromium, as root); it is not installed and this "
                    "process cannot install it", pytrace=False)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    outputs = []
    for command in ([apt, "install", "-y", CHROMIUM], [apt, "update"],
                    [apt, "install", "-y", CHROMIUM]):
        proc = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT_SECONDS)
        outputs.append(f"$ {' '.join(command)} -> {proc.returncode}\n{proc.stderr[-1500:]}")
        if command[1] == "install" and proc.returncode == 0 and shutil.which(CHROMIUM):
            return str(shutil.which(CHROMIUM))
    pytest.fail("could not install Chromium for the browser test:\n" + "\n".join(outputs),
                pytrace=False)


class Browser:
    """One headless Chromium and one page; ``errors`` collects what its console reported."""

    def __init__(self, binary: str, profile: Path, width: int = 1366, height: int = 900,
                 extra_flags: tuple[str, ...] = ()):
        from websockets.sync.client import connect

        self.proc = subprocess.Popen(
            [binary, *FLAGS, *extra_flags, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        browser_url = self._wait_for_devtools()
        port = browser_url.split("//", 1)[1].split("/", 1)[0]
        with urllib.request.urlopen(f"http://{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t.get("type") == "page")
        self._closing = contextlib.ExitStack()
        self.ws = self._closing.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(method)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _wait_for_devtools(self) -> str:
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                lines.put(line)

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            found = _LISTENING.search(line)
            if found:
                return found.group(1)
        self.close()
        raise AssertionError("Chromium did not start its DevTools endpoint:\n"
                             + "".join(self.stderr[-30:]))

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events seen meanwhile are kept."""
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.ws.recv(
                timeout=max(0.1, deadline - time.monotonic()))))

    def open(self, path: Path) -> None:
        """Load ``path`` and wait for its load event (images and styles included)."""
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def goto(self, url: str) -> None:
        """Load ``url`` (an http:// page of a test server) and wait for its load event."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads since the last :meth:`open`."""
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                out.append(str(details.get("exception", {}).get("description")
                               or details.get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                out.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        return out

    def links(self) -> list[str]:
        """Every href and src of the page, resolved against it (absolute URLs)."""
        return list(self.evaluate(
            "Array.from(document.querySelectorAll('[href], [src]')).map(e => new URL("
            "e.getAttribute('href') ?? e.getAttribute('src'), document.baseURI).href)"))

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        closing = getattr(self, "_closing", None)
        if closing is not None:
            closing.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
