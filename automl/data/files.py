"""Data a user brings: tables (CSV, Parquet, a pandas DataFrame), image folders, ``.npz`` files,
and from Python numpy arrays or a ``tf.data.Dataset``."""

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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automl.data.base import Arrays, check_finite, labelled
from automl.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    from PIL import Image

MAX_DATASET_EXAMPLES = 5_000_000
log = logging.getLogger("automl")
IDENTIFIER_MIN_VALUES = 20   # a text column with more values, most rows its own, is warned of


# ---- tables --------------------------------------------------------------------------------------

def table_from_frame(frame, *, target: str, column_types: dict[str, str], task: str | None,
                     missing: str, where: str) -> Arrays:
    """A pandas DataFrame -> a table: numeric columns as float32, the others as categories."""
    from automl.config import did_you_mean

    if target not in frame.columns:
        raise DataError(f"{where}: no target column {target!r}{did_you_mean(target, frame.columns)}"
                        f" (columns: {', '.join(map(str, frame.columns[:20]))}); set data.target")
    for name in column_types:
        if name not in frame.columns:
            raise DataError(f"{where}: data.columns names {name!r}, which the table lacks"
                            f"{did_you_mean(name, frame.columns)}")
    frame = frame.drop(columns=[c for c, t in column_types.items() if t == "ignore"])
    if missing == "drop":
        frame = frame.dropna()
    if frame[target].isna().any():
        raise DataError(f"{where}: the target column {target!r} has {int(frame[target].isna().sum())}"
                        f" missing values; drop those rows or set data.missing: drop")
    columns: dict[str, np.ndarray] = {}
    kinds: list[tuple[str, str]] = []
    for name in frame.columns:
        if name == target:
            continue
        series = frame[name]
        kind = column_types.get(name) or ("numeric" if series.dtype.kind in "iufb" else
                                          "categorical")
        if kind == "numeric":
            if series.dtype.kind not in "iufb":
                raise DataError(f"{where}: column {name!r} is declared numeric but holds text "
                                f"such as {series.dropna().iloc[0]!r}; declare it categorical")
            columns[str(name)] = series.to_numpy(dtype="float32", na_value=np.nan)
        else:
            if series.isna().any():
                raise DataError(f"{where}: categorical column {name!r} has "
                                f"{int(series.isna().sum())} missing values; fill them or set "
                                f"data.missing: drop")
            values = series.to_numpy()
            # strings as an object array: what pandas gives, and what Keras and tf.data accept
            columns[str(name)] = values.astype("int64") if series.dtype.kind in "iu" else \
                values.astype(str).astype(object)
        kinds.append((str(name), kind))
    if not columns:
        raise DataError(f"{where}: the table has no feature columns besides the target")
    _warn_of_identifier_columns(frame, [n for n, k in kinds if k == "categorical"
                                       and n not in column_types], where)
    check_finite(columns, where)
    return labelled(columns, frame[target].to_numpy(), None, None, modality="table", task=task,
                    where=where, columns=tuple(kinds))


def _warn_of_identifier_columns(frame, names: list[str], where: str) -> None:
    """Warn of inferred categorical columns with a value of their own in most rows (dates, ids,
    free text): one-hot, such a column tells the model nothing about new rows, whose values it
    has not seen. One warning names them all, with the setting that leaves them out."""
    many = {name: frame[name].nunique() for name in names}
    found = [name for name, count in many.items()
             if count > IDENTIFIER_MIN_VALUES and count > len(frame) / 2]
    if not found:
        return
    one = len(found) == 1
    counted = ", ".join(f"{name!r} ({many[name]} values in {len(frame)} rows)" for name in found)
    ignored = ", ".join(f"{name!r}: ignore" for name in found)
    it = "it" if one else "them"
    log.warning(f"{where}: the text column{'' if one else 's'} {counted} "
                f"{'has a value of its' if one else 'have a value of their'} own in most rows, "
                f"so as {'a category it tells' if one else 'categories they tell'} the model "
                f"nothing about new rows; leave {it} out with data.columns: {{{ignored}}}, or "
                f"turn {it} into numbers (a date into days, say)")


