"""Texts: recognised in tables, folders and lists; tokenized inside the model on the training
split only; four families that build, train, save and reload; raw strings in and labels out of
the exports, in a fresh process; the refusals, in one sentence."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

WORDS = {
    "sport": "goal match team score league coach player win".split(),
    "tech": "software chip phone app code cloud data robot".split(),
    "food": "recipe taste cook bake dinner spice sauce fresh".split(),
}
COMMON = "the a of and to in is it was this that very really".split()


def make_texts(per_class: int = 80, seed: int = 0) -> tuple[list[str], list[str]]:
    """Short texts of common words, a fifth of them the class's own words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, own in WORDS.items():
        for _ in range(per_class):
            n = int(rng.integers(5, 25))
            words = list(rng.choice(COMMON, n)) + list(rng.choice(own, max(1, n // 5)))
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, labels


def text_folder(root: Path, per_class: int = 80) -> Path:
    texts, labels = make_texts(per_class)
    for i, (text, label) in enumerate(zip(texts, labels)):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def text_search(tmp_path_factory):
    """One zero-config search of a folder of .txt files (2 trials: bag of words, then a CNN
    over embeddings), one file of it not UTF-8."""
    import automl

    root = tmp_path_factory.mktemp("texts")
    folder = text_folder(root / "news")
    (folder / "food" / "latin1.txt").write_bytes("caf\xe9 recipe taste".encode("latin-1"))
    result = automl.search(
        data=folder,
        trials=2,
        workers=0,
        run_dir=root / "runs",
        reports_dir=root / "reports",
        progress=False,
    )
    return root, folder, result


def test_a_text_folder_is_searched_without_a_space_file(text_search):
    root, _, result = text_search
    assert result.config.data.source == "texts"
    assert result.test_metrics["accuracy"] > 0.8  # the classes' own words are learnable
    families = set(result.trials["params_model.architecture"])
    assert families == {"bow", "cnn"}  # the two configurations tried first
    names = {row["name"] for row in result.baselines}
    assert "tf-idf logistic regression" in names
    space = (root / "runs" / "news" / "space.yaml").read_text()
    assert "texts:" in space and "token_dropout" in space
    summary = (result.report_dir / "summary.md").read_text()
    assert "tf-idf logistic regression" in summary


def test_each_trial_records_its_tokenizer_and_the_winner_its_vocabulary(text_search, tmp_path):
    from mlflow.tracking import MlflowClient

    from automl.modalities.text import tokenizers

    root, _, result = text_search
    client = MlflowClient(result.mlflow["tracking_uri"])
    children = client.search_runs(
        [result.mlflow["experiment_id"]],
        filter_string=f"tags.mlflow.parentRunId = '{result.mlflow['parent_run_id']}'",
    )
    assert len(children) == 2
    for run in children:  # family in the name and params, tokenizer facts as metrics
        assert run.data.params["model.architecture"] in run.info.run_name
        assert run.data.metrics["vocabulary_size"] > 10
        assert run.data.metrics["sequence_length"] >= 1
    # the winner's vocabulary, token id i on line i, on the parent run and in the export
    layer = tokenizers(result.model)[0]
    local = client.download_artifacts(result.mlflow["parent_run_id"], "vocabulary.txt", tmp_path)
    lines = Path(local).read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["[PAD]", "[UNK]"] and lines[2:] == layer.get_vocabulary()[2:]
    paths = result.export(tmp_path / "export", quiet=True)
    assert Path(paths["vocabulary"]).read_text(encoding="utf-8").splitlines() == lines
    # the report's leaderboard shows each trial's family and tokenizer
    page = (result.report_dir / "index.html").read_text()
    board = page[page.index("class='leaderboard'") :]
    assert "<th>family</th>" in board and "<th>vocabulary</th>" in board
    assert "<td>bow</td>" in board and "<td>cnn</td>" in board


def test_labels_come_back_for_raw_strings_an_empty_one_and_unknown_words(text_search):
    _, _, result = text_search
    frame = result.predict(["the team scored a goal in the match", "", "zzz qqq xyzzy"])
    assert frame["prediction"].iloc[0] == "sport"
    assert set(frame["prediction"]) <= set(WORDS)
    probabilities = frame[[f"p_{c}" for c in sorted(WORDS)]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_the_tokenizer_learns_its_vocabulary_from_the_training_split_only():
    from automl.config import DataConfig
    from automl.data.arrays import from_arrays
    from automl.data.splits import make_splits
    from automl.models.builder import InputSpec, build_model
    from automl.training.fit import input_spec

    texts, labels = make_texts(40)
    arrays = from_arrays(texts, labels, task=None, where="test")
    assert arrays.modality == "text"
    splits = make_splits(arrays, DataConfig(source="python", test=0.2, seed=0))
    val_only = "unseenword"
    x_val = splits.x_val.copy()
    x_val[0] = f"{x_val[0]} {val_only}"
    object.__setattr__(splits, "x_val", x_val)
    spec = input_spec(splits, {"vocabulary": 1000})
    assert isinstance(spec, InputSpec) and spec.modality == "text"
    assert val_only not in spec.text["tokens"] and "goal" in spec.text["tokens"]
    model = build_model({"architecture": {"name": "bow"}}, spec)
    tokenize = model.get_layer("tokenize")
    ids = np.asarray(tokenize(np.array([f"goal {val_only}"], object)))[0]
    assert ids[1] == 1  # out of vocabulary
    assert ids[0] == spec.text["tokens"].index("goal") + 2  # after padding and unknown
    smaller = input_spec(splits, {"vocabulary": 10})  # the head of the same count
    assert smaller.text["tokens"] == spec.text["tokens"][:8]


@pytest.mark.parametrize(
    "arch",
    [
        {"name": "bow", "mode": "count", "layers": 1, "units": 16},
        {"name": "cnn", "embedding_dim": 8, "blocks": 1, "filters": 8, "head": "gap"},
        {"name": "rnn", "embedding_dim": 8, "units": 8, "cell": "lstm"},
        {"name": "transformer", "embedding_dim": 16, "heads": 2, "blocks": 1},
    ],
    ids=lambda a: a["name"],
)
def test_each_text_family_trains_a_step_saves_and_reloads_with_equal_predictions(arch, tmp_path):
    import keras

    from automl.modalities.text import text_spec
    from automl.models.builder import InputSpec, build_model
    from automl.training.fit import compile_model

    texts, labels = make_texts(10)
    x = np.array(texts, object)
    y = np.eye(3, dtype="float32")[[sorted(WORDS).index(label) for label in labels]]
    spec = InputSpec(shape=(), num_classes=3, text={**text_spec(x, None), "column": "text"})
    model = build_model({"architecture": arch, "dropout": 0.1}, spec)
    compile_model(model, "adam", "classification")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    probe = np.array([texts[0], "", "zzz unknown words"], object)
    np.testing.assert_allclose(
        reloaded.predict(probe, verbose=0), model.predict(probe, verbose=0), atol=1e-5
    )


@pytest.mark.parametrize("name", ["rnn", "transformer"])
def test_the_sequence_families_take_signals_too(name):
    from automl.models.builder import InputSpec, build_model

    model = build_model(
        {"architecture": {"name": name, "units": 8, "embedding_dim": 8, "heads": 2}},
        InputSpec(shape=(40,), num_classes=10),
    )
    assert model.predict(np.zeros((2, 40), "float32"), verbose=0).shape == (2, 10)


FRESH = """
import json, sys
import numpy as np, keras, tensorflow as tf
import automl.models.layers  # the custom layers, as a user with automl installed has them
probe = np.array(json.loads(sys.argv[3]), dtype=object)
keras_out = keras.saving.load_model(sys.argv[1]).predict(probe, verbose=0)
saved = tf.saved_model.load(sys.argv[2])  # kept: its variables live as long as it does
served = saved.serve(tf.constant(probe.astype(str)))
print(json.dumps({"keras": keras_out.tolist(), "savedmodel": np.asarray(served).tolist()}))
"""


def test_the_export_takes_raw_strings_in_a_fresh_process(text_search, tmp_path):
    _, _, result = text_search
    paths = result.export(tmp_path / "export", format=("keras", "savedmodel"), quiet=True)
    signature = json.loads(Path(paths["signature"]).read_text())
    assert signature["inputs"][0]["dtype"] == "string"
    assert signature["output"]["classes"] == sorted(WORDS)
    probe = ["the coach and the team win", "", "zzz qqq", "software app code"]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH,
            str(paths["model"]),
            str(paths["savedmodel"]),
            json.dumps(probe),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outputs = json.loads(proc.stdout.strip().splitlines()[-1])
    here = result.model.predict(np.array(probe, object), verbose=0)
    np.testing.assert_allclose(outputs["keras"], here, atol=1e-5)
    np.testing.assert_allclose(outputs["savedmodel"], here, atol=1e-5)


def test_tflite_and_onnx_say_the_tokenizer_cannot_go_with_them(text_search, tmp_path):
    from automl.errors import UsageError

    _, _, result = text_search
    with pytest.raises(UsageError, match="cannot hold this model's tokenizer"):
        result.export(tmp_path / "export", format="tflite", quiet=True)
    assert not (tmp_path / "export").exists()


def test_predict_reads_a_csv_and_a_folder_of_txt_files(text_search, tmp_path, run_cli):
    root, _, _ = text_search
    new = tmp_path / "new"
    (new / "a").mkdir(parents=True)
    (new / "a" / "one.txt").write_text("the team and the coach win the league")
    (new / "two.txt").write_text("bake the fresh recipe with spice")
    code, _, err = run_cli(
        "predict",
        str(new),
        "--study",
        "news",
        "--run-dir",
        str(root / "runs"),
        "--out",
        str(tmp_path / "folder.csv"),
        cwd=tmp_path,
    )
    assert code == 0, err[-2000:]
    got = pd.read_csv(tmp_path / "folder.csv").set_index("id")["prediction"].to_dict()
    assert got == {"a/one.txt": "sport", "two.txt": "food"}
    csv = tmp_path / "new.csv"
    pd.DataFrame({"text": ["software chip robot", None]}).to_csv(csv, index=False)
    code, _, err = run_cli(
        "predict",
        str(csv),
        "--study",
        "news",
        "--run-dir",
        str(root / "runs"),
        "--out",
        str(tmp_path / "table.csv"),
        cwd=tmp_path,
    )
    assert code == 0, err[-2000:]
    assert list(pd.read_csv(tmp_path / "table.csv")["prediction"])[0] == "tech"


def test_a_csv_of_one_text_column_is_a_text_data_set_and_mixed_tables_keep_theirs(tmp_path):
    from automl.inference import column_kinds
    from automl.zero_config import plan_search

    texts, labels = make_texts(30)
    frame = pd.DataFrame({"review": texts, "label": labels})
    kinds = {d.column: d.kind for d in column_kinds(frame, "label")}
    assert kinds == {"review": "text"}
    plan = plan_search(frame, target="label")
    assert plan.facts.modality == "text" and "bow" in plan.tree["model"]["architecture"]["choice"]
    mixed = frame.assign(stars=np.arange(len(frame)) % 5)
    plan = plan_search(mixed, target="label")
    assert plan.facts.modality == "table" and plan.tree["data"]["columns"]["review"] == "text"


def test_a_table_with_a_text_column_learns_from_its_words(tmp_path):
    import automl

    texts, labels = make_texts(60)
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"note": texts, "noise": rng.normal(0, 1, len(texts)), "y": labels})
    space = {
        "name": "mixed",
        "data": {
            "source": "python",
            "target": "y",
            "columns": {"note": "text"},
            "text": {"vocabulary": 500},
            "split": {"validation": 0.2, "test": 0.2},
        },
        "model": {"architecture": {"choice": {"mlp": {"layers": 1, "units": 32}}}},
        "training": {"epochs": 30, "batch_size": 16},
        "search": {"trials": 1},
        "select": {"top_k": 1},
    }
    result = automl.search(
        space, data=frame, workers=0, run_dir=tmp_path / "runs", reports_dir=None, progress=False
    )
    assert result.test_metrics["accuracy"] > 0.8
    new = frame.drop(columns="y").head(3).assign(note=["goal team win", "", None])
    assert result.predict(new)["prediction"].iloc[0] == "sport"


def test_bad_text_input_is_one_sentence_with_exit_code_2(tmp_path, run_cli):
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    (one / "only" / "a.txt").write_text("just one class")
    code, out, err = run_cli("search", str(one), "--run-dir", str(tmp_path / "runs"))
    assert code == 2 and "at least two (found .txt files only in only/)" in err
    assert "Traceback" not in err and not (tmp_path / "runs").exists()

    def space_file(name: str, **data) -> Path:
        path = tmp_path / f"{name}.yaml"
        tree = {"name": name, "data": data, "training": {"epochs": 1}}
        path.write_text(json.dumps(tree))
        return path

    folder = text_folder(tmp_path / "news", per_class=5)
    for data, words in (
        ({"texts": str(folder), "text": {"vocabulary": 2}}, "data.text.vocabulary"),
        ({"texts": str(folder), "text": {"sequence_length": 0}}, "data.text.sequence_length"),
        ({"texts": str(folder), "text": {"split": "sentence"}}, "data.text.split"),
    ):
        code, _, err = run_cli("validate", str(space_file("bad", **data)), cwd=tmp_path)
        assert code == 2 and words in err and "Traceback" not in err, err
    bow_on_images = tmp_path / "bow.yaml"
    bow_on_images.write_text(
        json.dumps({"name": "bow", "data": {"source": "digits"}, "model": {"architecture": "bow"}})
    )
    code, _, err = run_cli("validate", str(bow_on_images), cwd=tmp_path)
    assert code == 2 and "the bow family cannot take image data" in err, err
