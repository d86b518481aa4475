"""Models: derived features, estimators, ``train_position``, metrics, cross-validation, baselines and explanations."""