def load_table(path: Path, *, target: str, column_types: dict[str, str], task: str | None,
               missing: str) -> Arrays:
    """A CSV or Parquet file -> a table (see :func:`read_table` for what a CSV may look like)."""
    text_columns = [name for name, kind in column_types.items() if kind != "numeric"]
    try:
        frame = read_table(path, text_columns=text_columns)
    finally:  # the data is loaded: the next search (in this process too) warns again
        _UNNAMED_WARNED.discard(_file_version(path))
    return table_from_frame(frame, target=target, column_types=column_types, task=task,
                            missing=missing, where=str(path))


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
            raise DataError(f"{path}: reading Parquet needs pyarrow ({error}); pip install "
                            f"pyarrow") from None
        except Exception as error:
            raise DataError(f"{path}: cannot read this Parquet file "
                            f"({_reason(error, path)}); write it again with pandas' to_parquet "
                            f"or pyarrow") from None
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
SNIFF_BYTES = 64 * 1024                      # the most read to find the layout...
SNIFF_LINES = 50                             # ... of which the sniffer sees whole lines only
FALLBACK_ENCODINGS = ("cp1252", "latin-1")   # what Excel on Windows writes when not UTF-8


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is written: what :func:`csv_layout` found in its first lines."""

    encoding: str
    separator: str
    skip_rows: int = 0       # 1 when the file starts with Excel's "sep=;" line


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
    lines = text.split("\n")[:SNIFF_LINES + 1]
    return CsvLayout(encoding, _sniff_separator("\n".join(lines[:-1]) or text))


def _head_bytes(path: Path) -> bytes:
    """The first bytes of a CSV file, uncompressed when its name says it is compressed (as
    pandas reads ``.csv.gz``, ``.csv.bz2``, ``.csv.xz`` and one-file ``.zip`` archives)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as file:
                return file.read(SNIFF_BYTES)
        opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(suffix, open)
        with opener(path, "rb") as file:
            return file.read(SNIFF_BYTES)
    except (OSError, EOFError, IndexError, lzma.LZMAError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: cannot open this file ({_reason(error, path)}); check the "
                        f"path, its permissions and, for an archive, that it holds one CSV") \
            from None


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
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _refuse_spreadsheets(path: Path, head: bytes) -> None:
    """An Excel workbook named as a CSV gets one sentence, not a tokenizer error."""
    workbook = path.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods")
    if workbook or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise DataError(f"{path} is a spreadsheet workbook, not a CSV; save it as CSV (File > "
                        f"Save As > CSV) and point data.csv at that file")


def _read_csv(path: Path, layout: CsvLayout, **options: Any) -> pd.DataFrame:
    """``pandas.read_csv`` with ``layout``; text that is not UTF-8 after all is read again as
    Windows-1252 (then Latin-1, which reads any bytes)."""
    import pandas as pd

    encodings = [layout.encoding] + [e for e in FALLBACK_ENCODINGS if e != layout.encoding]
    for encoding in encodings:
        try:
            return pd.read_csv(path, sep=layout.separator, encoding=encoding,
                               skiprows=layout.skip_rows, skipinitialspace=True,
                               low_memory=False, **options)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: the file is empty; export the table with a header row "
                            f"and one row per example") from None
        except Exception as error:
            raise DataError(f"{path}: cannot read this table as CSV ({_reason(error, path)}); "
                            f"save it as a CSV with one header row and the same number of "
                            f"fields on every line") from None
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _reason(error: Exception, path: Path | None = None) -> str:
    """An exception's own words on one line, short, naming ``path`` by its name only (the
    message around it names it in full)."""
    words = " ".join(str(error).split()) or type(error).__name__
    if path is not None:
        words = words.replace(str(path), path.name)
    return words if len(words) <= 120 else words[:117] + "..."


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
    if with_values and version not in _UNNAMED_WARNED:
        _UNNAMED_WARNED.add(version)
        positions = ", ".join(str(list(frame.columns).index(n) + 1) for n in with_values)
        log.warning(f"{path}: ignored column(s) {positions} as they have no header; give them "
                    f"a name in the header row to use them")
    return frame.drop(columns=unnamed)


def _tidy_names(names: Any) -> list[Any]:
    """Headers without surrounding spaces, unless that would make two of them equal."""
    names = list(names)
    stripped = [name.strip() if isinstance(name, str) else name for name in names]
    taken = Counter(stripped)
    return [new if taken[new] == 1 else old for old, new in zip(names, stripped)]


# Numbers as spreadsheets write them: "1,234.5" and "1.234,5", "1 234,5" and "1'234.50".
_SPACES = "[ \u00a0\u202f']"                 # spaces and apostrophes group digits anywhere


