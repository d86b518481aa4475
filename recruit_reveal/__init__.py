"""Recruit Reveal: predicts the college football level of high-school QBs, RBs and WRs.

The curated public API.  The notebook template, the CLI and the service all
go through these names; everything else in the package is an implementation
detail that may change.
"""

from importlib import import_module
from typing import Any

from .artifacts.registry import LoadedModel, list_versions, promote
from .artifacts.registry import load as load_model
from .data import TrainingData, load_training_data
from .errors import (
    ArtifactExistsError,
    ArtifactIntegrityError,
    ArtifactLockError,
    DataValidationError,
    IncompatibleModelError,
    ModelNotFoundError,
    NotebookExecutionError,
    Problem,
    RecruitRevealError,
    TrainingError,
    VersionError,
)
from .export import ExportedModel, next_version, save_pipeline
from .modeling.explanations import top_factors, what_if
from .modeling.training import TrainingResult, train_position
from .schema import DIVISIONS, POSITIONS

__version__ = "0.1.0"

# papermill and FastAPI are slow to import; load them only when asked for.
_LAZY = {"train": ("release.runner", "train"), "create_app": ("api.app", "create_app")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DIVISIONS",
    "POSITIONS",
    "ArtifactExistsError",
    "ArtifactIntegrityError",
    "ArtifactLockError",
    "DataValidationError",
    "ExportedModel",
    "IncompatibleModelError",
    "LoadedModel",
    "ModelNotFoundError",
    "NotebookExecutionError",
    "Problem",
    "RecruitRevealError",
    "TrainingData",
    "TrainingError",
    "TrainingResult",
    "VersionError",
    "__version__",
    "create_app",
    "list_versions",
    "load_model",
    "load_training_data",
    "next_version",
    "promote",
    "save_pipeline",
    "top_factors",
    "train",
    "train_position",
    "what_if",
]
