"""Training runs: the notebook and direct engines, audit records and the run summary.

``contract`` (what a run takes and gives back), ``runner`` (``train``: versions,
parallel jobs, promoting every position together), ``engines`` (notebook and
direct), ``notebook`` (papermill execution), ``records`` (audit records),
``summary`` (the run's table and report).
"""
