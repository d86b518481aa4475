"""Models: derived features, estimators, ``train_position``, metrics, baselines and explanations."""
