"""What verifying signatures costs a model load: registry.load with and without VERIFY_KEY.

Every position is exported once, signed with a fresh key pair; then loads with and
without verification alternate in one run, so both see the same machine.  A worker
pays this once per version it loads (at start and when it follows a release), never
per request.

Reproduce: ``python -m bench.signatures``
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from recruit_reveal.artifacts import registry, signatures, writer
from recruit_reveal.data.synthetic import write_sample
from recruit_reveal.modeling.training import train_position
from recruit_reveal.schema import POSITIONS

from ._common import Goal, Section, table

REPEATS = 15
SMOKE_REPEATS = 2
#: Added time per version load that would still be negligible next to the load itself
#: and to the release poll interval (1 s).
GOAL_MS = 20.0


def _export_signed(folder: Path, rows: int) -> Path:
    private, public = signatures.create_key_pair(folder / "keys")
    csv = write_sample(folder / "sample.csv", rows_per_position=rows, seed=7)
    for pos in POSITIONS:
        result = train_position(csv, pos, cv_folds=2)
        writer.save_pipeline(result, folder / "models", "1.0.0", signing_key=private)
    return public


def _load_ms(models: Path, verify_key: Path | None) -> float:
    if verify_key is None:
        os.environ.pop("VERIFY_KEY", None)
    else:
        os.environ["VERIFY_KEY"] = str(verify_key)
    start = time.perf_counter()
    for pos in POSITIONS:
        registry.load(pos, "1.0.0", models)
    return (time.perf_counter() - start) * 1000 / len(POSITIONS)


def run(smoke: bool = False) -> Section:
    repeats = SMOKE_REPEATS if smoke else REPEATS
    saved = os.environ.get("VERIFY_KEY")
    with tempfile.TemporaryDirectory() as root:
        public = _export_signed(Path(root), 200 if smoke else 1000)
        models = Path(root) / "models"
        plain: list[float] = []
        checked: list[float] = []
        try:
            for _ in range(repeats):  # alternate, so drift in the machine hits both
                plain.append(_load_ms(models, None))
                checked.append(_load_ms(models, public))
        finally:
            os.environ.pop("VERIFY_KEY", None)
            if saved is not None:
                os.environ["VERIFY_KEY"] = saved
    without, with_ = statistics.median(plain), statistics.median(checked)
    added = with_ - without
    rows = [["without VERIFY_KEY", f"{without:.1f} ms"],
            ["with VERIFY_KEY (one trusted key)", f"{with_:.1f} ms"],
            ["added by verification", f"{added:+.1f} ms ({with_ / without:.2f}x)"]]
    md = "\n".join([
        "## Signature verification at load",
        "",
        f"Median of {repeats} alternating runs: `registry.load` of one version (skops "
        "file, sha256 of every file, the scikit-learn check), per position, averaged over "
        "QB, RB and WR. With VERIFY_KEY the version's pkl, skops and metadata are also "
        "checked against their OpenSSF model-signing bundle (P-256). A worker pays this "
        "once per version it loads, never per request.",
        "",
        table(["load", "median per version"], rows),
        "",
        "Reproduce: `python -m bench.signatures`",
    ])
    goal = Goal("time verification adds to loading a version", f"<= {GOAL_MS:.0f} ms",
                f"{added:+.1f} ms", added <= GOAL_MS,
                f"{GOAL_MS - added:+.1f} ms")
    return Section(markdown=md, goals=(goal,))


if __name__ == "__main__":
    print(run().markdown)
