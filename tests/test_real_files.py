"""Files as users really have them: CSVs from Excel and friends (BOM, ``;``, tabs, quotes,
thousands separators, decimal commas, any header) and image folders of mixed modes and sizes with
junk in them. Each one loads with real values, or gets one clear sentence. Fast: no training,
except one build-and-fit at the end."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from automl.data.images import image_classes, load_image_folder
from automl.data.tables import load_table, read_table, table_columns
from automl.errors import DataError

# ---- CSV quirks ---------------------------------------------------------------------------------

N, C = "numeric", "categorical"
MESSY_HEADERS = ["od280/od315_of_diluted_wines", "price ($)", "x[0]", "1st", "größe", "a b"]

CSV_QUIRKS = [
    # (file content as text or bytes, expected feature columns -> kind, expected values)
    pytest.param(
        "\ufeffsize,color,label\n1.5,red,yes\n2.5,blue,no\n",
        {"size": N, "color": C},
        {"size": [1.5, 2.5]},
        id="utf8-bom",
    ),
    pytest.param(
        "size;color;label\n1.5;red;yes\n2.5;blue;no\n",
        {"size": N, "color": C},
        {"color": ["red", "blue"]},
        id="semicolon",
    ),
    pytest.param(
        "size\tcolor\tlabel\n1.5\tred, dark\tyes\n2.5\tblue\tno\n",
        {"size": N, "color": C},
        {"color": ["red, dark", "blue"]},
        id="tab",
    ),
    pytest.param(
        'id,text,size,label\n1,"hello, world",3.5,yes\n2,"two\nlines, here",4,no\n',
        {"id": N, "text": C, "size": N},
        {"text": ["hello, world", "two\nlines, here"], "size": [3.5, 4.0]},
        id="quoted-separators-and-newlines",
    ),
    pytest.param(
        'price;qty;label\n"1,234.5";7;yes\n5,678.25;8;no\n-12.5;9;no\n',
        {"price": N, "qty": N},
        {"price": [1234.5, 5678.25, -12.5]},
        id="thousands-comma-with-semicolons",
    ),
    pytest.param(
        'price,label\n"1,234.5",yes\n"12,000",no\n',
        {"price": N},
        {"price": [1234.5, 12000.0]},
        id="thousands-comma-quoted",
    ),
    pytest.param(
        "price;weight;label\n1.234,5;2,5;yes\n12,25;3;no\n1.000.000;4,75;no\n",
        {"price": N, "weight": N},
        {"price": [1234.5, 12.25, 1e6], "weight": [2.5, 3.0, 4.75]},
        id="european-decimal-comma",
    ),
    pytest.param(
        "price;weight;label\n1,234;2,5;yes\n5,678;3;no\n",
        {"price": N, "weight": N},
        {"price": [1.234, 5.678]},
        id="ambiguous-comma-follows-the-file",
    ),
    pytest.param(
        "price;label\n1 234,5;yes\n5\u00a0678,25;no\n",
        {"price": N},
        {"price": [1234.5, 5678.25]},
        id="french-space-thousands",
    ),
    pytest.param(
        "sep=;\r\nGröße;€;label\r\n1,5;2;yes\r\n3;4;no\r\n".encode("cp1252"),
        {"Größe": N, "€": N},
        {"Größe": [1.5, 3.0]},
        id="excel-sep-line-windows-1252",
    ),
    pytest.param(
        "size\tcolor\tlabel\n1,5\tred\tyes\n2\tblue\tno\n".encode("utf-16"),
        {"size": N, "color": C},
        {"size": [1.5, 2.0]},
        id="excel-unicode-text-utf16",
    ),
    pytest.param(
        ",".join(MESSY_HEADERS) + ",label\n1,2,3,4,5,6,yes\n7,8,9,10,11,12,no\n",
        dict.fromkeys(MESSY_HEADERS, N),
        {"od280/od315_of_diluted_wines": [1, 7], "a b": [6, 12]},
        id="messy-headers",
    ),
    pytest.param(
        "a,a, b ,label\n1,x,3,yes\n2,y,4,no\n",
        {"a": N, "a.1": C, "b": N},
        {"a.1": ["x", "y"]},
        id="duplicate-and-spaced-headers",
    ),
    pytest.param(
        "size;color;label;\n1,5;red;yes;\n;;;\n2,5;blue;no;\n",
        {"size": N, "color": C},
        {"size": [1.5, 2.5]},
        id="trailing-separator-and-blank-row",
    ),
    pytest.param(
        ",size,label\n0,1.5,yes\n1,2.5,no\n",
        {"size": N},
        {"size": [1.5, 2.5]},
        id="pandas-index-column",
    ),
    pytest.param(
        "code,size,label\nA-1,1,yes\nB-2,2,no\n",
        {"code": C, "size": N},
        {"code": ["A-1", "B-2"]},
        id="text-stays-text",
    ),
]


@pytest.mark.parametrize("content, kinds, values", CSV_QUIRKS)
def test_csv_quirks_load_with_the_right_columns_types_and_values(tmp_path, content, kinds, values):
    path = tmp_path / "export.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    table = load_table(path, target="label", column_types={}, task=None, missing="error")
    assert dict(table.columns) == kinds
    assert table.task == "classification" and table.class_names == ("no", "yes")
    for name, expected in values.items():
        column = table.x_train[name]
        if kinds[name] == N:
            assert column.dtype == np.float32
            np.testing.assert_allclose(column, expected, rtol=1e-6)
        else:
            assert list(column) == expected
    # the header alone gives the same names, in the same order
    assert table_columns(path) == list(read_table(path).columns) == [*kinds, "label"]


def test_a_declared_categorical_column_keeps_its_text(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("zip;size;label\n1.234,5;1;yes\n2.000,0;2;no\n", encoding="utf-8")
    table = load_table(path, target="label", column_types={"zip": C}, task=None, missing="error")
    assert list(table.x_train["zip"]) == ["1.234,5", "2.000,0"]


def test_text_columns_with_a_value_per_row_are_warned_of_once_with_the_fix(tmp_path, logged):
    rows = 60
    path = tmp_path / "sales export.csv"
    path.write_text(
        "order id,date sold,region,sku,price,label\n"
        + "".join(
            f"A-{i:04d},2024-03-{1 + i % 28:02d} 10:{i:02d},{'north south'.split()[i % 2]},"
            f"SKU{i},{i}.5,{'yes' if i % 3 else 'no'}\n"
            for i in range(rows)
        ),
        encoding="utf-8",
    )
    table = load_table(path, target="label", column_types={"sku": C}, task=None, missing="error")
    assert dict(table.columns)["date sold"] == C  # still loaded: the warning is advice
    assert len(logged) == 1, logged
    assert logged[0] == (
        f"{path}: the text columns 'order id' (60 values in 60 rows), 'date sold' (60 values in "
        f"60 rows) have a value of their own in most rows, so as categories they tell the model "
        f"nothing about new rows; leave them out with data.columns: {{'order id': ignore, "
        f"'date sold': ignore}}, or turn them into numbers (a date into days, say)"
    )
    # region (2 values) is a category; sku was declared one, so it is what the user asked for
    assert "region" not in logged[0] and "sku" not in logged[0]
    logged.clear()
    load_table(
        path,
        target="label",
        task=None,
        missing="error",
        column_types={"order id": "ignore", "date sold": "ignore", "sku": C},
    )
    assert logged == []


def test_a_european_regression_target_is_numeric(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text(
        "area;price\n"
        + "".join(
            f"{i};{i * 1000:,.2f}\n".replace(",", " ").replace(".", ",") for i in range(1, 80)
        ),
        encoding="utf-8",
    )
    table = load_table(path, target="price", column_types={}, task=None, missing="error")
    assert table.task == "regression"
    np.testing.assert_allclose(table.y_train[:3], [1000, 2000, 3000])


def test_compressed_and_parquet_tables_give_their_columns_from_the_header(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {"od280/od315_of_diluted_wines": [1.5, 2.5], "price ($)": [3, 4], "label": ["yes", "no"]}
    )
    with gzip.open(tmp_path / "t.csv.gz", "wt", encoding="utf-8") as file:
        frame.to_csv(file, sep=";", decimal=",", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for path in (tmp_path / "t.csv.gz", tmp_path / "t.parquet"):
        assert table_columns(path) == list(frame.columns) == list(read_table(path).columns)
        np.testing.assert_allclose(read_table(path)["od280/od315_of_diluted_wines"], [1.5, 2.5])


@pytest.mark.parametrize(
    "name, content, fragment, readers",
    [
        (
            "empty.csv",
            b"",
            "the file is empty; export the table with a header row",
            (table_columns, read_table),
        ),
        (
            "book.xlsx",
            b"PK\x03\x04rest of a workbook",
            "is a spreadsheet workbook, not a CSV; save it",
            (table_columns, read_table),
        ),
        (
            "broken.parquet",
            b"PAR1 not really",
            "cannot read this Parquet file",
            (table_columns, read_table),
        ),
        # a bad row further down: the header is fine, the table is not
        (
            "ragged.csv",
            b"a,b,label\n1,2,yes\n1,2,3,4,5\n",
            "cannot read this table as CSV",
            (read_table,),
        ),
    ],
)
def test_unreadable_tables_get_one_sentence_naming_the_file(
    tmp_path, name, content, fragment, readers
):
    path = tmp_path / name
    path.write_bytes(content)
    for read in readers:
        with pytest.raises(DataError) as info:
            read(path)
        message = str(info.value)
        assert fragment in message and str(path) in message
        assert "\n" not in message and len(message) <= 300


# ---- image folder quirks ------------------------------------------------------------------------

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (8, 8, 3), dtype="uint8")
GREY = RNG.integers(0, 256, (8, 8), dtype="uint8")
GREY16 = RNG.integers(0, 65536, (8, 8), dtype="uint16")


def grey() -> Image.Image:
    return Image.fromarray(GREY)


def rgb() -> Image.Image:
    return Image.fromarray(RGB)


def rgba() -> Image.Image:
    return Image.fromarray(np.dstack([RGB, np.full((8, 8), 77, "uint8")]))


def palette() -> Image.Image:
    return Image.fromarray(RGB).quantize(16)


def grey16() -> Image.Image:
    return Image.fromarray(GREY16)  # mode I;16, as a 16-bit PNG opens


def grey_alpha() -> Image.Image:
    return Image.fromarray(GREY).convert("LA")


def cmyk() -> Image.Image:
    return Image.fromarray(RGB).convert("CMYK")


def small() -> Image.Image:
    return Image.fromarray(RGB[:6, :5])


def corrupt(path: Path) -> None:
    path.write_bytes(b"this is not an image")


def truncated(path: Path) -> None:
    rgb().save(path)
    path.write_bytes(path.read_bytes()[:60])


def junk(path: Path) -> None:
    path.write_bytes(b"\x00\x00\x00\x01Bud1")


# (files {"class/name": image maker or writer}, image_size asked, channels asked, expected shape
#  of one example, expected examples per class, expected warning fragments)
IMAGE_QUIRKS = [
    pytest.param(
        {"a/1.png": grey, "a/2.png": grey, "b/1.png": grey16},
        None,
        None,
        (8, 8, 1),
        {"a": 2, "b": 1},
        [],
        id="all-grey-incl-16-bit-gives-one-channel",
    ),
    pytest.param(
        {"a/1.png": rgb, "a/2.png": rgba, "b/1.gif": palette, "b/2.jpg": cmyk},
        None,
        None,
        (8, 8, 3),
        {"a": 2, "b": 2},
        [],
        id="rgb-rgba-palette-cmyk",
    ),
    pytest.param(
        {"a/1.png": grey, "a/2.png": rgb, "b/1.png": grey16, "b/2.png": grey_alpha},
        None,
        None,
        (8, 8, 3),
        {"a": 2, "b": 2},
        [],
        id="grey-and-colour-give-rgb",
    ),
    pytest.param(
        {"a/1.png": rgba, "a/2.png": grey, "b/1.png": palette},
        None,
        4,
        (8, 8, 4),
        {"a": 2, "b": 1},
        [],
        id="rgba-asked",
    ),
    pytest.param(
        {"a/1.png": rgb, "a/2.png": rgb, "b/1.png": rgb, "b/2.png": small},
        None,
        None,
        (8, 8, 3),
        {"a": 2, "b": 2},
        ["1 of 4 images are not 8x8", "b/2.png is 6x5"],
        id="mixed-sizes-resized-to-the-most-common",
    ),
    pytest.param(
        {"a/1.png": rgb, "b/1.png": small},
        (4, 6),
        1,
        (4, 6, 1),
        {"a": 1, "b": 1},
        [],
        id="image-size-and-grey-asked",
    ),
    pytest.param(
        {"a/1.png": rgb, "a/bad.png": corrupt, "b/1.png": rgb, "b/cut.png": truncated},
        None,
        None,
        (8, 8, 3),
        {"a": 1, "b": 1},
        ["skipped 2 unreadable", "a/bad.png", "b/cut.png"],
        id="corrupt-and-truncated",
    ),
    pytest.param(
        {
            "a/1.png": rgb,
            "a/.DS_Store": junk,
            "a/notes.txt": junk,
            "a/._1.png": junk,
            "b/1.png": rgb,
            ".ipynb_checkpoints/1.png": rgb,
            "__MACOSX/a/._1.png": junk,
            ".hidden/1.png": rgb,
            "readme.txt": junk,
        },
        None,
        None,
        (8, 8, 3),
        {"a": 1, "b": 1},
        [],
        id="hidden-and-stray-files",
    ),
    pytest.param(
        {"a/1.png": rgb, "b/1.png": rgb, "empty/notes.txt": junk},
        None,
        None,
        (8, 8, 3),
        {"a": 1, "b": 1},
        ["without images (empty)"],
        id="empty-class-folder",
    ),
]


def build_folder(root: Path, files: dict) -> Path:
    """Write ``files`` ({"class/name": image maker or writer}) under ``root``."""
    for name, make in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if make in (corrupt, truncated, junk):
            make(path)
        else:
            make().save(path)
    return root


@pytest.mark.parametrize("files, image_size, channels, shape, counts, warnings", IMAGE_QUIRKS)
def test_image_folder_quirks(
    tmp_path, logged, files, image_size, channels, shape, counts, warnings
):
    folder = build_folder(tmp_path / "pics", files)
    arrays = load_image_folder(folder, image_size=image_size, channels=channels)
    assert arrays.x_train.shape == (sum(counts.values()), *shape)
    assert arrays.x_train.dtype == np.uint8 and arrays.modality == "image"
    assert 0 <= arrays.x_train.min() and arrays.x_train.max() <= 255
    assert arrays.x_train.max() > 100  # 0-255, not 0-1 (nor 16-bit values)
    assert arrays.class_names == tuple(counts)
    assert np.bincount(arrays.y_train).tolist() == list(counts.values())
    assert image_classes(folder) == list(counts)
    for fragment in warnings:
        assert any(fragment in message for message in logged), (fragment, logged)
    assert len(logged) == (1 if warnings else 0)  # at most one warning per kind of quirk


def test_automl_search_shows_the_data_warnings_on_the_console(tmp_path, run_cli):
    """The command line sends the libraries' output to a log file; automl's own warnings about
    the data (here: an unreadable image skipped) still reach the console, and the log."""
    images = {f"{label}/{i}.png": rgb for label in "ab" for i in range(10)}
    build_folder(tmp_path / "pics", {**images, "a/bad.png": corrupt})
    (tmp_path / "space.yaml").write_text(
        "name: pics\ndata: {images: pics}\n"
        "model: {architecture: {choice: {mlp: {layers: 1, units: 8}}}}\n"
        "training: {optimizer: adam, epochs: 1}\nsearch: {trials: 1, workers: 0}\n"
        "select: {top_k: 1}\n"
    )
    code, _, err = run_cli("search", "space.yaml", "--quiet", cwd=tmp_path)
    assert code == 0, err
    assert "warning: pics: skipped 1 unreadable image file(s) (a/bad.png: " in err
    (log,) = (tmp_path / "automl-runs" / "pics" / "logs").glob("search-*.log")
    assert "skipped 1 unreadable image file(s)" in log.read_text()


INDEX_WARNING = "ignored column(s) 1 as they have no header; give them a name in the header row"


def table_with_its_index(folder: Path) -> Path:
    """A space on a CSV written by pandas' ``to_csv`` with its default ``index=True``."""
    import pandas as pd

    rng = np.random.default_rng(0)
    pd.DataFrame({"size": rng.normal(size=60), "label": rng.choice(["a", "b"], 60)}).to_csv(
        folder / "t.csv"
    )
    (folder / "space.yaml").write_text(
        "name: idx\ndata: {csv: t.csv, target: label}\n"
        "model: {architecture: {choice: {mlp: {layers: 1, units: 8}}}}\n"
        "training: {optimizer: adam, epochs: 1}\nsearch: {trials: 1, workers: 0}\n"
        "select: {top_k: 1}\n"
    )
    return folder / "space.yaml"


