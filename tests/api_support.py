"""Shared pieces of the API tests: settings without the developer's environment, samples, helpers."""

from __future__ import annotations

from recruit_reveal import schema
from recruit_reveal.settings import Settings, load_settings

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SAMPLES = list(schema.SAMPLE_ATHLETES)  # the earlier system's three sample athletes
QB = SAMPLES[0]

PREDICTION_FIELDS = {
    "predicted_division", "predicted_tier", "confidence_score", "probability", "probabilities",
    "position", "model_version", "notes", "goals", "switches", "calendar_advice",
    "imputation_flags", "data_completeness_warning", "what_if_results", "top_factors",
}


def settings(**overrides) -> Settings:
    """Settings from an empty environment, so the developer's MODEL_VERSION etc. cannot leak in."""
    return load_settings({}).replace(**overrides)


def detail(response) -> str:
    """The ``detail`` of an error answer, after checking the error body's shape."""
    body = response.json()
    assert set(body) >= {"detail", "errors"}
    return body["detail"]


def add_version(models_dir, result, version: str, changelog: str) -> None:
    """Export ``result`` as ``version`` next to the models already in ``models_dir``."""
    from recruit_reveal.artifacts.writer import save_pipeline

    save_pipeline(result, models_dir, version, promote=False, changelog=changelog)


def broken_pipeline():
    """Verifies and loads like a model, then fails on use (like stale feature code).

    Made of scikit-learn types only, so its skops file loads: a class of the tests
    would be refused at load time as an untrusted type, before any test prediction.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from recruit_reveal.schema import DIVISIONS

    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.normal(size=(40, 3)), rng.choice(DIVISIONS, 40))
