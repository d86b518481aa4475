"""The package as a team installs it: a wheel in a fresh environment trains every position
with the notebook engine from an empty folder.

The slow packaging test (about a minute): it builds the wheel, installs it into a new venv
and runs the real command line there.  It runs in the default ``pytest`` run on purpose.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSITIONS = ("qb", "rb", "wr")

pytestmark = pytest.mark.packaging


def _run(args: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=900, check=False, **kwargs)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _build_wheel(tmp: Path) -> Path:
    """The wheel of this checkout, built from a copy (an in-tree build leaves build/ behind),
    offline, with the setuptools of this environment."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "recruit_reveal", source / "recruit_reveal",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
          "--no-deps", "--no-index", "--no-build-isolation", "-w", tmp / "dist", source])
    (wheel,) = (tmp / "dist").glob("recruit_reveal-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv holding only the wheel; the libraries come from this environment's
    site-packages through a plain path in a .pth file, whose own .pth files (the
    editable install's finder among them) are therefore never run."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                   .stdout.strip())
    libraries = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib"),
                               *site.getsitepackages()])
    (purelib / "dev-libraries.pth").write_text("\n".join(libraries) + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
          "--disable-pip-version-check", "--no-deps", "--no-index", wheel])
    return venv


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    return _fresh_venv(tmp, _build_wheel(tmp))


def _clean_env() -> dict[str, str]:
    """This environment minus whatever points Python at the checkout.

    The libraries' data files (nbconvert's templates, which the HTML record extends) are
    installed under this environment's prefix, where an install of the wheel with its
    dependencies would have put them under its own: JUPYTER_PATH names them.
    """
    from jupyter_core.paths import ENV_JUPYTER_PATH

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["JUPYTER_PATH"] = os.pathsep.join(ENV_JUPYTER_PATH)
    return env


def test_the_wheel_ships_the_template(installed):
    env = _clean_env()
    code = ("import recruit_reveal, pathlib; from recruit_reveal.release import contract; "
            "print(recruit_reveal.__file__); print(contract.TEMPLATE)")
    out = _run([installed / "bin" / "python", "-c", code], env=env, cwd=installed).stdout
    package, template = map(Path, out.split())
    assert package.is_relative_to(installed), package  # the wheel's copy, not the checkout's
    assert template.is_relative_to(installed) and template.is_file()
    assert template.read_bytes() == (ROOT / "notebooks" / "train_position.ipynb").read_bytes()


def test_the_installed_command_trains_every_position_in_an_empty_folder(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    _run([installed / "bin" / "recruit-reveal", "train", "--csv", ROOT / "data" / "training.csv",
          "--position", "all", "--version", "1.0.0", "--jobs", "2", "--cv-folds", "2"],
         env=_clean_env(), cwd=work)
    for position in POSITIONS:
        assert (work / "models" / f"recruit_reveal_{position}_pipeline_v1.0.0.pkl").is_file()
        record = work / "runs" / "v1.0.0" / f"{position}.ipynb"
        assert record.is_file()
        # The record was run by the installed package.
        assert str(installed) in record.read_text(encoding="utf-8")