def test_the_index_column_of_a_csv_is_warned_of_once_a_command(tmp_path, run_cli):
    """The search reads the table twice (its facts for the preflight, then its data): the
    warning about the pandas index column comes once, for automl validate and automl search."""
    table_with_its_index(tmp_path)
    code, _, err = run_cli("validate", "space.yaml", cwd=tmp_path)
    assert code == 0, err
    assert err.count(INDEX_WARNING) == 1, err
    code, _, err = run_cli("search", "space.yaml", "--quiet", cwd=tmp_path)
    assert code == 0, err
    assert err.count(INDEX_WARNING) == 1, err


def test_each_search_from_python_warns_of_the_index_column_once(tmp_path, logged, monkeypatch):
    """What a search reads before training (the preflight's facts, then the data), twice in one
    process: one warning each time."""
    from automl.config import load_space
    from automl.data import load_source
    from automl.data.checks import preflight

    monkeypatch.chdir(tmp_path)
    space = table_with_its_index(tmp_path)
    for search in (1, 2):
        load_source(preflight(load_space(space)).data)
        assert [m for m in logged if INDEX_WARNING in m] == [
            f"t.csv: {INDEX_WARNING} to use them"
        ] * search, logged


def test_pixel_values_survive_each_mode_conversion(tmp_path):
    folder = build_folder(
        tmp_path / "pics",
        {
            "a/grey.png": grey,
            "a/rgb.png": rgb,
            "b/rgba.png": rgba,
            "b/16bit.png": grey16,
            "b/palette.png": palette,
        },
    )
    x = load_image_folder(folder, image_size=None, channels=4).x_train
    names = ["grey", "rgb", "16bit", "palette", "rgba"]  # class a, then class b, by file name
    got = dict(zip(names, x))
    np.testing.assert_array_equal(got["grey"][..., 0], GREY)
    np.testing.assert_array_equal(got["grey"][..., 1], GREY)
    np.testing.assert_array_equal(got["rgb"][..., :3], RGB)
    np.testing.assert_array_equal(got["rgba"][..., 3], 77)
    np.testing.assert_array_equal(got["rgb"][..., 3], 255)
    np.testing.assert_array_equal(got["16bit"][..., 0], np.rint(GREY16 / 257))  # rounded: uint8
    np.testing.assert_array_equal(got["palette"][..., :3], np.asarray(palette().convert("RGB")))
    grey_only = load_image_folder(folder, image_size=None, channels=1).x_train
    np.testing.assert_array_equal(grey_only[0, ..., 0], GREY)


