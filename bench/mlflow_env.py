"""The benchmark-only virtual environment with MLflow, for the MLflow serving peer.

``python -m bench.mlflow_env`` creates ``.venv-bench-mlflow/`` next to ``.venv/``
(``make bench`` runs it through its own target) and installs MLflow together with
this project (editable), in one resolver run, so the pickled pipeline's
``recruit_reveal`` classes import there.  MLflow never enters the product's
dependencies or ``.venv/``, and ``make test`` never installs it.

A stamp file records what was installed (the requirement and a hash of
pyproject.toml); the environment is rebuilt only when either changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / ".venv-bench-mlflow"
STAMP = ENV / ".installed"
#: Written when the install failed: what was wanted and why it failed.
FAILED = ENV / ".failed"
FAILED_MEMORY_S = 3600
#: MLflow 3 serves pyfunc models with uvicorn (one worker by default), like this
#: project; its sklearn flavour takes ``pyfunc_predict_fn="predict_proba"``.
REQUIREMENT = "mlflow>=3.1,<4"


def _wanted() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    return f"{REQUIREMENT} pyproject:{digest}\n"


def python() -> Path:
    return ENV / "bin" / "python"


def mlflow_cli() -> Path:
    return ENV / "bin" / "mlflow"


def ready() -> bool:
    """The environment exists and holds what this module would install."""
    return (STAMP.is_file() and STAMP.read_text() == _wanted() and python().is_file()
            and mlflow_cli().is_file())


def ensure(quiet: bool = True) -> float:
    """Create or update the environment if needed; seconds spent (0 when it was ready).

    Raises ``RuntimeError`` with pip's last output when the install fails (no
    network, a conflict): the caller reports the peer as not measured.  A failure
    is remembered for an hour, so ``make bench`` (whose own target tried first)
    does not wait for the same failing install twice.
    """
    if ready():
        return 0.0
    if (FAILED.is_file() and time.time() - FAILED.stat().st_mtime < FAILED_MEMORY_S
            and FAILED.read_text().startswith(_wanted())):
        raise RuntimeError(FAILED.read_text()[len(_wanted()):].strip())
    start = time.perf_counter()
    if ENV.exists():
        shutil.rmtree(ENV)
    subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
    command = [str(python()), "-m", "pip", "install", "--disable-pip-version-check",
               REQUIREMENT, "-e", str(ROOT)]
    if quiet:
        command.insert(4, "--quiet")
    proc = subprocess.run(command, capture_output=quiet, text=True, check=False, timeout=1800)
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or "").split())[-600:] if quiet else "see make's output"
        message = f"installing {REQUIREMENT} into {ENV.name} failed: {tail}"
        FAILED.write_text(_wanted() + message)
        raise RuntimeError(message)
    STAMP.write_text(_wanted())
    return time.perf_counter() - start


def versions() -> dict[str, str]:
    """Versions of the libraries that matter for the comparison, inside the environment."""
    code = ("import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in "
            "('mlflow', 'scikit-learn', 'pandas', 'numpy', 'uvicorn')}))")
    out = subprocess.run([str(python()), "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    import json

    return dict(json.loads(out.strip().splitlines()[-1]))


if __name__ == "__main__":
    print(f"[bench] {ENV.name}: {'up to date' if ready() else 'creating ...'}", file=sys.stderr,
          flush=True)
    try:
        spent = ensure(quiet=False)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        # make bench goes on: the MLflow section then reports the peer as not measured.
        print(f"[bench] {exc}; the MLflow peer will not be measured", file=sys.stderr)
        sys.exit(0)
    if spent:
        print(f"[bench] {ENV.name} ready in {spent:.0f} s", file=sys.stderr)
    STAMP.touch()  # newer than pyproject.toml again, so make stops asking
