"""The model store: the served model per position, the release it follows, explicit versions.

Models are read only through :mod:`recruit_reveal.artifacts.registry`, which
verifies every file's sha256 before loading.  Before a model is served it
must make one test prediction, and its scorer is built: the fast path of
:mod:`recruit_reveal.modeling.scoring` when it matches the pipeline on the
reference rows, else the pipeline itself (``ServedModel.scorer.mode`` and
``.reason`` say which and why; /health shows them).

Positions that serve ``latest`` follow the models folder's current release:
:meth:`ModelStore.follow` (called every RELEASE_POLL_SECONDS by the app) compares
the manifest's tag with the one it serves, loads what changed, and swaps every
position and the release in one assignment.  So each worker and replica serves
a promote made anywhere (CLI, another host, the switch endpoint) within one poll
and the load, and a request never sees half of a release.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..artifacts import layout, manifest, registry
from ..artifacts.layout import LATEST
from ..artifacts.metadata import ModelMetadata
from ..catalog import PositionSpec, active_catalog, default_catalog
from ..errors import (
    ArtifactIntegrityError,
    IncompatibleModelError,
    ModelNotFoundError,
    ModelUnavailableError,
    PromotionError,
    RecruitRevealError,
    VersionNotFoundError,
    VersionNotServableError,
)
from ..modeling import probabilities
from ..modeling.scoring import Scorer, build_scorer
from ..storage.locations import as_location
from .observability import record_reload, record_serving

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
    #: The position as the model was trained on it (from its metadata): its inputs,
    #: their ranges and the ladder its classes come from.
    spec: PositionSpec
    #: The file the model was loaded from: ``"skops"``, or ``"pickle"`` (ALLOW_PICKLE=1).
    format: str = "skops"
    #: The usual range of each numeric input (``probabilities.numeric_names`` order) from the
    #: metadata's input profile, built once at load; None when the version has none.
    input_low: np.ndarray | None = field(default=None, repr=False, compare=False)
    input_high: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_loaded(cls, loaded: registry.LoadedModel) -> ServedModel:
        """Wrap a registry model after a test prediction (ModelNotFoundError if it fails)
        and build its scorer (checked against the pipeline)."""
        typical = {k: float(v) for k, v in loaded.metadata.typical_values.items()
                   if v is not None and math.isfinite(v)}
        spec = loaded.metadata.position_spec()
        _self_check(loaded, spec, typical)
        scorer = build_scorer(loaded.pipeline, spec, typical)
        if scorer.mode != "fast":
            logger.warning("%s %s scores through the pipeline: %s", loaded.position,
                           loaded.version, scorer.reason)
        low, high = input_ranges(loaded.metadata, spec)
        return cls(loaded.position, str(loaded.requested), str(loaded.version), loaded.pipeline,
                   loaded.metadata, str(loaded.reason or ""), typical,
                   datetime.now(timezone.utc).isoformat(timespec="seconds"), scorer, spec,
                   loaded.format, low, high)


def input_ranges(metadata: ModelMetadata, position: PositionSpec,
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(low, high) arrays over the position's numeric inputs, unbounded where the profile
    gives no range; (None, None) for a version exported without a profile."""
    if metadata.input_profile is None:
        return None, None
    ranges = metadata.input_ranges()
    names = probabilities.numeric_names(position)
    low = np.array([ranges.get(n, (-np.inf, np.inf))[0] for n in names], dtype=float)
    high = np.array([ranges.get(n, (-np.inf, np.inf))[1] for n in names], dtype=float)
    low.flags.writeable = high.flags.writeable = False  # shared by every request
    return low, high


@dataclass(frozen=True)
class Unavailable:
    """A position with no valid model, and why."""

    position: str
    requested: str
    reason: str

    version: None = None


def _self_check(loaded: registry.LoadedModel, spec: PositionSpec,
                typical: dict[str, float]) -> None:
    """One prediction on the typical athlete before a model is served.

    A pickle can verify and unpickle yet fail on use (e.g. saved by older
    feature code); that must make the position unavailable, not every request a 500.
    """
    names = probabilities.numeric_names(spec)
    x = np.array([[typical.get(n, np.nan) for n in names]], dtype=float)
    try:
        proba = probabilities.predict_proba(
            loaded.pipeline, probabilities.model_frame(x, np.array([np.nan], dtype=object), spec))
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot serve this model"
        raise ModelNotFoundError(
            f"{loaded.position} {loaded.version} loads but fails a test prediction: "
            f"{type(exc).__name__}: {exc}") from exc
    if proba.shape != (1, len(spec.levels)) or not np.all(np.isfinite(proba)) \
            or abs(float(proba.sum()) - 1) > 1e-6:
        raise ModelNotFoundError(
            f"{loaded.position} {loaded.version} returns probabilities of shape {proba.shape} "
            f"that are not {len(spec.levels)} finite values summing to 1")


