"""Training runs: the notebook and direct engines, audit records and the run summary."""
