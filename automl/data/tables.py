"""Tables a user brings: CSV (whatever program exported it: encodings, separators, decimal
commas, an index column), Parquet, a pandas DataFrame, read into a table of columns."""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import logging
import lzma
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.data.base import Arrays, check_finite, error_words, labelled
from automl.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("automl")
IDENTIFIER_MIN_VALUES = 20  # a text column with more values, most rows its own, is warned of


# ---- tables --------------------------------------------------------------------------------------


def table_from_frame(
    frame, *, target: str, column_types: dict[str, str], task: str | None, missing: str, where: str
) -> Arrays:
    """A pandas DataFrame -> a table: numeric columns as float32, the others as categories."""
    from automl.config import did_you_mean

    if target not in frame.columns:
        raise DataError(
            f"{where}: no target column {target!r}{did_you_mean(target, frame.columns)}"
            f" (columns: {', '.join(map(str, frame.columns[:20]))}); set data.target"
        )
    for name in column_types:
        if name not in frame.columns:
            raise DataError(
                f"{where}: data.columns names {name!r}, which the table lacks"
                f"{did_you_mean(name, frame.columns)}"
            )
    frame = frame.drop(columns=[c for c, t in column_types.items() if t == "ignore"])
    if missing == "drop":
        frame = frame.dropna()
    if frame[target].isna().any():
        raise DataError(
            f"{where}: the target column {target!r} has {int(frame[target].isna().sum())}"
            f" missing values; drop those rows or set data.missing: drop"
        )
    columns: dict[str, np.ndarray] = {}
    kinds: list[tuple[str, str]] = []
    for name in frame.columns:
        if name == target:
            continue
        series = frame[name]
        kind = column_types.get(name) or (
            "numeric" if series.dtype.kind in "iufb" else "categorical"
        )
        if kind == "numeric":
            if series.dtype.kind not in "iufb":
                raise DataError(
                    f"{where}: column {name!r} is declared numeric but holds text "
                    f"such as {series.dropna().iloc[0]!r}; declare it categorical"
                )
            columns[str(name)] = series.to_numpy(dtype="float32", na_value=np.nan)
        elif kind == "text":  # free text: an empty cell is an empty text
            from automl.modalities.text import as_texts

            columns[str(name)] = as_texts(series.to_numpy())
        elif kind == "datetime":  # the text as written: the model reads the date from it
            if series.isna().any() and missing != "impute":
                raise DataError(
                    f"{where}: date column {name!r} has {int(series.isna().sum())} missing "
                    f"values; fill them, or set data.missing: impute (or drop)"
                )
            columns[str(name)] = np.array(
                ["" if v is None or v != v else str(v) for v in series.to_numpy()], dtype=object
            )
        else:
            if series.isna().any() and missing == "impute":
                from automl.modalities.table import category_strings

                columns[str(name)] = category_strings(series.to_numpy())
                kinds.append((str(name), kind))
                continue
            if series.isna().any():
                raise DataError(
                    f"{where}: categorical column {name!r} has "
                    f"{int(series.isna().sum())} missing values; fill them, or set "
                    f"data.missing: impute (or drop)"
                )
            values = series.to_numpy()
            # strings as an object array: what pandas gives, and what Keras and tf.data accept
            columns[str(name)] = (
                values.astype("int64")
                if series.dtype.kind in "iu"
                else values.astype(str).astype(object)
            )
        kinds.append((str(name), kind))
    if not columns:
        raise DataError(f"{where}: the table has no feature columns besides the target")
    _warn_of_identifier_columns(
        frame, [n for n, k in kinds if k == "categorical" and n not in column_types], where
    )
    check_finite(columns, where, allow_nan=missing == "impute")
    if table_modality(kinds) == "text":  # one text column: a text data set, named after it
        ((name, _),) = kinds
        return labelled(
            columns[name],
            frame[target].to_numpy(),
            None,
            None,
            modality="text",
            task=task,
            where=where,
            columns=tuple(kinds),
        )
    return labelled(
        columns,
        frame[target].to_numpy(),
        None,
        None,
        modality="table",
        task=task,
        where=where,
        columns=tuple(kinds),
    )


