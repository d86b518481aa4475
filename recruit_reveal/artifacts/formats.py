"""The two file formats of a fitted pipeline: skops (loaded by default) and pickle (the earlier one).

* **skops** (``….skops``): a zip of JSON that names every type it holds.
  :func:`load_skops` first lists the types the file names that skops does not
  already trust (its own list of scikit-learn and numpy types) and refuses the
  file unless every one of them is in :data:`TRUSTED_TYPES`; nothing in the file
  is imported or constructed before that check.
* **pickle** (``….pkl``, joblib): loading one runs whatever code its author chose,
  so the registry unpickles only when asked to (``ALLOW_PICKLE=1``), and
  ``recruit-reveal models migrate --trust-pickle`` converts a pickle-only export
  to skops once (see :mod:`recruit_reveal.artifacts.registry`).

Both are checked against the sha256 in the metadata before they are read here.
"""

from __future__ import annotations

import importlib
import io
import sys
import warnings
from typing import Any

from ..errors import ArtifactIntegrityError

PICKLE = "pickle"
SKOPS = "skops"
FORMATS = (SKOPS, PICKLE)

#: The types beyond skops' own trusted scikit-learn/numpy list that the project's
#: pipelines hold, for every estimator of
#: :data:`recruit_reveal.modeling.estimators.ESTIMATORS`: the project's own
#: estimators, the trees of the gradient-boosting estimators, and numpy dtypes.
#: tests/test_artifacts_formats.py checks this equals what
#: ``skops.io.get_untrusted_types`` reports for real exported pipelines.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "recruit_reveal.modeling.estimators.CumulativeOrdinalClassifier",
    "recruit_reveal.modeling.estimators.DivisionClassifier",
    "recruit_reveal.modeling.features.DerivedFeatures",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


class UntrustedModelError(ArtifactIntegrityError):
    """A model file names a type that is not on the trusted list; it was not loaded."""


def dump_skops(pipeline: Any) -> bytes:
    import skops.io

    return bytes(skops.io.dumps(pipeline))


def untrusted_types(data: bytes) -> list[str]:
    """Types named in a skops file that skops does not trust by default (reads JSON only)."""
    import skops.io

    return sorted(skops.io.get_untrusted_types(data=data))


def load_skops(data: bytes, source: object) -> Any:
    """The pipeline in a skops file, refused unless every type it names is trusted."""
    import skops.io

    try:
        found = untrusted_types(data)
    except Exception as exc:  # noqa: BLE001 - a file skops cannot even list is not loadable
        raise ArtifactIntegrityError(
            f"{source} is not a readable skops file: {type(exc).__name__}: {exc}") from exc
    refused = sorted(set(found) - set(TRUSTED_TYPES))
    if refused:
        raise UntrustedModelError(
            f"{source} names type(s) outside the trusted list: {', '.join(refused)}; "
            "refusing to load it (docs/artifacts.md, trust model)")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            pipeline = skops.io.loads(data, trusted=found)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not loadable"
        raise ArtifactIntegrityError(
            f"{source} matches its sha256 but cannot be loaded: "
            f"{type(exc).__name__}: {exc}") from exc
    return _classifier(pipeline, source)


#: Modules that held pickled classes before the package was split by concern.
#: Models exported then name the old modules; they resolve to the new homes.
MOVED_MODULES = {"recruit_reveal.model": "recruit_reveal.modeling.estimators",
                 "recruit_reveal.features": "recruit_reveal.modeling.features"}


def alias_moved_modules() -> None:
    for old, new in MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)


def load_pickle(data: bytes, source: object) -> Any:
    """Unpickle a joblib file (runs its code: the caller has decided pickle is allowed)."""
    import joblib

    alias_moved_modules()
    try:
        with warnings.catch_warnings():
            # A version mismatch has been decided on already; don't warn twice.
            warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
            pipeline = joblib.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - any failure here means "not loadable"
        raise ArtifactIntegrityError(
            f"{source} matches its sha256 but cannot be unpickled: "
            f"{type(exc).__name__}: {exc}") from exc
    return _classifier(pipeline, source)


def _classifier(pipeline: Any, source: object) -> Any:
    if not hasattr(pipeline, "predict_proba"):
        raise ArtifactIntegrityError(f"{source} holds a {type(pipeline).__name__}, not a "
                                     f"classifier pipeline with predict_proba")
    return pipeline
