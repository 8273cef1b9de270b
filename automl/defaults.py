"""The defaults that several stages share, stated once.

Example:
    >>> from automl.defaults import DEFAULT_RUN_DIR
    >>> DEFAULT_RUN_DIR
    'automl-runs'
"""

DEFAULT_RUN_DIR = "automl-runs"  # a search's storage, MLflow store, models and snapshots
CHAMPION_ALIAS = "champion"  # the registered model's alias for a study's winner
UI_PORT = 5000  # ``automl ui``'s port, and the address the summary prints
DEFAULT_REPORTS_DIR = "reports"  # where a search writes its report (reports/<study>/)
