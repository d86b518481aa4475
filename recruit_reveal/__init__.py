"""Recruit Reveal: predicts the college football level of high-school QBs, RBs and WRs."""

from .errors import (
    ArtifactExistsError,
    ArtifactIntegrityError,
    DataValidationError,
    IncompatibleModelError,
    ModelNotFoundError,
    NotebookExecutionError,
    Problem,
    RecruitRevealError,
    TrainingError,
    VersionError,
)
from .schema import DIVISIONS, POSITIONS
from .training import TrainingResult

__version__ = "0.1.0"

__all__ = [
    "DIVISIONS",
    "POSITIONS",
    "ArtifactExistsError",
    "ArtifactIntegrityError",
    "DataValidationError",
    "IncompatibleModelError",
    "ModelNotFoundError",
    "NotebookExecutionError",
    "Problem",
    "RecruitRevealError",
    "TrainingError",
    "TrainingResult",
    "VersionError",
    "__version__",
]
