"""The tuner: how a search runs. What to try is the sampler's business (``study.py``).

``runner.py`` coordinates one search: data, study and handoff (``handoff.py``), then a pool of
worker processes (``pool.py``), then selection. Each worker (``worker.py``) joins the study and
runs the objective (``objective.py``) trial after trial, reporting typed events (``events.py``)
that the progress display (``progress.py``) shows.
"""
