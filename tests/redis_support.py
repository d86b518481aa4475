"""A real Redis server on 127.0.0.1, started by the tests: Debian's redis-server.

When redis-server is missing it is installed with apt-get (CI runs as root on a
fresh Debian machine that reaches the package archive); when that is impossible
the fixture fails, saying why, rather than skipping the shared-limit tests.
The server keeps nothing on disk and is stopped at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_SECONDS = 20
INSTALL_SECONDS = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env,
                          timeout=INSTALL_SECONDS, check=False)


def redis_server_binary() -> str:
    """The path of redis-server, installed with apt-get first when it is missing."""
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.fail("redis-server is not installed and apt-get is not available to install "
                    "it: install Redis (e.g. the redis-server package) to run the shared "
                    "rate limit tests")
    done = _apt("install", "-y", "redis-server")
    if done.returncode != 0:
        _apt("update")  # a fresh machine has no package lists yet
        done = _apt("install", "-y", "redis-server")
    found = shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if done.returncode != 0 or not found:
        pytest.fail(f"could not install redis-server with apt-get (exit {done.returncode}):\n"
                    f"{(done.stdout + done.stderr)[-2000:]}")
    return found


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def running_redis(folder: Path) -> Iterator[str]:
    """A redis-server on 127.0.0.1 and a free port, keeping nothing on disk; yields its URL.

    Stopped (by its process id) when the block ends, whatever happens.
    """
    binary = redis_server_binary()
    port = free_port()
    log = folder / "redis.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(folder), "--protected-mode", "yes"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}:\n"
                            f"{log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def flush(url: str) -> str:
    """Empty the database of ``url`` (so no test sees another's counts); returns ``url``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url
