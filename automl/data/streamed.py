"""Image folders past the memory budget: decoded once, to a file of uint8 pixels on disk.

Below ``data.memory_budget`` an image folder is decoded into memory (:mod:`automl.data.images`).
Past it, the folder is only listed and the splits are made on its file paths; :func:`to_disk`
then decodes every split once, in parallel threads (Pillow decodes outside Python's lock), into
one ``.npy`` file beside the split snapshot, and each split's examples become a read-only memory
map of its rows. :mod:`automl.data.pipeline` reads such a split with TensorFlow's own file
reader, through the operating system's page cache (shared by the workers of a machine), so no
process holds more than a shuffle buffer of it.

The file is named by its content (the image files' SHA-256, the pixel shape): a resumed search,
or a second search on the same folder, reuses it; a worker on another machine gets it from the
artifact store or decodes its own copy of the folder (:mod:`automl.tuner.handoff`).

Example:
    >>> splits = make_splits(load_source(cfg.data), cfg.data)  # an image folder past budget
    >>> splits = to_disk(splits, Path("automl-runs/pets/data"))
    >>> splits.x_train                                  # memmap([[[[...]]]], dtype=uint8)
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from automl.data.splits import Splits, Streamed
from automl.errors import DataError

log = logging.getLogger("automl")

PARTS = ("x_train", "x_val", "x_test", "x_holdout")  # in the pixel file's row order
CHUNK = 64  # files one thread decodes at a time


def to_disk(splits: Splits, folder: Path, progress: bool = False) -> Splits:
    """The splits with their image files decoded to ``folder/pixels-<digest>.npy``.

    Splits held in memory are returned as they are. The file is written once (to a partial
    file, renamed when whole); each example's rows are a memory map of it afterwards. A file
    whose header read but whose pixels do not (a truncated JPEG) is left out of its split with
    a warning, as the in-memory path leaves it out of the folder.

    Args:
        progress: show a progress bar while decoding (on a terminal) and say when it is done.

    Raises:
        DataError: not enough free disk space in ``folder`` for the decoded pixels.
    """
    if splits.file_pixels is None:
        return splits
    shape = splits.file_pixels
    parts = [(p, getattr(splits, p)) for p in PARTS if getattr(splits, p) is not None]
    root = Path(os.path.commonpath([str(p) for _, paths in parts for p in paths]))  # the folder
    splits = _shuffled_train(splits, root)
    parts = [(p, getattr(splits, p)) for p in PARTS if getattr(splits, p) is not None]
    started = time.monotonic()
    sha256 = {name: _file_digests(paths) for name, paths in parts}
    names = {name: np.array([os.path.relpath(p, root) for p in paths]) for name, paths in parts}
    key = hashlib.sha256(repr(shape).encode())
    for name, _ in parts:
        key.update(name.encode())
        key.update("\n".join(names[name].tolist()).encode())
        key.update("".join(sha256[name].tolist()).encode())
    path = folder / f"pixels-{key.hexdigest()[:16]}.npy"
    facts_file = path.with_suffix(".json")  # rows left out, statistics: written before the file
    if path.is_file() and facts_file.is_file():
        facts = json.loads(facts_file.read_text())
    else:
        _require_space(folder, sum(len(p) for _, p in parts) * int(np.prod(shape)))
        facts = _decode(parts, shape, path, facts_file, progress)
        said = (
            f"decoded {sum(len(p) for _, p in parts) - len(facts['skipped']):,} images to "
            f"{path} ({path.stat().st_size / 2**30:.2f} GB), past data.memory_budget, in "
            f"{time.monotonic() - started:.0f} s"
        )
        log.info(said)
        if progress:
            print(said, file=sys.stderr)
    skipped = {int(k): v for k, v in facts["skipped"].items()}
    if skipped:
        splits, names, sha256 = _without(splits, names, sha256, skipped, root)
    stats = tuple(float(v) for v in facts["train_stats"])
    return open_streamed(splits, Streamed(str(path), names, sha256, stats))


def _shuffled_train(splits: Splits, root: Path) -> Splits:
    """The training split in a random order, fixed by its file names: the pipeline reads it
    from the file in stretches (:mod:`automl.data.pipeline`), so neighbours on disk must not
    be of one class, as a folder listed class by class has them."""
    paths = cast("np.ndarray", splits.x_train)  # file paths, not yet decoded
    names = "\n".join(os.path.relpath(p, root) for p in paths.tolist())
    seed = int(hashlib.sha256(names.encode()).hexdigest()[:8], 16)
    order = np.random.default_rng(seed).permutation(len(splits.y_train))
    return replace(splits, x_train=paths[order], y_train=splits.y_train[order])


def _without(
    splits: Splits,
    names: dict[str, np.ndarray],
    sha256: dict[str, np.ndarray],
    skipped: dict[int, str],
    root: Path,
) -> tuple[Splits, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The splits less the rows whose files could not be decoded, said once."""
    offset = 0
    kept_x: dict[str, Any] = {}
    kept_names, kept_sha = {}, {}
    for part in PARTS:
        if part not in names:
            continue
        count = len(names[part])
        keep = np.array([offset + i not in skipped for i in range(count)], dtype=bool)
        offset += count
        y_part = "y" + part[1:]
        kept_x[part], kept_x[y_part] = getattr(splits, part)[keep], getattr(splits, y_part)[keep]
        kept_names[part], kept_sha[part] = names[part][keep], sha256[part][keep]
    said = "; ".join(f"{k}" for k in list(skipped.values())[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    log.warning(f"{root}: skipped {len(skipped)} unreadable image file(s) ({said}{more})")
    return replace(splits, **kept_x), kept_names, kept_sha


def open_streamed(splits: Splits, streamed: Streamed) -> Splits:
    """``splits`` with each x part the memory map of its rows of ``streamed.pixels`` (each its
    own map, whose ``offset`` is where its rows start in the file: the pipeline's file reader
    starts there, and maps nothing into the process)."""
    try:
        pixels = np.load(streamed.pixels, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise DataError(
            f"{streamed.pixels}: not a readable pixel file ({error}); delete it and run the "
            f"search again to rewrite it"
        ) from None
    shape, header = pixels.shape[1:], pixels.offset
    row_bytes = int(np.prod(shape))
    rows: dict[str, Any] = {}
    start = 0
    for name in PARTS:
        if name in streamed.names:
            count = len(streamed.names[name])
            rows[name] = (
                np.memmap(
                    streamed.pixels,
                    dtype="uint8",
                    mode="r",
                    offset=header + start * row_bytes,
                    shape=(count, *shape),
                )
                if count
                else np.empty((0, *shape), dtype="uint8")
            )
            start += count
    if start != len(pixels):
        raise DataError(
            f"{streamed.pixels}: holds {len(pixels)} images where the splits name {start}; "
            f"delete it and run the search again to rewrite it"
        )
    return replace(splits, **rows, file_pixels=None, streamed=streamed)


def _require_space(folder: Path, needed: int) -> None:
    """Refuse to start a decode that the disk cannot hold, in one sentence."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DataError(
            f"{folder}: the images decoded take {needed / 2**30:.1f} GB on disk and only "
            f"{free / 2**30:.1f} GB are free there; free some space, point --run-dir at a "
            f"larger disk, or set data.image_size smaller"
        )


def _file_digests(paths: np.ndarray) -> np.ndarray:
    """Each file's SHA-256 (hex), read in parallel."""

    def one(path: str) -> str:
        try:
            with open(path, "rb") as handle:
                return hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as error:
            raise DataError(
                f"{path}: cannot read this image ({error.strerror}); check that the folder "
                f"is complete and readable"
            ) from None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return np.array(list(pool.map(one, paths.tolist())))


def _decode(
    parts: list[tuple[str, np.ndarray]],
    shape: tuple[int, int, int],
    path: Path,
    facts_file: Path,
    progress: bool = False,
) -> dict:
    """Every part's files decoded in parallel into one uint8 array file, rows in part order,
    and the training split's statistics counted on the way (one pass over the data).

    Returns:
        ``skipped``: the rows (of all parts, in order) whose files could not be decoded -> why,
        in words (the file holds the other rows only); ``train_stats``: the mean, variance,
        min and max of the training split's pixels. Also written to ``facts_file``.
    """
    import threading

    from automl.data.base import error_words
    from automl.data.images import decode_image, pixels

    files = [str(p) for _, paths in parts for p in paths.tolist()]
    root = os.path.commonpath(files)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    height, width, depth = shape
    row_bytes = height * width * depth
    # the header and the file's size; rows are written with pwrite, so that the decoded pixels
    # go to the page cache and not into this process's memory
    header = _npy_file(partial, (len(files), *shape))
    failed: dict[int, str] = {}
    out = os.open(partial, os.O_WRONLY)
    train_rows = len(parts[0][1])  # x_train comes first
    totals = [0, 0.0, 0.0, 255.0, 0.0]  # count, sum, sum of squares, min, max
    lock = threading.Lock()

    def chunk(start: int) -> None:
        mine = [0, 0.0, 0.0, 255.0, 0.0]
        for i in range(start, min(start + CHUNK, len(files))):
            try:
                with open(files[i], "rb") as handle:
                    image = decode_image(io.BytesIO(handle.read()))
                row = pixels(image, (height, width), depth)
                os.pwrite(out, row.tobytes(), header + i * row_bytes)
                if i < train_rows:
                    values = row.astype("float64")
                    mine[0] += values.size
                    mine[1] += float(values.sum())
                    mine[2] += float(np.square(values).sum())
                    mine[3], mine[4] = min(mine[3], values.min()), max(mine[4], values.max())
            except Exception as error:  # any failure means "not a readable image"
                failed[i] = (
                    f"{os.path.relpath(files[i], root)}: {error_words(error, Path(files[i]))}"
                )
        with lock:
            totals[0] += mine[0]
            totals[1] += mine[1]
            totals[2] += mine[2]
            totals[3], totals[4] = min(totals[3], mine[3]), max(totals[4], mine[4])

    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(file=sys.stderr), transient=True, disable=not progress)
    with bar, ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        task = bar.add_task("decoding images", total=len(files))
        for _ in pool.map(chunk, range(0, len(files), CHUNK)):
            bar.advance(task, CHUNK)
    os.close(out)
    if failed:  # the good rows, in order, into a file of their own (rare)
        good = [i for i in range(len(files)) if i not in failed]
        compact = path.with_suffix(".compact.npy")
        offset = _npy_file(compact, (len(good), *shape))
        with open(partial, "rb") as source, open(compact, "r+b") as target:
            for k, i in enumerate(good):
                target.seek(offset + k * row_bytes)
                target.write(os.pread(source.fileno(), row_bytes, header + i * row_bytes))
        compact.replace(partial)
    count = max(int(totals[0]), 1)
    mean = totals[1] / count
    facts = {
        "skipped": {str(k): v for k, v in sorted(failed.items())},
        "train_stats": [mean, max(totals[2] / count - mean * mean, 0.0), totals[3], totals[4]],
    }
    facts_file.write_text(json.dumps(facts))
    partial.replace(path)  # atomic, and last: a reader never sees half a file
    return facts


def _npy_file(path: Path, shape: tuple[int, ...]) -> int:
    """An .npy file of uint8 zeros of ``shape`` (sparse on disk); the offset of its first row."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype="uint8", shape=shape)
    offset = int(array.offset)
    del array
    return offset
