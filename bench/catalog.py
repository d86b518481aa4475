"""The football as data: the default catalog against the product before the catalog, and a
catalog position trained on its own sample against its Bayes ceiling.

1. Identical probabilities.  ``bench/reference/default_catalog_probabilities.json`` holds,
   for every default position and estimator, the sha256 of the float64 probabilities a
   pipeline fitted on data/training.csv gives for every row, as computed by the code of
   commit ff9e6d5, before the catalog:

       git worktree add /tmp/before ff9e6d5
       .venv/bin/python -m bench.catalog --reference-from /tmp/before > bench/reference/...

   The current code must give the same bytes.
2. A catalog position against its ceiling.  The five-level test catalog's TE and LB are
   drawn from their sample sections (train and test sets with different seeds), a pipeline
   is fitted on the train set, and its exact accuracy on the test set is compared with the
   accuracy of the exact posterior's argmax on the same rows (goal >= 0.95, as for the
   default positions).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ._common import Goal, Section, table

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "reference" / "default_catalog_probabilities.json"
FIVE_LEVELS = ROOT / "tests" / "fixtures" / "catalog_five_levels.toml"
TRAIN_ROWS, TEST_ROWS = 2_000, 20_000
SMOKE_TRAIN_ROWS, SMOKE_TEST_ROWS = 400, 1_000
CEILING_GOAL = 0.95


def default_probabilities(csv: Path = ROOT / "data" / "training.csv") -> dict[str, dict]:
    """Per ``position/estimator``: rows, sha256 of the probabilities' bytes, the first row."""
    from recruit_reveal.data.loading import load_training_data
    from recruit_reveal.modeling.estimators import ESTIMATORS, build_pipeline

    out = {}
    for pos in ("qb", "rb", "wr"):
        data = load_training_data(csv, pos)
        for estimator in sorted(ESTIMATORS):
            pipe = build_pipeline(pos, estimator).fit(data.frame, data.target)
            proba = np.ascontiguousarray(pipe.predict_proba(data.frame), dtype="<f8")
            out[f"{pos}/{estimator}"] = {"rows": int(proba.shape[0]),
                                         "sha256": hashlib.sha256(proba.tobytes()).hexdigest(),
                                         "first_row": proba[0].tolist()}
    return out


def _identical() -> tuple[str, Goal]:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    now = default_probabilities()
    same = [key for key in reference if now.get(key, {}).get("sha256") == reference[key]["sha256"]]
    rows = [[key, reference[key]["rows"], "identical" if key in same else "**differs**"]
            for key in sorted(reference)]
    text = ("Every default position and estimator, fitted on data/training.csv, against the "
            "probabilities of the code before the catalog (sha256 of the float64 bytes):\n\n"
            + table(["position/estimator", "rows", "probabilities"], rows))
    goal = Goal("default catalog: probabilities identical to the code before the catalog",
                "all identical", f"{len(same)} of {len(reference)}", len(same) == len(reference))
    return text, goal


def _against_ceiling(smoke: bool) -> tuple[str, list[Goal]]:
    from recruit_reveal.catalog import load_catalog
    from recruit_reveal.data import posterior, synthetic
    from recruit_reveal.modeling.estimators import build_pipeline

    catalog = load_catalog(FIVE_LEVELS)
    n_train, n_test = (SMOKE_TRAIN_ROWS, SMOKE_TEST_ROWS) if smoke else (TRAIN_ROWS, TEST_ROWS)
    rows, goals = [], []
    for key in ("te", "lb"):
        spec = catalog.position(key)
        train = synthetic.generate(spec, n_train, seed=11, catalog=catalog)
        test = synthetic.generate(spec, n_test, seed=12, catalog=catalog)
        inputs = spec.feature_names
        model = build_pipeline(spec.to_dict()).fit(train[inputs], train["division"])
        y = np.array([spec.levels.index(d) for d in test["division"]])
        model_exact = float((model.predict_proba(test[inputs]).argmax(1) == y).mean())
        bayes = posterior.true_proba(test, spec, catalog=catalog)
        ceiling = float((bayes.argmax(1) == y).mean())
        share = model_exact / ceiling
        rows.append([key, len(spec.levels), n_train, n_test, f"{model_exact:.3f}",
                     f"{ceiling:.3f}", f"{share:.3f}"])
        goals.append(Goal(f"{key} (five-level test catalog): exact accuracy / Bayes ceiling",
                          f">= {CEILING_GOAL}", f"{share:.3f}", share >= CEILING_GOAL))
    text = ("Positions of the five-level test catalog (tests/fixtures/catalog_five_levels.toml), "
            "trained on their own sample and tested on fresh rows:\n\n"
            + table(["position", "levels", "train rows", "test rows", "model exact",
                     "Bayes exact", "share of ceiling"], rows))
    return text, goals


def run(smoke: bool = False) -> Section:
    identical, goal = _identical()
    ceiling, goals = _against_ceiling(smoke)
    return Section("## The catalog\n\n" + identical + "\n\n" + ceiling
                   + "\n\nReproduce: `python -m bench.catalog`", (goal, *goals))


def _use_tree(tree: str) -> None:
    """Import ``recruit_reveal`` from another checkout: the editable install's finder
    would otherwise answer first, whatever sys.path says."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, str(Path(tree).resolve()))
    for name in [m for m in sys.modules if m == "recruit_reveal" or m.startswith("recruit_reveal.")]:
        del sys.modules[name]
    import recruit_reveal

    assert Path(recruit_reveal.__file__).is_relative_to(Path(tree).resolve()), recruit_reveal.__file__


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reference-from"]:
        _use_tree(sys.argv[2])
        json.dump(default_probabilities(), sys.stdout, indent=1, sort_keys=True)
    else:
        print(run(smoke="--smoke" in sys.argv).markdown)
