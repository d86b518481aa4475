"""A real PostgreSQL server on 127.0.0.1, started by the tests: Debian's postgresql.

When initdb/pg_ctl are missing they are installed with apt-get (CI runs as root on
a fresh Debian machine that reaches the package archive), as redis_support does for
redis-server.  The cluster lives in a temporary folder and is stopped at the end;
PostgreSQL refuses to run as root, so as root the cluster is run as the
``postgres`` user the package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_support import _apt, free_port

STARTUP_SECONDS = 30
PASSWORD = "s3cret-pw"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def postgres_bin_dir() -> Path:
    """The folder of initdb and pg_ctl, installed with apt-get first when missing."""
    folder = _bin_dir()
    if folder is not None:
        return folder
    if shutil.which("apt-get") is None:
        pytest.fail("PostgreSQL is not installed and apt-get is not available to install it: "
                    "install the postgresql package to run the SQL source tests")
    done = _apt("install", "-y", "postgresql")
    if done.returncode != 0:
        _apt("update")  # a fresh machine has no package lists yet
        done = _apt("install", "-y", "postgresql")
    folder = _bin_dir()
    if done.returncode != 0 or folder is None:
        pytest.fail(f"could not install postgresql with apt-get (exit {done.returncode}):\n"
                    f"{(done.stdout + done.stderr)[-2000:]}")
    return folder


def _as_owner(args: list[str], owner: str | None) -> list[str]:
    return args if owner is None else ["runuser", "-u", owner, "--", *args]


@contextlib.contextmanager
def running_postgres(folder: Path) -> Iterator[str]:
    """A private cluster on 127.0.0.1 and a free port, password-protected; yields its
    SQLAlchemy URL (with the password: the tests check it never shows)."""
    bins = postgres_bin_dir()
    owner = "postgres" if os.geteuid() == 0 else None
    if owner is not None:
        # pytest's folders are root's alone (0700): the cluster's owner could not reach them.
        folder = Path(tempfile.mkdtemp(prefix="rr-pg-"))
    data = folder / "pgdata"
    folder.mkdir(parents=True, exist_ok=True)
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD)
    if owner is not None:
        shutil.chown(folder, owner)
        shutil.chown(pwfile, owner)
    subprocess.run(_as_owner([str(bins / "initdb"), "-D", str(data), "-U", "rr", "-A",
                              "scram-sha-256", "--pwfile", str(pwfile)], owner),
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    log = folder / "postgres.log"
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}"
    subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(data), "-l", str(log), "-o",
                              options, "-w", "-t", str(STARTUP_SECONDS), "start"], owner),
                   check=False, capture_output=True, timeout=STARTUP_SECONDS + 10)
    try:
        url = f"postgresql+psycopg://rr:{PASSWORD}@127.0.0.1:{port}/postgres"
        _wait(url, log)
        yield url
    finally:
        subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                                 owner), check=False, capture_output=True, timeout=60)
        if owner is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _wait(url: str, log: Path) -> None:
    import sqlalchemy as sa

    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect():
                return
        except sa.exc.OperationalError:
            if time.monotonic() > deadline:
                text = log.read_text() if log.exists() else "(no log)"
                pytest.fail(f"PostgreSQL did not start:\n{text[-2000:]}")
            time.sleep(0.2)
        finally:
            engine.dispose()
