"""The search-quality benchmark runs from its one command: a smoke run (one 1-epoch trial per
method on 300 signals) writes the table, the JSON and the plot. KerasTuner, an optional extra,
is run where installed and named as skipped where not."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def benchmark(name: str):
    """A script of benchmarks/ as a module (its main() takes the command line's arguments)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_search_quality_smoke_run_writes_its_report(tmp_path, monkeypatch):
    """Two runs: the second re-measures one method and keeps the others' runs (``--keep``)."""
    monkeypatch.chdir(tmp_path)
    quality = benchmark("search_quality")
    assert (
        quality.main(
            [
                "--smoke",
                "--seeds",
                "0",
                "--methods",
                "automl,kt-hyperband",
                "--out",
                str(tmp_path / "first"),
            ]
        )
        == 0
    )
    assert (
        quality.main(
            [
                "--smoke",
                "--seeds",
                "0",
                "--methods",
                "optuna-tpe",
                "--keep",
                str(tmp_path / "first" / "search_quality.json"),
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    data = json.loads((tmp_path / "search_quality.json").read_text())
    has_keras_tuner = all(importlib.util.find_spec(name) for name in ("keras_tuner", "tensorboard"))
    ran = ["optuna-tpe", "automl", "kt-hyperband"] if has_keras_tuner else ["optuna-tpe", "automl"]
    assert [run["method"] for run in data["runs"]] == ran
    assert data["kept"] == ran[1:]
    for run in data["runs"]:
        assert run["trials"] == 1 and len(run["timeline"]) == 1
        assert 0.0 < run["selected_test"] <= run["best_top_test"] <= 1.0
        assert 0.0 < run["fresh"] <= 1.0  # scored on signals no step of the search saw
    table = (tmp_path / "search_quality.md").read_text()
    assert all(f"| {method} |" in table for method in ran)
    assert f"The runs of {', '.join(ran[1:])} are kept from an earlier run" in table
    assert ("Skipped: kt-hyperband" in table) is not has_keras_tuner
    png = (tmp_path / "search_quality.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_the_speed_target_compares_median_lines_against_the_best_anchor():
    """The issue's speed target, from canned runs: the best anchor by its final median best
    validation accuracy, and when each median line first reached that level."""
    quality = benchmark("search_quality")

    def run(method, timeline):
        return {
            "method": method,
            "timeline": timeline,
            "wall": 100.0,
            "seed": 0,
            "selected_test": 0.9,
            "fresh": 0.9,
            "trials": len(timeline),
        }

    runs = [
        run("optuna-tpe", [(10, 0.90), (80, 0.95)]),
        run("optuna-tpe", [(20, 0.93)]),
        run("kt-hyperband", [(50, 0.80)]),
        run("kt-hyperband", [(60, 0.85)]),
        run("automl-default", [(5, 0.60), (30, 0.96)]),
        run("automl-default", [(40, 0.97)]),
    ]
    speed = quality.race(runs, ["automl-default", "kt-hyperband", "optuna-tpe"])
    # optuna's final medians: 0.95 and 0.93 -> 0.94; its median line reaches 0.94 at 80 s
    assert speed["anchor"] == "optuna-tpe" and abs(speed["level"] - 0.94) < 1e-9
    assert speed["anchor_seconds"] == 80.0
    assert speed["automl_seconds"] == {"automl-default": 40.0}
    record = {
        "command": "x",
        "budget": 100,
        "seeds": [0, 1],
        "cores": 2,
        "skipped": [],
        "methods": ["automl-default", "kt-hyperband", "optuna-tpe"],
        "runs": runs,
        "summary": [],
    }
    assert "(0.50 of the anchor's time" in quality.markdown(record)


def test_the_small_data_benchmarks_render_their_tables():
    """small_images.py and transfer.py run for half an hour, so the suite renders their tables
    from canned searches: the scripts import and their medians are right."""

    def searched(test, logistic):
        return {"test": test, "logistic": logistic, "majority": 0.2, "trials": 9, "seconds": 60}

    record = {
        "command": "c",
        "cores": 2,
        "workers": "1",
        "budget": "180 s",
        "runs": [
            {
                "seed": s,
                "base": searched(0.98, 0.5),
                "transfer": searched(t, 0.44),
                "scratch": searched(c, 0.44),
                "digits": searched(t, 0.96),
            }
            for s, t, c in [(0, 0.94, 0.89), (1, 0.92, 0.90), (2, 0.95, 0.85)]
        ],
    }
    transfer = benchmark("transfer").markdown(record)
    assert "| 0 | 0.9400 | 0.8900 | 0.4400 | +0.0500 |" in transfer
    assert "| **median** | **0.9400** | **0.8900** | **0.4400** |" in transfer
    digits = benchmark("small_images").markdown(record)
    assert "| **median** | **0.9400** | **0.9600** |" in digits