@dataclass(frozen=True)
class ServedRelease:
    """The release a worker serves: the manifest entry, its tag, and when this worker took it."""

    #: None when the folder has neither a manifest nor latest files.
    release: manifest.Release | None
    tag: str | None
    since: str
    #: Positions that follow the release (the others are pinned by MODEL_VERSION*).
    following: tuple[str, ...]
    #: Why part of the release is not served (a version that failed to load), else None.
    problem: str | None = None


@dataclass(frozen=True)
class _Serving:
    """Everything a request reads, replaced as one reference."""

    models: dict[str, ServedModel | Unavailable]
    release: ServedRelease


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ModelStore:
    """The served model per position, swapped atomically when the release changes.

    Readers take one reference (``get``, ``snapshot``) and use it for the whole
    request; a change loads every new model completely before replacing the
    mapping, so in-flight requests never see a half-loaded model or a mix of two
    releases.
    """

    def __init__(self, models_dir: Path | str, versions: Mapping[str, str]):
        # An s3:// URL stays a string (a Path would fold its //).
        self.models_dir = as_location(models_dir)
        self.versions = dict(versions)
        #: The positions served: the catalog's, those pinned by a version setting, and (once
        #: loaded) every position the models folder and its release hold.
        self.positions: tuple[str, ...] = tuple(
            layout.ordered_positions({*active_catalog().keys, *self.versions}))
        self._serving = _Serving(
            {pos: Unavailable(pos, self.versions.get(pos, LATEST), "not loaded yet")
             for pos in self.positions},
            ServedRelease(None, None, _now(), self._following()))
        #: Why the last look at the release failed (None once a look succeeds).
        self._follow_problem: str | None = None
        self._switch_lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def _served(self) -> dict[str, ServedModel | Unavailable]:
        return self._serving.models

    @property
    def release(self) -> ServedRelease:
        """The release served, its ``problem`` including a failure to follow the next one."""
        served = self._serving.release
        if self._follow_problem is None:
            return served
        return replace(served, problem="; ".join(
            p for p in (self._follow_problem, served.problem) if p))

    def _publish(self, serving: _Serving) -> None:
        self._serving = serving  # one reference assignment: atomic for readers
        self._record()

    def _record(self) -> None:
        record_serving({p: m.version for p, m in self._serving.models.items()},
                       self.release.problem is not None)

    def _following(self) -> tuple[str, ...]:
        return tuple(p for p in self.positions if self.versions.get(p, LATEST) == LATEST)

    def _discover(self) -> None:
        """Add the positions the models folder and its current release hold."""
        found = registry.positions(self.models_dir)
        self.positions = tuple(layout.ordered_positions({*self.positions, *found}))

    def specs(self) -> dict[str, PositionSpec]:
        """Each position's spec: the served model's, else the default catalog's (for a
        default position without a model: its requests are still validated, then 503)."""
        defaults = default_catalog().positions
        out: dict[str, PositionSpec] = {}
        for pos, served in self._served.items():
            if isinstance(served, ServedModel):
                out[pos] = served.spec
            elif pos in defaults:
                out[pos] = defaults[pos]
        return out

    def load_all(self) -> None:
        with self._switch_lock:
            # The state is read first: a release made while the models load changes the
            # tag, so the next follow() picks it up.
            try:
                state = registry.history(self.models_dir)
                release = ServedRelease(state.current, state.tag, _now(), self._following())
            except RecruitRevealError as exc:  # a broken manifest must not stop the service
                release = ServedRelease(None, None, _now(), self._following(),
                                        f"cannot read the release: {exc}")
            try:
                self._discover()
            except RecruitRevealError as exc:
                logger.error("cannot list the positions in %s: %s", self.models_dir, exc)
            served: dict[str, ServedModel | Unavailable] = {}
            for pos in self.positions:
                requested = self.versions.get(pos, LATEST)
                try:
                    served[pos] = self._load_position(pos, requested)
                except RecruitRevealError as exc:
                    served[pos] = Unavailable(pos, requested, str(exc))
            self._publish(_Serving(served, release))

    def follow(self) -> bool:
        """Serve the current release if its tag changed since the last look; True if it did.

        Cheap when nothing changed (one stat or HEAD request).  A version of the
        new release that cannot be served leaves that position as it was, and
        /health names the problem until the next release.  A failure to look (an
        unreadable manifest, an unreachable bucket) is raised, and /health and
        /metrics show it until a look succeeds.
        """
        try:
            if manifest.current_tag(self.models_dir) == self.release.tag:
                changed = False
            else:
                with self._switch_lock:
                    changed = self._apply_release()
        except Exception as exc:
            self._cannot_follow(f"cannot follow the release in {self.models_dir}: "
                                f"{type(exc).__name__}: {exc}")
            raise
        if self._follow_problem is not None:
            self._follow_problem = None
            self._record()
        return changed

    def _cannot_follow(self, problem: str) -> None:
        if problem != self._follow_problem:  # counted once, as the poller logs it once
            record_reload(ok=False)
        self._follow_problem = problem
        self._record()

    def _apply_release(self, loaded: ServedModel | None = None) -> bool:
        state = registry.history(self.models_dir)
        if state.tag == self.release.tag:
            return False
        current = state.current
        if current is not None:
            self.positions = tuple(layout.ordered_positions({*self.positions, *current.versions}))
        served = dict(self._served)
        problems: list[str] = []
        for pos in self._following():
            target = current.versions.get(pos) if current else None
            now = served.setdefault(pos, Unavailable(pos, LATEST, "not in the release"))
            if target is None or (isinstance(now, ServedModel) and now.version == target
                                  and now.requested == LATEST):
                continue
            try:
                model = loaded if loaded is not None and (loaded.position, loaded.version) \
                    == (pos, target) else self._load_exact(pos, target)
            except (VersionNotFoundError, VersionNotServableError) as exc:
                problems.append(f"{pos} {target}: {exc}")
                continue
            assert current is not None
            served[pos] = replace(model, requested=LATEST, reason=(
                f"release {current.id}: {current.action} through {current.how} by "
                f"{current.by}" + (f": {current.reason}" if current.reason else "")))
        release = ServedRelease(current, state.tag, _now(), self._following(),
                                "; ".join(problems) or None)
        previous = self.release.release
        self._publish(_Serving(served, release))
        record_reload(ok=not problems)
        logger.info("now serving release %s (was %s): %s", current.id if current else None,
                    previous.id if previous else None,
                    {p: m.version for p, m in served.items()})
        for problem in problems:
            logger.error("release %s is not fully served: %s", current.id if current else None,
                         problem)
        return True

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

    def position_of(self, value: object) -> str | None:
        """The served position a request names (any case), else None."""
        if not isinstance(value, str) or not value.isascii():
            return None
        key = value.lower()
        return key if key in self._served else None

    def snapshot(self) -> dict[str, ServedModel | Unavailable]:
        return dict(self._served)

    def require(self, position: str) -> ServedModel:
        """The served model of ``position``; ModelUnavailableError saying why if none."""
        return self.require_all([position])[position]

    def require_all(self, positions: Iterable[str]) -> dict[str, ServedModel]:
        """The served model of each position, from one snapshot (so of one release);
        ModelUnavailableError naming the first position without one and why."""
        snap = self._served
        models: dict[str, ServedModel] = {}
        for position in positions:
            served = snap[position]
            if isinstance(served, Unavailable):
                raise ModelUnavailableError(f"no model available for {position!r}: "
                                            f"{served.reason}")
            models[position] = served
        return models

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
            raise VersionNotFoundError(f"{position} model version {version!r} not found "
                                       f"(available: {', '.join(versions) or 'none'})")
        try:
            loaded = registry.load(position, version, models_dir=self.models_dir)
        except (ArtifactIntegrityError, IncompatibleModelError) as exc:
            raise VersionNotServableError(f"{position} {version} cannot be served: {exc}") \
                from None
        except ModelNotFoundError as exc:
            raise VersionNotFoundError(str(exc)) from None
        if str(loaded.version) != version:
            raise VersionNotServableError(f"{position} {version} is not loadable "
                                          f"({loaded.reason})")
        try:
            return ServedModel.from_loaded(loaded)
        except ModelNotFoundError as exc:
            raise VersionNotServableError(str(exc)) from None

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

    def switch(self, position: str, version: str, *, reason: str | None = None,
               by: str | None = None) -> tuple[ServedModel | Unavailable, ServedModel]:
        """Promote ``version`` in the models folder (a new release made through the API)
        and serve it here at once; every other worker follows on its next poll.

        The model is loaded and makes its test prediction before anything is
        written; on any error nothing is promoted and the served model stays.
        A position pinned by MODEL_VERSION* follows the release from then on.
        """
        with self._switch_lock:
            new = self._load_exact(position, version)
            previous = self._served[position]
            try:
                registry.promote(position, version, self.models_dir, how="api",
                                 reason=reason, by=by)
            except RecruitRevealError as exc:
                raise PromotionError(f"{position} {version} was not promoted: {exc}") from None
            self.versions[position] = LATEST
            self._apply_release(loaded=new)
            served = self._served[position]
        logger.info("promoted %s from %s to %s through the API", position,
                    previous.version or "unavailable", version)
        return previous, served if isinstance(served, ServedModel) else new
