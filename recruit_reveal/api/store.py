"""The model store: the served model per position, explicit versions, the hot switch.

Models are read only through :mod:`recruit_reveal.artifacts.registry`, which
verifies every file's sha256 before unpickling.  Before a model is served it
must make one test prediction, and its scorer is built: the fast path of
:mod:`recruit_reveal.modeling.scoring` when it matches the pipeline on the
reference rows, else the pipeline itself (``ServedModel.scorer.mode`` and
``.reason`` say which and why; /health shows them).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import registry
from ..artifacts.layout import LATEST
from ..artifacts.metadata import ModelMetadata
from ..artifacts.storage import is_url
from ..errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    RecruitRevealError,
)
from ..modeling import explanations as insights
from ..modeling.scoring import Scorer, build_scorer
from ..schema import DIVISIONS, POSITIONS
from .errors import ApiError

logger = logging.getLogger(__name__)

#: Explicit versions kept loaded for /predict/{version}, least recently used dropped.
VERSION_CACHE_SIZE = 6


@dataclass(frozen=True)
class ServedModel:
    """One loaded model; immutable, so a request keeps a consistent view of it."""

    position: str
    requested: str
    version: str
    pipeline: Any
    metadata: ModelMetadata
    reason: str
    typical_values: dict[str, float]
    loaded_at: str
    #: What every request scores with (the fast path, or the pipeline and why).
    scorer: Scorer

    @classmethod
    def from_loaded(cls, loaded: registry.LoadedModel) -> ServedModel:
        """Wrap a registry model after a test prediction (ModelNotFoundError if it fails)
        and build its scorer (checked against the pipeline)."""
        typical = {k: float(v) for k, v in loaded.metadata.typical_values.items()
                   if v is not None and math.isfinite(v)}
        _self_check(loaded, typical)
        scorer = build_scorer(loaded.pipeline, loaded.position, typical)
        if scorer.mode != "fast":
            logger.warning("%s %s scores through the pipeline: %s", loaded.position,
                           loaded.version, scorer.reason)
        return cls(loaded.position, str(loaded.requested), str(loaded.version), loaded.pipeline,
                   loaded.metadata, str(loaded.reason or ""), typical,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"), scorer)


@dataclass(frozen=True)
class Unavailable:
    """A position with no valid model, and why."""

    position: str
    requested: str
    reason: str

    version: None = None


def _self_check(loaded: registry.LoadedModel, typical: dict[str, float]) -> None:
    """One prediction on the typical athlete before a model is served.

    A pickle can verify and unpickle yet fail on use (e.g. saved by older
    feature code); that must make the position unavailable, not every request a 500.
    """
    names = insights.numeric_names(loaded.position)
    x = np.array([[typical.get(n, np.nan) for n in names]], dtype=float)
    try:
        proba = insights.predict_proba(
            loaded.pipeline, insights.model_frame(x, np.array([np.nan], dtype=object),
                                                  loaded.position))
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot serve this model"
        raise ModelNotFoundError(
            f"{loaded.position} {loaded.version} loads but fails a test prediction: "
            f"{type(exc).__name__}: {exc}") from exc
    if proba.shape != (1, len(DIVISIONS)) or not np.all(np.isfinite(proba)) \
            or abs(float(proba.sum()) - 1) > 1e-6:
        raise ModelNotFoundError(
            f"{loaded.position} {loaded.version} returns probabilities of shape {proba.shape} "
            f"that are not {len(DIVISIONS)} finite values summing to 1")


class ModelStore:
    """The served model per position, swapped atomically on a hot switch.

    Readers take one reference (``get``) and use it for the whole request;
    a switch loads the new model completely before replacing the mapping,
    so in-flight requests never see a half-loaded model.
    """

    def __init__(self, models_dir: Path | str, versions: Mapping[str, str]):
        # An s3:// URL stays a string (a Path would fold its //).
        self.models_dir = models_dir if is_url(models_dir) else Path(models_dir)
        self.versions = dict(versions)
        self._served: dict[str, ServedModel | Unavailable] = {
            pos: Unavailable(pos, self.versions.get(pos, LATEST), "not loaded yet")
            for pos in POSITIONS}
        self._switch_lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
        self._cache_lock = threading.Lock()

    def load_all(self) -> None:
        served: dict[str, ServedModel | Unavailable] = {}
        for pos in POSITIONS:
            requested = self.versions.get(pos, LATEST)
            try:
                served[pos] = self._load_position(pos, requested)
            except RecruitRevealError as exc:
                served[pos] = Unavailable(pos, requested, str(exc))
        self._served = served

    def _load_position(self, position: str, requested: str) -> ServedModel:
        loaded = registry.load(position, requested, models_dir=self.models_dir)
        try:
            return ServedModel.from_loaded(loaded)
        except ModelNotFoundError as exc:
            if requested == LATEST:
                raise
            # The requested version verified but cannot predict: try latest, as the
            # registry does for a missing version.
            fallback = registry.load(position, LATEST, models_dir=self.models_dir)
            if fallback.version == loaded.version:
                raise
            model = ServedModel.from_loaded(fallback)
            return replace(model, requested=requested,
                           reason=f"requested {requested}; serving latest = "
                                  f"{fallback.version} because {exc}")

    def get(self, position: str) -> ServedModel | Unavailable:
        return self._served[position]

    def snapshot(self) -> dict[str, ServedModel | Unavailable]:
        return dict(self._served)

    def require(self, position: str) -> ServedModel:
        """The served model of ``position``, or 503 naming the position and why."""
        served = self._served[position]
        if isinstance(served, Unavailable):
            raise ApiError(503, f"position: no model available for {position!r}: "
                           f"{served.reason}", field="position")
        return served

    def available_versions(self, position: str) -> list[str]:
        try:
            return registry.list_versions(position, models_dir=self.models_dir)
        except RecruitRevealError:
            return []

    def describe(self, position: str, version: str) -> ModelMetadata:
        return registry.describe(position, version, models_dir=self.models_dir)

    def _load_exact(self, position: str, version: str) -> ServedModel:
        versions = self.available_versions(position)
        if version not in versions:
            raise ApiError(404, f"version: {position} model version {version!r} not found "
                           f"(available: {', '.join(versions) or 'none'})", field="version")
        try:
            loaded = registry.load(position, version, models_dir=self.models_dir)
        except (ArtifactIntegrityError, IncompatibleModelError) as exc:
            raise ApiError(409, f"version: {position} {version} cannot be served: {exc}",
                           field="version") from None
        except ModelNotFoundError as exc:
            raise ApiError(404, f"version: {exc}", field="version") from None
        if str(loaded.version) != version:
            raise ApiError(409, f"version: {position} {version} is not loadable "
                           f"({loaded.reason})", field="version")
        try:
            return ServedModel.from_loaded(loaded)
        except ModelNotFoundError as exc:
            raise ApiError(409, f"version: {exc}", field="version") from None

    def versioned(self, position: str, version: str) -> ServedModel:
        """A specific version, for /predict/{version}; cached, never served by default."""
        current = self._served[position]
        if isinstance(current, ServedModel) and current.version == version:
            return current
        key = (position, version)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        model = self._load_exact(position, version)
        with self._cache_lock:
            self._cache[key] = model
            while len(self._cache) > VERSION_CACHE_SIZE:
                self._cache.popitem(last=False)
        return model

    def switch(self, position: str,
               version: str) -> tuple[ServedModel | Unavailable, ServedModel]:
        """Load ``version`` fully, then swap it in; on any error the served model stays."""
        with self._switch_lock:
            new = replace(self._load_exact(position, version), requested=version,
                          reason=f"switched to {version} by an admin request")
            previous = self._served[position]
            served = dict(self._served)
            served[position] = new
            self._served = served  # one reference assignment: atomic for readers
        logger.info("switched %s from %s to %s", position,
                    previous.version or "unavailable", version)
        return previous, new
