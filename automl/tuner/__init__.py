"""The tuner: how a search runs (study creation and resume, the objective, worker processes,
the progress display, the runner). What to try is the sampler's business (``study.py``)."""
