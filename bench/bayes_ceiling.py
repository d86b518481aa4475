"""The Bayes ceiling of the synthetic sample, and how exact its posterior is.

For each position: 50,000 fresh rows (seed ``posterior.CEILING_SEED``), the
accuracy of the argmax of ``posterior.true_proba`` (the best any model can do
on this data), its calibration, the effect of publishing rounded values (the
posterior treats them as exact), and the time to generate and to score.
The figures are quoted in data/README.md and in the catalog sample sections (``posterior.quoted_ceiling``).
"""

from __future__ import annotations

import math

import numpy as np

from recruit_reveal.data import generative_model, posterior, synthetic
from recruit_reveal.schema import DIVISIONS, POSITIONS, TARGET_COLUMN

from ._common import Goal, Section, median_time, table

ROWS = 50_000
SMOKE_ROWS = 2_000
REPEATS = 5
EXACT_GOAL = (0.60, 0.75)
WITHIN_ONE_GOAL = 0.93


def _unrounded_proba(position: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Posterior from the published (rounded) values and from the exact latent values."""
    frame, exact = synthetic._generate(position, n, seed)
    model = generative_model.position_model(position)
    unrounded = frame.copy()
    for j, name in enumerate(model.columns):
        unrounded[name] = np.where(frame[name].isna(), np.nan, exact[:, j])
    return posterior.true_proba(frame, position), posterior.true_proba(unrounded, position)


def measure(position: str, n: int, repeats: int) -> dict:
    seed = posterior.CEILING_SEED
    frame = synthetic.generate(position, n, seed)
    proba = posterior.true_proba(frame, position)
    metrics = posterior.ceiling_metrics(proba, frame[TARGET_COLUMN])
    y = np.array([DIVISIONS.index(d) for d in frame[TARGET_COLUMN]])
    freq = np.bincount(y, minlength=4) / n
    calib_gap = float(np.abs(proba.mean(axis=0) - freq).max())
    rounded, unrounded = _unrounded_proba(position, n, seed)
    gen_time, _ = median_time(lambda: synthetic.generate(position, n, seed), repeats)
    proba_time, _ = median_time(lambda: posterior.true_proba(frame, position), repeats)
    p_un = np.clip(unrounded[np.arange(n), y], 1e-15, 1)
    return {
        **metrics,
        "se_exact": math.sqrt(metrics["exact_accuracy"] * (1 - metrics["exact_accuracy"]) / n),
        "calibration_gap": calib_gap,
        "rounding_max_abs": float(np.abs(rounded - unrounded).max()),
        "rounding_mean_abs": float(np.abs(rounded - unrounded).mean()),
        "rounding_argmax_agree": float((rounded.argmax(1) == unrounded.argmax(1)).mean()),
        "unrounded_exact": float((unrounded.argmax(1) == y).mean()),
        "unrounded_log_loss": float(-np.log(p_un).mean()),
        "generate_s": gen_time,
        "true_proba_s": proba_time,
        "quoted": posterior.quoted_ceiling(position),
    }


def run(smoke: bool = False) -> Section:
    n = SMOKE_ROWS if smoke else ROWS
    repeats = 1 if smoke else REPEATS
    results = {pos: measure(pos, n, repeats) for pos in POSITIONS}
    rows = [[pos.upper(), f"{r['exact_accuracy']:.4f} ± {r['se_exact']:.4f}",
             f"{r['within_one_accuracy']:.4f}", f"{r['log_loss']:.4f}",
             f"{r['calibration_gap']:.4f}", f"{r['generate_s']:.3f} s",
             f"{r['true_proba_s']:.3f} s"] for pos, r in results.items()]
    rounding = [[pos.upper(), f"{r['rounding_mean_abs']:.2e}", f"{r['rounding_max_abs']:.4f}",
                 f"{r['rounding_argmax_agree']:.5f}",
                 f"{r['unrounded_exact'] - r['exact_accuracy']:+.4f}",
                 f"{r['unrounded_log_loss'] - r['log_loss']:+.4f}"] for pos, r in results.items()]
    md = "\n".join([
        "## Bayes ceiling of the synthetic sample",
        "",
        f"{n:,} generated rows per position (seed {posterior.CEILING_SEED}); the Bayes-optimal "
        "classifier is the argmax of `posterior.true_proba`. ± is one binomial standard error. "
        "Calibration gap: largest |mean predicted probability − empirical frequency| over the "
        f"four divisions. Times are medians of {repeats} runs on {n:,} rows.",
        "",
        table(["position", "exact", "within one", "log loss", "calibration gap",
               "generate", "true_proba"], rows),
        "",
        "Effect of rounding the published values (the posterior treats them as exact): "
        "posterior from the published values versus from the unrounded latent values.",
        "",
        table(["position", "mean abs Δp", "max abs Δp", "same argmax", "Δ exact (unrounded − "
               "published)", "Δ log loss"], rounding),
        "",
        "Reproduce: `python -m bench.bayes_ceiling`",
    ])
    goals = []
    for pos, r in results.items():
        lo, hi = EXACT_GOAL
        goals.append(Goal(f"{pos} Bayes ceiling, exact", f"{lo:.0%}–{hi:.0%}",
                          f"{r['exact_accuracy']:.1%}", lo <= r["exact_accuracy"] <= hi))
        goals.append(Goal(f"{pos} Bayes ceiling, within one", f">= {WITHIN_ONE_GOAL:.0%}",
                          f"{r['within_one_accuracy']:.1%}",
                          r["within_one_accuracy"] >= WITHIN_ONE_GOAL,
                          f"{r['within_one_accuracy'] - WITHIN_ONE_GOAL:+.1%}"))
        if not smoke:
            quoted = r["quoted"]["exact_accuracy"]
            goals.append(Goal(f"{pos} quoted ceiling matches", "abs(quoted − measured) < 0.001",
                              f"{quoted:.4f} vs {r['exact_accuracy']:.4f}",
                              abs(quoted - r["exact_accuracy"]) < 1e-3))
    return Section(md, tuple(goals))


if __name__ == "__main__":
    print(run().markdown)