def _number_pattern(thousands: str, decimal: str) -> re.Pattern[str]:
    """A signed number whose digits may be grouped in threes by ``thousands`` (or a space)."""
    grouped = "|".join(rf"\d{{1,3}}(?:{sep}\d{{3}})+" for sep in (re.escape(thousands), _SPACES))
    return re.compile(rf"(?=\D*\d)[+-]?(?:{grouped}|\d+)?(?:{re.escape(decimal)}\d+)?")


NUMBER_STYLES = {  # style -> (pattern, thousands separator, decimal mark)
    "point": (_number_pattern(",", "."), ",", "."),
    "comma": (_number_pattern(".", ","), ".", ","),
}


def _numbers_from_text(frame: pd.DataFrame, separator: str,
                       text_columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
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
        styles = [style for style, (pattern, _, _) in NUMBER_STYLES.items()
                  if _all_match(values, pattern)]
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
        raise DataError(f"{path}: reading Parquet needs pyarrow ({error}); pip install pyarrow") \
            from None
    except Exception as error:
        raise DataError(f"{path}: cannot read this Parquet file ({_reason(error, path)}); write it "
                        f"again with pandas' to_parquet or pyarrow") from None
    index = {name for name in (schema.pandas_metadata or {}).get("index_columns", [])
             if isinstance(name, str)}
    return [name for name in schema.names if name not in index]


# ---- images --------------------------------------------------------------------------------------

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
IGNORED_NAMES = {"__MACOSX"}                 # what unzipping a macOS archive leaves behind
GREY_MODES = {"L", "LA", "F"}                # the modes decode_image returns that hold no colour


def image_classes(folder: Path) -> list[str]:
    """The class sub-folders of an image folder that hold at least one image file (by name; no
    image is decoded), sorted."""
    files, empty = _class_files(folder)
    _require_two_classes(folder, sorted(files), empty)
    return sorted(files)


def load_image_folder(folder: Path, *, image_size: tuple[int, int] | None,
                      channels: int | None) -> Arrays:
    """``folder/<class>/<image>``: one sub-folder per class, float32 pixels 0-255.

    Images of any mode are converted to ``channels`` (unset: RGB, or grey when every image is
    grey). Without ``image_size``, images that are not of the most common size are resized to it
    (with a warning). Hidden files and folders, non-image files and class folders without images
    are ignored; unreadable images are skipped with a warning."""
    files, empty = _class_files(folder)
    _require_two_classes(folder, sorted(files), empty)
    if empty:
        log.warning(f"{folder}: ignored {len(empty)} class folder(s) without images "
                    f"({', '.join(empty)}); put images in them or remove them")
    images, labels, unreadable = _decode_all(files)
    if not images:
        first, error = unreadable[0]
        raise DataError(f"{folder}: none of its {len(unreadable)} image files can be read (e.g. "
                        f"{_relative(first, folder)}: {_reason(error, first)}); check that they "
                        f"are valid images")
    if unreadable:
        named = "; ".join(f"{_relative(p, folder)}: {_reason(e, p)}" for p, e in unreadable[:5])
        more = f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        log.warning(f"{folder}: skipped {len(unreadable)} unreadable image file(s) ({named}"
                    f"{more})")
    _require_two_classes(folder, sorted(set(labels)), [])
    height, width = image_size or _common_size(folder, images)
    depth = channels or (1 if all(image.mode in GREY_MODES for _, image in images) else 3)
    x = np.empty((len(images), height, width, depth), dtype="float32")
    for i, (_, image) in enumerate(images):
        x[i] = _pixels(image, (height, width), depth)
        images[i] = (images[i][0], None)     # free each decoded image once copied
    return labelled(x, np.array(labels), None, None, modality="image", task="classification",
                    where=str(folder))


# image folders: which files count

def _is_ignored(path: Path) -> bool:
    """Hidden files and folders (``.DS_Store``, ``._x.png``, ``.ipynb_checkpoints``) and
    ``__MACOSX``."""
    return path.name.startswith(".") or path.name in IGNORED_NAMES


def _class_files(folder: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """The image files of each class sub-folder that has some, and the names of those without."""
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; point data.images at a folder with one "
                        f"sub-folder of images per class (unzip an archive first)")
    files: dict[str, list[Path]] = {}
    empty: list[str] = []
    try:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not _is_ignored(p)):
            images = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                            and not _is_ignored(p) and p.is_file())
            if images:
                files[sub.name] = images
            else:
                empty.append(sub.name)
    except OSError as error:
        raise DataError(f"{folder}: cannot list this folder ({_reason(error, folder)}); check its "
                        f"permissions") from None
    return files, empty


