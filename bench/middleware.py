"""What the middleware stack costs: GET /health/live against a bare Starlette GET.

Two servers run side by side, one uvicorn worker each, with the same uvicorn options
(``recruit_reveal.api.app.uvicorn_options``: uvloop and httptools when installed):

- ``recruit-reveal serve`` with every middleware on: request ids, metrics, the Host
  check (TRUSTED_HOSTS), a rate limit (RATE_LIMIT; /health is exempt from it, so the
  limiter only looks the route up) and the body limit;
- a bare Starlette app (no middleware) with one GET route answering the same JSON body.

`wrk` (1 thread, 32 connections, on 127.0.0.1 only) loads them in turn, alternating
which goes first, and the medians of the rounds are compared.  /health/live touches no
model, so the product serves an empty models folder here: the difference between the two
is the stack a request passes through before and after its route (FastAPI's routing and
serialisation included), not scoring.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ._common import Goal, Section, stop_server, table
from .serving import ROOT, _free_port

#: Product GET health throughput with all middleware, as a share of a bare Starlette GET.
GOAL_SHARE = 0.60
CONNECTIONS = 32
PATH = "/health/live"

#: The bare app: no middleware, one route, served with the product's uvicorn options.
_BARE = f"""
import sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from recruit_reveal.api.app import uvicorn_options
from recruit_reveal.settings import Settings

PATH = {PATH!r}

async def live(request):
    return JSONResponse({{"status": "alive"}})

app = Starlette(routes=[Route(PATH, live)])
options = uvicorn_options(Settings(port=int(sys.argv[1]), host="127.0.0.1",
                                   access_log=False), "warning")
uvicorn.run(app, **options)
"""


def _wait(proc: subprocess.Popen[bytes], port: int, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{what} did not answer GET {PATH} within 60 s")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{PATH}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)


def _product(models: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODEL_", "RATE_LIMIT", "WORKERS", "RELEASE_POLL", "METRICS",
                                "LOG_FORMAT", "TRUSTED_HOSTS", "PREDICTION_LOG"))}
    env.update(MODEL_DIR=str(models), ACCESS_LOG="0", METRICS="1",
               RATE_LIMIT="1000000/minute", TRUSTED_HOSTS="127.0.0.1")
    command = Path(sys.executable).with_name("recruit-reveal")
    proc = subprocess.Popen([str(command), "--quiet", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(proc, port, "recruit-reveal serve")
    return proc, port


def _bare() -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _BARE, str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(proc, port, "the bare Starlette app")
    return proc, port


def _wrk(port: int, seconds: int) -> float:
    """Requests per second `wrk` saw; its errors (non-2xx, socket errors) fail the run."""
    out = subprocess.run(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s",
                          f"http://127.0.0.1:{port}{PATH}"],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors on port {port}:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    return float(found.group(1))


def run(smoke: bool = False) -> Section:
    if shutil.which("wrk") is None:
        goal = Goal("GET health with all middleware, share of bare Starlette GET",
                    f">= {GOAL_SHARE:.0%}", "not measured", None,
                    "wrk is not installed (Debian package wrk)")
        return Section(markdown="## Middleware cost\n\nNot measured: `wrk` is missing.\n",
                       goals=(goal,))
    rounds, seconds = (2, 1) if smoke else (5, 10)
    with tempfile.TemporaryDirectory() as tmp:
        servers = {"product": _product(Path(tmp)), "bare": _bare()}
        try:
            runs: dict[str, list[float]] = {"product": [], "bare": []}
            for i in range(rounds):
                # Alternate the order, so neither server always meets a warmer machine.
                for name in ("product", "bare") if i % 2 == 0 else ("bare", "product"):
                    runs[name].append(_wrk(servers[name][1], seconds))
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    product, bare = statistics.median(runs["product"]), statistics.median(runs["bare"])
    share = product / bare
    rows = [[label, f"{statistics.median(runs[name]):.0f}",
             ", ".join(f"{x:.0f}" for x in runs[name])]
            for name, label in (("product", f"recruit-reveal `GET {PATH}`, all middleware"),
                                ("bare", "bare Starlette GET, no middleware"))]
    markdown = (
        "## Middleware cost: GET health against a bare Starlette GET\n\n"
        f"One uvicorn worker each, the same uvicorn options, side by side; `wrk -t1 "
        f"-c{CONNECTIONS} -d{seconds}s` on 127.0.0.1, {rounds} rounds in alternating order. "
        "The product runs request ids, metrics, the Host check, a rate limit and the "
        "body limit.\n\n"
        + table(["server", "median requests/s", "rounds"], rows)
        + f"\n\nThe product's GET health: {share:.1%} of the bare GET.\n\n"
        "Reproduce: `python -m bench.middleware`\n")
    goal = Goal("GET health with all middleware, share of bare Starlette GET",
                f">= {GOAL_SHARE:.0%}", f"{share:.1%}", share >= GOAL_SHARE,
                f"{(share - GOAL_SHARE) * 100:+.1f} points")
    return Section(markdown=markdown, goals=(goal,))


if __name__ == "__main__":
    print(run().markdown)
