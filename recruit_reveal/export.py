"""Every model is saved through this module, from the notebook and the direct engine alike.

The implementation lives in :mod:`recruit_reveal.artifacts.writer`; this is the
stable import path the training template and user code call.
"""

from .artifacts.writer import ExportedModel, next_version, promote_version, save_pipeline

__all__ = ["ExportedModel", "next_version", "promote_version", "save_pipeline"]
