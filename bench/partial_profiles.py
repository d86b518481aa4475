"""Partial profiles: calibration and log loss of predictions without a per-game rate.

Per position, a model is trained (with its measurables-only model and games
histogram, as training does) on one seeded synthetic sample and scored on
held-out rows drawn independently (another seed: no row is in both), three ways:

* **full**: every input as generated;
* **total kept**: the per-game rate and the games played removed, the season
  total kept (the prediction integrates over games);
* **no production**: every production input removed (games, the season
  statistics and the junior season; the measurables-only model answers).

Goals: ECE <= 0.05 on the pooled held-out rows of every case; with the total kept,
log loss closer to the full model's than to the measurables-only model's; with no
production, within 0.02 of the measurables-only model's.  The exact Bayes posterior
with the same columns missing is the reference (with the total kept it ignores the
total, so it is a floor for what the total adds: the posterior given a total
without games is not in closed form).

Reproduce: ``python -m bench.partial_profiles``
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from recruit_reveal.data import generative_model, posterior, production, synthetic
from recruit_reveal.modeling import probabilities, scoring
from recruit_reveal.modeling.estimators import build_pipeline, encode_divisions
from recruit_reveal.modeling.metrics import expected_calibration_error
from recruit_reveal.modeling.partial_profiles import fit_partial_profiles
from recruit_reveal.schema import POSITIONS

from ._common import Goal, Section, table

TRAIN_ROWS, TEST_ROWS = 5000, 20000
SMOKE_TRAIN_ROWS, SMOKE_TEST_ROWS = 1500, 3000
TRAIN_SEED, TEST_SEED = 11, 12
CASES = ("full", "total kept", "no production")

GOAL_ECE = 0.05
GOAL_NO_PRODUCTION = 0.02


@dataclass(frozen=True)
class Evaluation:
    """Held-out probabilities of one position, per case, with the truth and references."""

    position: str
    target: np.ndarray
    proba: dict[str, np.ndarray]
    #: The measurables-only model on the rows (the comparison of the goals).
    measurables: np.ndarray
    bayes: dict[str, np.ndarray]

    def log_loss(self, proba: np.ndarray) -> float:
        p = np.clip(proba[np.arange(len(self.target)), self.target], 1e-15, 1.0)
        return float(-np.log(p).mean())


def _remove(x: np.ndarray, names: list[str], position: str) -> np.ndarray:
    numeric = probabilities.numeric_names(position)
    out = x.copy()
    out[:, [numeric.index(n) for n in names]] = np.nan
    return out


def _bayes_without(frame, names: list[str], position: str) -> np.ndarray:
    """The exact posterior with ``names`` removed.  Removed by us, the junior season's
    absence says nothing about the division: its missingness term is divided out."""
    proba = posterior.true_proba(frame.drop(columns=names), position)
    model = generative_model.position_model(position)
    junior = model.columns[model.junior_idx[0]]
    if junior in names:
        present = frame[junior].notna().to_numpy()
        proba = proba.copy()
        proba[present] /= model.junior_missing[None, :]
        proba /= proba.sum(axis=1, keepdims=True)
    return proba


def evaluate(position: str, train_rows: int, test_rows: int) -> Evaluation:
    """Train on one sample, score independent held-out rows in the three cases."""
    train = synthetic.generate(position, train_rows, seed=TRAIN_SEED)
    test = synthetic.generate(position, test_rows, seed=TEST_SEED)
    inputs = [c for c in train.columns if c not in ("name", "position", "division")]
    pipeline = build_pipeline(position).fit(train[inputs], train["division"])
    fit_partial_profiles(pipeline, train[inputs], train["division"], position)
    scorer = scoring.build_scorer(pipeline, position)
    numeric = probabilities.numeric_names(position)
    x = test[numeric].to_numpy(dtype="float64")
    state = test["state"].to_numpy(dtype=object)
    rule = production.rate_of(position)
    assert rule is not None, f"{position} has no production rate to integrate over"
    everything = list(production.production_columns(position))
    removed = {"full": [], "total kept": [rule.rate, rule.games],
               "no production": everything}
    proba = {case: scorer.predict_arrays(_remove(x, names, position), state)
             for case, names in removed.items()}
    bayes = {case: _bayes_without(test, names, position) for case, names in removed.items()}
    measurables = pipeline.partial_profiles_["measurables_model"]
    blank = probabilities.model_frame(_remove(x, everything, position), state, position)
    return Evaluation(position, encode_divisions(test["division"]), proba,
                      probabilities.predict_proba(measurables, blank), bayes)


def run(smoke: bool = False) -> Section:
    train_rows, test_rows = (SMOKE_TRAIN_ROWS, SMOKE_TEST_ROWS) if smoke else (TRAIN_ROWS,
                                                                               TEST_ROWS)
    with threadpool_limits(1):
        evals = [evaluate(pos, train_rows, test_rows) for pos in POSITIONS]
    rows = []
    for e in evals:
        full, meas = e.log_loss(e.proba["full"]), e.log_loss(e.measurables)
        for case in CASES:
            rows.append([e.position, case, f"{e.log_loss(e.proba[case]):.4f}",
                         f"{expected_calibration_error(e.target, e.proba[case]):.4f}",
                         f"{e.log_loss(e.bayes[case]):.4f}", f"{full:.4f}", f"{meas:.4f}"])
    target = np.concatenate([e.target for e in evals])
    goals = []
    for case in CASES:
        pooled = np.vstack([e.proba[case] for e in evals])
        ece = expected_calibration_error(target, pooled)
        goals.append(Goal(f"partial profiles, {case}: ECE on pooled held-out rows",
                          f"<= {GOAL_ECE}", f"{ece:.4f}", ece <= GOAL_ECE))
    goals += _log_loss_goals(evals)
    md = "\n".join([
        "## Partial profiles: predictions without a per-game rate",
        "",
        f"Per position, trained on {train_rows:,} synthetic rows (seed {TRAIN_SEED}) and "
        f"scored on {test_rows:,} independent held-out rows (seed {TEST_SEED}). "
        "*total kept*: rate and games removed, the season total kept (integrated over the "
        "games histogram); *no production*: every production input removed (the "
        "measurables-only model). Bayes: the exact posterior with the same columns "
        "missing (with the total kept it ignores the total).",
        "",
        table(["position", "case", "log loss", "ECE", "Bayes log loss", "full model",
               "measurables-only model"], rows),
        "",
        "Reproduce: `python -m bench.partial_profiles`",
        "",
    ])
    return Section(md, tuple(goals))


def _log_loss_goals(evals: list[Evaluation]) -> list[Goal]:
    goals = []
    for e in evals:
        full, meas = e.log_loss(e.proba["full"]), e.log_loss(e.measurables)
        kept, none = e.log_loss(e.proba["total kept"]), e.log_loss(e.proba["no production"])
        goals.append(Goal(f"partial profiles {e.position}, total kept: log loss nearer the "
                          "full model's than the measurables-only model's",
                          "nearer full than measurables-only",
                          f"{kept:.4f} (full {full:.4f}, measurables {meas:.4f})",
                          abs(kept - full) < abs(kept - meas)))
        goals.append(Goal(f"partial profiles {e.position}, no production: log loss vs the "
                          "measurables-only model's", f"within {GOAL_NO_PRODUCTION}",
                          f"{none - meas:+.4f}", abs(none - meas) <= GOAL_NO_PRODUCTION))
    return goals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="small samples")
    args = parser.parse_args(argv)
    section = run(args.smoke)
    print(section.markdown)
    for goal in section.goals:
        print(f"{goal.verdict:>12}  {goal.name}: {goal.measured} (goal {goal.target})")
    return 0 if all(g.met is not False for g in section.goals) else 1


if __name__ == "__main__":
    sys.exit(main())