@pytest.mark.parametrize(
    "files, fragment",
    [
        ({"a/bad.png": corrupt, "b/bad.jpg": truncated}, "none of its 2 image files can be read"),
        ({"a/1.png": rgb, "b/notes.txt": junk}, "found images only in a/, none in b/"),
        ({"a/1.png": rgb, "b/bad.png": corrupt}, "found images only in a/"),
        ({"1.png": rgb}, "found no images in sub-folders"),
        ({"a/1.png": rgb, "b/1.png": small}, "none is the most common"),
    ],
)
def test_image_folders_that_cannot_work_get_one_sentence(tmp_path, files, fragment):
    folder = build_folder(tmp_path / "pics", files)
    with pytest.raises(DataError) as info:
        load_image_folder(folder, image_size=None, channels=None)
    message = str(info.value)
    assert fragment in message and str(folder) in message
    assert "\n" not in message and len(message) <= 300


def test_image_classes_reads_no_image_and_refuses_one_class(tmp_path):
    folder = build_folder(
        tmp_path / "pics",
        {"cats/1.png": corrupt, "dogs/1.jpg": corrupt, "birds/x.txt": junk, ".cache/1.png": rgb},
    )
    assert image_classes(folder) == ["cats", "dogs"]  # by name: corrupt files are not opened
    with pytest.raises(DataError, match="found images only in cats/"):
        image_classes(build_folder(tmp_path / "one", {"cats/1.png": rgb}))
    with pytest.raises(DataError, match="is not a folder"):
        image_classes(folder / "cats" / "1.png")


# ---- end to end: a real exported CSV builds and fits ------------------------------------------


def test_the_wine_table_exported_by_a_european_excel_builds_and_fits(tmp_path):
    """scikit-learn's wine table as German Excel writes it: a BOM, ``;``, decimal commas, and
    the header ``od280/od315_of_diluted_wines``; one epoch of one trial."""
    from sklearn.datasets import load_wine
    from test_sources import run, search_space

    wine = load_wine(as_frame=True).frame
    path = tmp_path / "wine.csv"
    wine.to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8-sig")
    assert table_columns(path) == list(wine.columns)
    result = run(search_space("wine_de", {"csv": str(path), "target": "target"}), tmp_path)
    assert "od280/od315_of_diluted_wines" in result.model.input
    assert 0 <= result.test_metrics["accuracy"] <= 1
    raw = read_table(path).drop(columns="target").head(4)
    probabilities = result.model.predict({k: v.to_numpy() for k, v in raw.items()}, verbose=0)
    assert probabilities.shape == (4, 3)
