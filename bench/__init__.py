"""Benchmarks: quality, speed and scale, measured against their goals.

Each module ``bench/<name>.py`` has ``run(smoke=False)`` returning a markdown
section; ``python -m bench`` runs them all and rewrites docs/benchmarks.md.
"""
