"""Monitoring a released model in production: outcomes, the prediction log, drift, accuracy.

Beside :mod:`recruit_reveal.release` (the same layer; neither imports the other):
:mod:`.outcomes` records what athletes actually reached, :mod:`.logscan` summarizes the
prediction log with pyarrow, :mod:`.drift` compares live inputs with the release's
training profile, :mod:`.accuracy` joins outcomes to predictions, :mod:`.monitor_report`
assembles one position's findings for the ``monitor.ipynb`` record, and
:mod:`.monitor_runs` runs that notebook (see docs/monitoring.md).
"""