def _require_two_classes(folder: Path, classes: list[str], empty: list[str]) -> None:
    """Refuse a folder with fewer than two classes of images, saying what it found."""
    if len(classes) >= 2:
        return
    found = f"found images only in {classes[0]}/" if classes else "found no images in sub-folders"
    if empty:
        found += f", none in {', '.join(e + '/' for e in empty[:5])}"
    raise DataError(f"{folder}: an image folder needs one sub-folder of images per class, at "
                    f"least two ({found}), e.g. cats/ and dogs/ inside it")


def _relative(path: Path, folder: Path) -> str:
    """``class/file.png``: how warnings name a file of the folder."""
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


# image folders: decoding

def _decode_all(files: dict[str, list[Path]]
                ) -> tuple[list[tuple[Path, Any]], list[str], list[tuple[Path, Exception]]]:
    """Every file decoded: (path, image) and its class name, or (path, error) if unreadable."""
    images, labels, unreadable = [], [], []
    for label, paths in sorted(files.items()):
        for path in paths:
            try:
                images.append((path, decode_image(path)))
                labels.append(label)
            except Exception as error:   # any decoding failure means "not a readable image"
                unreadable.append((path, error))
    return images, labels, unreadable


def decode_image(path: Path) -> Image.Image:
    """An image file, upright (EXIF orientation applied), in one of the modes L, LA, RGB, RGBA
    (8 bits a channel) or F (grey of a higher bit depth, scaled to 0-255)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()                         # truncated files fail here, not later
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:                    # a malformed EXIF block: keep the stored orientation
            upright = image.copy()
    return _plain_mode(upright)


def _plain_mode(image: Image.Image) -> Image.Image:
    """``image`` in L, LA, RGB, RGBA or F (16- and 32-bit grey scaled to 0-255)."""
    from PIL import Image

    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        return image
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_grey_to_255(np.asarray(image), mode), mode="F")
    if mode == "P":
        if "transparency" in image.info:
            return image.convert("RGBA")
        return image.convert("L") if _grey_palette(image) else image.convert("RGB")
    if mode == "1":
        return image.convert("L")
    if mode in ("PA", "RGBa"):
        return image.convert("RGBA")
    if mode == "La":
        return image.convert("LA")
    return image.convert("RGB")              # CMYK, YCbCr, LAB, HSV, RGBX


def _grey_to_255(pixels: np.ndarray, mode: str) -> np.ndarray:
    """Grey pixels of a high bit depth -> float32 0-255: 16-bit modes by their depth; 32-bit
    ones by the depth their values need (8, 16 bits, or their own maximum)."""
    pixels = pixels.astype("float32")
    if mode.startswith("I;16"):
        return pixels / 257.0
    top = float(pixels.max()) if pixels.size else 0.0
    scale = 1.0 if top <= 255 else 257.0 if top <= 65535 else top / 255.0
    return np.clip(pixels / scale, 0, 255)


def _grey_palette(image: Image.Image) -> bool:
    """Whether every colour of a palette image's palette is a grey."""
    palette = image.getpalette() or []
    return bool(palette) and all(palette[i] == palette[i + 1] == palette[i + 2]
                                 for i in range(0, len(palette) - 2, 3))


def _common_size(folder: Path, images: list[tuple[Path, Any]]) -> tuple[int, int]:
    """The most common (height, width); the others are resized to it with one warning. A tie has
    no most common size: the user chooses one."""
    sizes = Counter((image.height, image.width) for _, image in images)
    (size, count), *rest = sizes.most_common()
    if not rest:
        return size
    if rest[0][1] == count:
        other = rest[0][0]
        a = next(p for p, image in images if (image.height, image.width) == size)
        b = next(p for p, image in images if (image.height, image.width) == other)
        raise DataError(f"{folder}: images have different sizes and none is the most common "
                        f"({_relative(a, folder)} is {size[0]}x{size[1]}, {_relative(b, folder)}"
                        f" is {other[0]}x{other[1]}); set data.image_size: [height, width] to "
                        f"resize them all")
    odd, odd_size = next((p, (image.height, image.width)) for p, image in images
                         if (image.height, image.width) != size)
    log.warning(f"{folder}: {len(images) - count} of {len(images)} images are not "
                f"{size[0]}x{size[1]}, the most common size (e.g. {_relative(odd, folder)} is "
                f"{odd_size[0]}x{odd_size[1]}), and were resized to it; set data.image_size: "
                f"[height, width] to choose the size")
    return size


