"""Training data in: read and validate a training CSV; the synthetic sample and its exact posterior."""

from .loading import TrainingData, load_training_data

__all__ = ["TrainingData", "load_training_data"]
