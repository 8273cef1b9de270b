"""Learning curves: each candidate's training and validation metrics per epoch, read back from
its MLflow run and drawn as PNG artifacts (``learning_curves.png`` on the parent run,
``learning_curve.png`` on each candidate's run); the selection logs them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def log_learning_curves(
    client: "MlflowClient", parent_run_id: str, runs: dict[int, str], winner: int | None = None
) -> None:
    """The candidates' learning curves, read back from their runs: all of them on the
    parent run as ``learning_curves.png``, each on its own run as ``learning_curve.png``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    histories = {number: _history(client, run_id) for number, run_id in sorted(runs.items())}
    histories = {number: h for number, h in histories.items() if h}
    if not histories:
        return
    names = sorted({name for h in histories.values() for name in h})
    shown = [n for n in names if n.startswith("val_") and n.removeprefix("val_") in names]
    if not shown:
        return
    with tempfile.TemporaryDirectory(prefix="automl-plots-") as tmp:
        folder = Path(tmp)
        figure, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.6), squeeze=False)
        for ax, name in zip(axes[0], shown):
            for number, history in histories.items():
                steps, values = history.get(name, ([], []))
                label = f"trial {number}" + (" (winner)" if number == winner else "")
                ax.plot(
                    [s + 1 for s in steps],
                    values,
                    marker="o",
                    markersize=3,
                    linewidth=2.5 if number == winner else 1.2,
                    label=label,
                )
            ax.set(title=name, xlabel="epoch")
            ax.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(folder / "learning_curves.png", dpi=90)
        plt.close(figure)
        client.log_artifact(parent_run_id, str(folder / "learning_curves.png"))
        for number, history in histories.items():
            figure, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.6), squeeze=False)
            for ax, name in zip(axes[0], shown):
                for key in (name.removeprefix("val_"), name):
                    steps, values = history.get(key, ([], []))
                    ax.plot(
                        [s + 1 for s in steps],
                        values,
                        marker="o",
                        markersize=3,
                        label="train" if key != name else "validation",
                    )
                ax.set(title=f"trial {number}: {name.removeprefix('val_')}", xlabel="epoch")
                ax.legend(fontsize=8)
            figure.tight_layout()
            path = folder / f"trial-{number}" / "learning_curve.png"
            path.parent.mkdir()
            figure.savefig(path, dpi=90)
            plt.close(figure)
            client.log_artifact(runs[number], str(path))


def _history(client: "MlflowClient", run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    """The run's per-epoch validation metrics and their training twins: name -> (steps,
    values)."""
    names = set(client.get_run(run_id).data.metrics)
    wanted = {n for n in names if n.startswith("val_") and n.removeprefix("val_") in names}
    histories = {}
    for name in sorted(wanted | {n.removeprefix("val_") for n in wanted}):
        points = sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)
        if len(points) > 1:
            histories[name] = ([m.step for m in points], [m.value for m in points])
    return histories
