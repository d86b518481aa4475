"""Training data in: read and validate a training CSV; the synthetic sample and its exact posterior."""

from .loading import TrainingData, load_training_data
from .mapping import ColumnMapping, read_column_mapping
from .quarantine import RowCounts, rejected_file_name, write_rejected_rows

__all__ = [
    "ColumnMapping",
    "RowCounts",
    "TrainingData",
    "load_training_data",
    "read_column_mapping",
    "rejected_file_name",
    "write_rejected_rows",
]
