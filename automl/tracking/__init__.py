"""MLflow tracking: one parent run per study, one nested child run per trial.

Only this package talks to MLflow (the report reads runs back through it too). It uses ``MlflowClient`` with explicit run ids (the fluent API's
active-run stack is per thread), except to log the winning model, which ``mlflow.keras`` does in
the context of the parent run.

The default store is embedded: an SQLite file and an artifact folder under the run folder, so a
search needs no server, and ``automl ui`` browses it (:func:`start_ui`). It works the same against
a tracking server (``--tracking-uri http://...``).

What a user meets in the MLflow UI: the study's runs table (:func:`ui_url` opens on it, as a model
training experiment with the trial columns shown), the parent run with the leaderboard as its
description, child runs named ``trial-3 cnn val_accuracy=0.9812``, the splits in the Dataset
column, the resolved config and learning curves as artifacts, tags for state, pruned-at epoch,
failure reason and worker host. Per-epoch metrics go through MLflow's asynchronous logging, so a
slow store never holds up training.

Modules: :mod:`~automl.tracking.store` (which store, its URIs, finding a study in it),
:mod:`~automl.tracking.tracker` (the runs and their metrics), :mod:`~automl.tracking.registration`
(the winner as a registered MLflow model) and :mod:`~automl.tracking.ui` (the ``automl ui`` server).
"""