def table_modality(kinds: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    """``text`` for a table whose one feature column is text (its examples are then strings),
    else ``table``."""
    used = [kind for _, kind in kinds if kind != "ignore"]
    return "text" if used == ["text"] else "table"


def _warn_of_identifier_columns(frame, names: list[str], where: str) -> None:
    """Warn of inferred categorical columns with a value of their own in most rows (dates, ids,
    free text): one-hot, such a column tells the model nothing about new rows, whose values it
    has not seen. One warning names them all, with the setting that leaves them out."""
    many = {name: frame[name].nunique() for name in names}
    found = [
        name
        for name, count in many.items()
        if count > IDENTIFIER_MIN_VALUES and count > len(frame) / 2
    ]
    if not found:
        return
    one = len(found) == 1
    counted = ", ".join(f"{name!r} ({many[name]} values in {len(frame)} rows)" for name in found)
    ignored = ", ".join(f"{name!r}: ignore" for name in found)
    it = "it" if one else "them"
    log.warning(
        f"{where}: the text column{'' if one else 's'} {counted} "
        f"{'has a value of its' if one else 'have a value of their'} own in most rows, "
        f"so as {'a category it tells' if one else 'categories they tell'} the model "
        f"nothing about new rows; leave {it} out with data.columns: {{{ignored}}}, or "
        f"turn {it} into numbers (a date into days, say)"
    )


def load_table(
    path: Path, *, target: str, column_types: dict[str, str], task: str | None, missing: str
) -> Arrays:
    """A CSV or Parquet file -> a table (see :func:`read_table` for what a CSV may look like)."""
    text_columns = [name for name, kind in column_types.items() if kind != "numeric"]
    try:
        frame = read_table(path, text_columns=text_columns)
    finally:  # the data is loaded: the next search (in this process too) warns again
        _UNNAMED_WARNED.discard(_file_version(path))
    return table_from_frame(
        frame, target=target, column_types=column_types, task=task, missing=missing, where=str(path)
    )


def read_table(path: Path, *, text_columns: list[str] | tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame, whatever program exported the CSV.

    CSVs: any encoding Excel writes (UTF-8 with or without a BOM, UTF-16, Windows-1252), the
    separator sniffed from the first lines (``,`` ``;`` tab ``|``, or Excel's ``sep=`` line),
    quoted fields, and numbers written with thousands separators or a decimal comma, which come
    out as numbers (except in ``text_columns``). Columns without a header and empty rows are
    dropped; headers keep the user's spelling (surrounding spaces removed)."""
    import pandas as pd

    if _is_parquet(path):
        try:
            return pd.read_parquet(path)
        except ImportError as error:
            raise DataError(
                f"{path}: reading Parquet needs pyarrow ({error}); pip install pyarrow"
            ) from None
        except Exception as error:
            raise DataError(
                f"{path}: cannot read this Parquet file "
                f"({error_words(error, path)}); write it again with pandas' to_parquet "
                f"or pyarrow"
            ) from None
    layout = csv_layout(path)
    frame = _read_csv(path, layout)
    frame = _drop_unnamed_columns(frame, path)
    frame = frame.rename(columns=dict(zip(frame.columns, _tidy_names(frame.columns))))
    frame = frame.dropna(how="all").reset_index(drop=True)
    return _numbers_from_text(frame, layout.separator, text_columns)


def table_columns(path: Path) -> list[str]:
    """The column names of a CSV or Parquet table, reading only its header (or schema), exactly
    as :func:`read_table` names them."""
    if _is_parquet(path):
        return _parquet_columns(path)
    layout = csv_layout(path)
    header = _read_csv(path, layout, nrows=0)
    names = [name for i, name in enumerate(header.columns) if not _is_unnamed(name, i)]
    return [str(name) for name in _tidy_names(names)]


# CSV layout: encoding, separator, Excel's "sep=" line

CSV_SEPARATORS = ",;\t|"
SNIFF_BYTES = 64 * 1024  # the most read to find the layout...
SNIFF_LINES = 50  # ... of which the sniffer sees whole lines only
FALLBACK_ENCODINGS = ("cp1252", "latin-1")  # what Excel on Windows writes when not UTF-8


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is written: what :func:`csv_layout` found in its first lines."""

    encoding: str
    separator: str
    skip_rows: int = 0  # 1 when the file starts with Excel's "sep=;" line


def csv_layout(path: Path) -> CsvLayout:
    """The encoding and separator of a CSV file, from its first lines."""
    head = _head_bytes(path)
    _refuse_spreadsheets(path, head)
    encoding = _encoding_of(head)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    first_line = text.split("\n", 1)[0].strip("\r")
    hint = re.fullmatch(r"sep=(.)", first_line, flags=re.IGNORECASE)
    if hint:
        return CsvLayout(encoding, hint.group(1), skip_rows=1)
    lines = text.split("\n")[: SNIFF_LINES + 1]
    return CsvLayout(encoding, _sniff_separator("\n".join(lines[:-1]) or text))


def _head_bytes(path: Path) -> bytes:
    """The first bytes of a CSV file, uncompressed when its name says it is compressed (as
    pandas reads ``.csv.gz``, ``.csv.bz2``, ``.csv.xz`` and one-file ``.zip`` archives)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as file:
                return file.read(SNIFF_BYTES)
        openers: dict[str, Callable[..., Any]] = {
            ".gz": gzip.open,
            ".bz2": bz2.open,
            ".xz": lzma.open,
        }
        with openers.get(suffix, open)(path, "rb") as file:
            return file.read(SNIFF_BYTES)
    except (OSError, EOFError, IndexError, lzma.LZMAError, zipfile.BadZipFile) as error:
        raise DataError(
            f"{path}: cannot open this file ({error_words(error, path)}); check the "
            f"path, its permissions and, for an archive, that it holds one CSV"
        ) from None


def _encoding_of(head: bytes) -> str:
    """UTF-8 (with or without its BOM), UTF-16 with a BOM, else Windows-1252."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        return FALLBACK_ENCODINGS[0]


def _sniff_separator(sample: str) -> str:
    """``csv.Sniffer``'s separator if the header holds it, else the one the header holds most,
    else a comma."""
    header = sample.split("\n", 1)[0]
    try:
        separator = csv.Sniffer().sniff(sample, delimiters=CSV_SEPARATORS).delimiter
        if separator in header:
            return separator
    except csv.Error:
        pass
    counts = {separator: header.count(separator) for separator in CSV_SEPARATORS}
    best = max(counts, key=lambda separator: counts[separator])
    return best if counts[best] else ","


def _refuse_spreadsheets(path: Path, head: bytes) -> None:
    """An Excel workbook named as a CSV gets one sentence, not a tokenizer error."""
    workbook = path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods")
    if workbook or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise DataError(
            f"{path} is a spreadsheet workbook, not a CSV; save it as CSV (File > "
            f"Save As > CSV) and point data.csv at that file"
        )


def _read_csv(path: Path, layout: CsvLayout, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv`` with ``layout``; text that is not UTF-8 after all is read again as
    Windows-1252 (then Latin-1, which reads any bytes)."""
    import pandas as pd

    encodings = [layout.encoding] + [e for e in FALLBACK_ENCODINGS if e != layout.encoding]
    for encoding in encodings:
        try:
            return pd.read_csv(
                path,
                sep=layout.separator,
                encoding=encoding,
                skiprows=layout.skip_rows,
                skipinitialspace=True,
                low_memory=False,
                **options,
            )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise DataError(
                f"{path}: the file is empty; export the table with a header row "
                f"and one row per example"
            ) from None
        except Exception as error:
            raise DataError(
                f"{path}: cannot read this table as CSV ({error_words(error, path)}); "
                f"save it as a CSV with one header row and the same number of "
                f"fields on every line"
            ) from None
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


# CSV cleaning: headerless columns, header spaces, numbers written as text


def _is_unnamed(name: Any, position: int) -> bool:
    """pandas' name for a column whose header cell is empty."""
    return name == f"Unnamed: {position}"


# the versions of table files whose headerless columns were warned of: a search reads its table
# twice (its facts for the preflight, then the data: automl.data.facts, load_table), and says so
# once; load_table forgets the file, so the next search warns again
_UNNAMED_WARNED: set[tuple[str, int, int]] = set()


def _file_version(path: Path) -> tuple[str, int, int]:
    """A file's identity and version: its absolute path, modification time and size."""
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _drop_unnamed_columns(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop columns without a header: a trailing separator's empty column, or the row index
    pandas writes by default (that one with a warning, as it holds values; once for the reads
    of one search, see :data:`_UNNAMED_WARNED`)."""
    unnamed = [name for i, name in enumerate(frame.columns) if _is_unnamed(name, i)]
    with_values = [name for name in unnamed if frame[name].notna().any()]
    version = _file_version(path) if with_values else None
    if version is not None and version not in _UNNAMED_WARNED:
        _UNNAMED_WARNED.add(version)
        positions = ", ".join(str(list(frame.columns).index(n) + 1) for n in with_values)
        log.warning(
            f"{path}: ignored column(s) {positions} as they have no header; give them "
            f"a name in the header row to use them"
        )
    return frame.drop(columns=unnamed)


def _tidy_names(names: Any) -> list[Any]:
    """Headers without surrounding spaces, unless that would make two of them equal."""
    names = list(names)
    stripped = [name.strip() if isinstance(name, str) else name for name in names]
    taken = Counter(stripped)
    return [new if taken[new] == 1 else old for old, new in zip(names, stripped)]


# Numbers as spreadsheets write them: "1,234.5" and "1.234,5", "1 234,5" and "1'234.50".
_SPACES = "[ \u00a0\u202f']"  # spaces and apostrophes group digits anywhere


def _number_pattern(thousands: str, decimal: str) -> re.Pattern[str]:
    """A signed number whose digits may be grouped in threes by ``thousands`` (or a space)."""
    grouped = "|".join(rf"\d{{1,3}}(?:{sep}\d{{3}})+" for sep in (re.escape(thousands), _SPACES))
    return re.compile(rf"(?=\D*\d)[+-]?(?:{grouped}|\d+)?(?:{re.escape(decimal)}\d+)?")


NUMBER_STYLES = {  # style -> (pattern, thousands separator, decimal mark)
    "point": (_number_pattern(",", "."), ",", "."),
    "comma": (_number_pattern(".", ","), ".", ","),
}


def _numbers_from_text(
    frame: pd.DataFrame, separator: str, text_columns: list[str] | tuple[str, ...]
) -> pd.DataFrame:
    """Text columns whose every value is a number in one style become float columns.

    A column that fits both styles ("1,234" alone) takes the style the file's other columns show,
    else a decimal comma in a ``;``-separated file (as European spreadsheets write) and a decimal
    point elsewhere."""
    import pandas as pd

    fits: dict[Any, list[str]] = {}
    for name in frame.columns:
        series = frame[name]
        if name in text_columns or series.dtype.kind in "iufbmM":
            continue
        values = series.dropna()
        if len(values) == 0 or pd.api.types.infer_dtype(values, skipna=True) != "string":
            continue
        values = values.str.strip()
        styles = [
            style for style, (pattern, _, _) in NUMBER_STYLES.items() if _all_match(values, pattern)
        ]
        if styles:
            fits[name] = styles
    votes = Counter(styles[0] for styles in fits.values() if len(styles) == 1)
    preferred = votes.most_common(1)[0][0] if votes else ("comma" if separator == ";" else "point")
    frame = frame.copy()
    for name, styles in fits.items():
        style = styles[0] if len(styles) == 1 else preferred
        frame[name] = _parse_numbers(frame[name], style)
    return frame


def _all_match(values: pd.Series, pattern: re.Pattern[str]) -> bool:
    """Whether every value fits ``pattern`` (the first hundred tried first: text fails fast)."""
    head = values.iloc[:100]
    return bool(head.str.fullmatch(pattern).all()) and bool(values.str.fullmatch(pattern).all())


def _parse_numbers(series: pd.Series, style: str) -> pd.Series:
    """Text numbers in ``style`` -> floats (missing values stay missing)."""
    _, thousands, decimal = NUMBER_STYLES[style]

    def number(value: Any) -> float:
        if not isinstance(value, str):
            return np.nan
        digits = re.sub(_SPACES, "", value.strip()).replace(thousands, "")
        return float(digits.replace(decimal, "."))

    return series.map(number).astype("float64")


# Parquet


def _is_parquet(path: Path) -> bool:
    """By its name, or by its magic bytes when a Parquet file is named as a CSV."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with open(path, "rb") as file:
            return file.read(4) == b"PAR1"
    except OSError:
        return False


def _parquet_columns(path: Path) -> list[str]:
    """The columns pandas would read from a Parquet file, from its schema alone."""
    try:
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
    except ImportError as error:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow ({error}); pip install pyarrow"
        ) from None
    except Exception as error:
        raise DataError(
            f"{path}: cannot read this Parquet file ({error_words(error, path)}); write it "
            f"again with pandas' to_parquet or pyarrow"
        ) from None
    index = {
        name
        for name in (schema.pandas_metadata or {}).get("index_columns", [])
        if isinstance(name, str)
    }
    return [name for name in schema.names if name not in index]