def _pixels(image: Image.Image, size: tuple[int, int], channels: int) -> np.ndarray:
    """A decoded image resized to ``size`` (height, width) with ``channels`` channels, as float32
    pixels 0-255."""
    from PIL import Image

    height, width = size
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    if image.mode == "F":
        grey = np.asarray(image, dtype="float32")[..., None]
        if channels == 1:
            return grey
        rgb = np.repeat(grey, 3, axis=-1)
        alpha = np.full_like(grey, 255.0)
        return rgb if channels == 3 else np.concatenate([rgb, alpha], axis=-1)
    converted = image.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels])
    return np.asarray(converted, dtype="float32").reshape(height, width, channels)


# ---- arrays --------------------------------------------------------------------------------------

def modality_of(x: np.ndarray, where: str) -> str:
    if x.ndim == 2:
        return "signal"
    if x.ndim == 4 or x.ndim == 3:
        return "image"
    raise DataError(f"{where}: examples of shape {x.shape[1:]} are neither signals (length,) "
                    f"nor images (height, width[, channels])")


def from_arrays(x: Any, y: Any, x_test: Any = None, y_test: Any = None, *, task: str | None,
                where: str) -> Arrays:
    x = np.asarray(x)
    if x.dtype.kind not in "iufb":
        raise DataError(f"{where}: x must be numeric; found {x.dtype}")
    modality = modality_of(x, where)
    if modality == "image" and x.ndim == 3:
        x = x[..., None]
        x_test = None if x_test is None else np.asarray(x_test)[..., None]
    x = x.astype("float32")
    x_test = None if x_test is None else np.asarray(x_test).astype("float32")
    if (x_test is None) != (y_test is None):
        raise DataError(f"{where}: give both x_test and y_test, or neither")
    check_finite(x, where)
    return labelled(x, y, x_test, y_test, modality=modality, task=task, where=where)


def load_npz(path: Path, *, task: str | None) -> Arrays:
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        if not {"x", "y"} <= keys:
            raise DataError(f"{path}: an .npz source needs arrays named x and y (and optionally "
                            f"x_test, y_test); found {', '.join(sorted(keys))}")
        return from_arrays(f["x"], f["y"], f.get("x_test"), f.get("y_test"), task=task,
                           where=str(path))


def from_python(data: Any, *, target: str | None, column_types: dict[str, str],
                task: str | None, missing: str) -> Arrays:
    """``automl.search(space, data=...)``: (x, y), a dict of arrays, a DataFrame or a tf.data set."""
    where = "data="
    if isinstance(data, tuple) and len(data) in (2, 4):
        return from_arrays(*data, task=task, where=where)
    if isinstance(data, dict) and {"x", "y"} <= set(data):
        return from_arrays(data["x"], data["y"], data.get("x_test"), data.get("y_test"),
                           task=task, where=where)
    if type(data).__name__ == "DataFrame":
        if not target:
            raise DataError("data= is a DataFrame: name its label column with data.target in "
                            "the space (or target= in automl.search)")
        return table_from_frame(data, target=target, column_types=column_types, task=task,
                                missing=missing, where="the DataFrame")
    if type(data).__name__.endswith("Dataset") and hasattr(data, "as_numpy_iterator"):
        xs, ys = [], []
        for count, (x, y) in enumerate(data.unbatch().as_numpy_iterator()
                                       if _is_batched(data) else data.as_numpy_iterator()):
            if count >= MAX_DATASET_EXAMPLES:
                raise DataError(f"{where}: the tf.data.Dataset has more than "
                                f"{MAX_DATASET_EXAMPLES:,} examples; pass arrays instead")
            xs.append(x)
            ys.append(y)
        if not xs:
            raise DataError(f"{where}: the tf.data.Dataset is empty")
        return from_arrays(np.stack(xs), np.stack(ys), task=task, where=where)
    raise DataError(f"{where}: expected (x, y), (x, y, x_test, y_test), a dict with x and y, a "
                    f"pandas DataFrame or a tf.data.Dataset of (x, y); got {type(data).__name__}")


def _is_batched(dataset: Any) -> bool:
    """A batched dataset's elements have an unknown leading (batch) dimension."""
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    shape = getattr(first, "shape", None)
    return shape is not None and len(shape) > 0 and shape[0] is None
