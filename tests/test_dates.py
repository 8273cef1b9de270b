"""Date columns: recognised by the column rules, read from their text inside the model (year
trend, month, day, weekday, hour), so an export takes the dates as the table writes them."""

import numpy as np
import pandas as pd
import pytest

from automl.inference import column_kinds


def test_dates_are_recognised_in_each_order_and_free_text_is_not():
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1500, 200), unit="D")
    frame = pd.DataFrame(
        {
            "iso": days.strftime("%Y-%m-%d %H:%M"),
            "day_first": days.strftime("%d/%m/%Y"),
            "month_first": days.strftime("%m/%d/%Y"),
            "words": [f"note number {i} here" for i in range(200)],
            "y": rng.integers(0, 2, 200),
        }
    )
    frame.loc[3, "iso"] = None  # a missing date is filled, with an indicator
    decided = {d.column: d for d in column_kinds(frame, "y")}
    assert {n: decided[n].kind for n in ("iso", "day_first", "month_first")} == dict.fromkeys(
        ("iso", "day_first", "month_first"), "datetime"
    )
    assert (
        "year first" in decided["iso"].reason and "1 missing values filled" in decided["iso"].reason
    )
    assert "day first" in decided["day_first"].reason
    assert "month first" in decided["month_first"].reason
    assert decided["words"].kind == "text" and "free text" in decided["words"].reason
    assert "data.columns: {iso: ignore}" in decided["iso"].line()


def test_the_date_layer_reads_what_pandas_reads():
    from automl.modalities.table import date_parts

    rng = np.random.default_rng(1)
    stamps = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 40_000, 300), unit="D")
    stamps = stamps + pd.to_timedelta(rng.integers(0, 24 * 60, 300), unit="min")
    for order, fmt in (("ymd", "%Y-%m-%dT%H:%M"), ("dmy", "%d.%m.%Y %H:%M")):
        parts = date_parts(stamps.strftime(fmt).to_numpy(), order)
        days = (stamps.normalize() - pd.Timestamp("1970-01-01")).days.to_numpy()
        np.testing.assert_allclose(parts[:, 0], days / 365.2425, atol=1e-3)
        np.testing.assert_allclose(parts[:, 3], stamps.day.to_numpy())
        weekday = np.arctan2(parts[:, 4], parts[:, 5]) / (2 * np.pi) * 7 % 7
        np.testing.assert_allclose(weekday, stamps.weekday.to_numpy(), atol=1e-3)
        np.testing.assert_allclose(parts[:, 6], stamps.hour + stamps.minute / 60, atol=1e-3)
    assert np.isnan(date_parts(np.array(["", "no date", "2021-13-40"], object), "ymd")).all()


def test_a_weekday_rule_is_learned_from_a_date_column_and_exported_with_it(tmp_path):
    import keras

    import automl
    from automl.export.formats import load_inference_model
    from automl.export.signature import predict_raw, to_model_inputs

    rng = np.random.default_rng(2)
    days = pd.Timestamp("2020-01-06") + pd.to_timedelta(rng.integers(0, 700, 600), unit="D")
    frame = pd.DataFrame(
        {
            "when": days.strftime("%d/%m/%Y"),
            "noise": rng.normal(0, 1, 600),
            "weekend": np.where(days.weekday >= 5, "yes", "no"),
        }
    )
    space = {
        "name": "dates",
        "data": {
            "source": "python",
            "target": "weekend",
            "columns": {"when": "datetime"},
            "missing": "impute",
            "split": {"validation": 0.2, "test": 0.2},
        },
        "model": {"architecture": {"choice": {"mlp": {"layers": 2, "units": 64}}}},
        "training": {"optimizer": {"choice": {"adam": {"learning_rate": 0.01}}}, "epochs": 25},
        "search": {"trials": 1, "seed": 0},
        "select": {"top_k": 1},
    }
    result = automl.search(
        space, data=frame, workers=0, run_dir=tmp_path / "runs", reports_dir=None, progress=False
    )
    assert result.test_metrics["accuracy"] > 0.9  # the weekday, read from 'dd/mm/yyyy' text
    gbm = {row["name"]: row["test"] for row in result.baselines}["gradient boosting"]
    assert gbm > 0.9  # the baselines see the same parts
    rows = frame.drop(columns="weekend").head(8).copy()
    rows.loc[0, "when"] = None  # no date: filled, flagged, still predicted
    model = load_inference_model(result.model_path)
    assert model.input["when"].dtype == "string"
    p = predict_raw(model, to_model_inputs(model, rows))
    assert p.shape == (8, 2) and np.isfinite(p).all()
    labels = result.predict(rows.iloc[1:])["prediction"].to_numpy()
    assert (labels == frame["weekend"].iloc[1:8].to_numpy()).mean() >= 0.85
    assert "DateParts" in keras.saving.load_model(result.model_path).to_json()


def test_tflite_and_onnx_are_refused_for_a_date_column_in_one_sentence():
    import keras

    from automl.errors import UsageError
    from automl.export.formats import refuse_unsupported
    from automl.modalities.table import date_stats
    from automl.models.builder import InputSpec, build_model

    stats = date_stats(np.array(["2021-03-04", "2022-05-06", ""], object))
    spec = InputSpec(
        shape=(2,),
        num_classes=2,
        columns=(("when", "datetime", stats), ("x", "numeric", (0.0, 1.0))),
    )
    model = build_model({"architecture": {"name": "mlp", "layers": 1, "units": 4}}, spec)
    assert isinstance(model, keras.Model)
    with pytest.raises(
        UsageError, match=r"cannot read the text of this table model's date columns \(when\)"
    ):
        refuse_unsupported(model, ["tflite"])
    refuse_unsupported(model, ["savedmodel", "keras"])  # these take the text
