"""Image folders past the memory budget: decoded once, to a file of uint8 pixels on disk.

Below ``data.memory_budget`` an image folder is decoded into memory (:mod:`automl.data.images`).
Past it, the folder is only listed and the splits are made on its file paths; :func:`to_disk`
then decodes every split once, in parallel threads (Pillow decodes outside Python's lock), into
one ``.npy`` file beside the split snapshot, and each split's examples become a read-only memory
map of its rows. The operating system pages rows in as batches need them and shares them
between the workers of a machine; :mod:`automl.data.pipeline` reads such a split by batches of
row numbers, so no process holds more than a few batches of it.

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
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from automl.data.splits import Splits, Streamed
from automl.errors import DataError

log = logging.getLogger("automl")

PARTS = ("x_train", "x_val", "x_test", "x_holdout")  # in the pixel file's row order
BUDGET_SHARE = 8  # auto: an eighth of this machine's memory (coordinator, workers, TensorFlow)
CHUNK = 64  # files one thread decodes at a time


def default_budget() -> int:
    """``data.memory_budget: auto``: an eighth of this machine's memory (of the container's
    limit where a cgroup sets a lower one), in bytes."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()  # cgroup v2
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return total // BUDGET_SHARE


def to_disk(splits: Splits, folder: Path) -> Splits:
    """The splits with their image files decoded to ``folder/pixels-<digest>.npy``.

    Splits held in memory are returned as they are. The file is written once (to a partial
    file, renamed when whole); each example's rows are a memory map of it afterwards. A file
    whose header read but whose pixels do not (a truncated JPEG) is left out of its split with
    a warning, as the in-memory path leaves it out of the folder.
    """
    if splits.file_pixels is None:
        return splits
    shape = splits.file_pixels
    parts = [(p, getattr(splits, p)) for p in PARTS if getattr(splits, p) is not None]
    root = Path(os.path.commonpath([str(p) for _, paths in parts for p in paths]))  # the folder
    started = time.monotonic()
    sha256 = {name: _file_digests(paths) for name, paths in parts}
    names = {name: np.array([os.path.relpath(p, root) for p in paths]) for name, paths in parts}
    key = hashlib.sha256(repr(shape).encode())
    for name, _ in parts:
        key.update(name.encode())
        key.update("\n".join(names[name].tolist()).encode())
        key.update("".join(sha256[name].tolist()).encode())
    path = folder / f"pixels-{key.hexdigest()[:16]}.npy"
    skipped_file = path.with_suffix(".skipped.json")  # rows left out: written before the file
    if path.is_file() and skipped_file.is_file():
        skipped = {int(k): v for k, v in json.loads(skipped_file.read_text()).items()}
    else:
        skipped = _decode(parts, shape, path, skipped_file)
        log.info(
            f"decoded {sum(len(p) for _, p in parts) - len(skipped):,} images to {path} "
            f"({path.stat().st_size / 2**30:.2f} GB) in {time.monotonic() - started:.0f} s"
        )
    if skipped:
        splits, names, sha256 = _without(splits, names, sha256, skipped, root)
    return open_streamed(splits, Streamed(str(path), names, sha256))


def _without(
    splits: Splits,
    names: dict[str, np.ndarray],
    sha256: dict[str, np.ndarray],
    skipped: dict[int, str],
    root: Path,
) -> tuple[Splits, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The splits less the rows whose files could not be decoded, said once."""
    offset, kept_x, kept_names, kept_sha = 0, {}, {}, {}
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
    own map, whose ``offset`` is where its rows start in the file: the pipeline reads batches
    from there with ``pread``, which maps nothing into the process)."""
    try:
        pixels = np.load(streamed.pixels, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise DataError(
            f"{streamed.pixels}: not a readable pixel file ({error}); delete it and run the "
            f"search again to rewrite it"
        ) from None
    shape, header = pixels.shape[1:], pixels.offset
    row_bytes = int(np.prod(shape))
    rows, start = {}, 0
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
    skipped_file: Path,
) -> dict[int, str]:
    """Every part's files decoded in parallel into one uint8 array file, rows in part order.

    Returns:
        The rows (of all parts, in order) whose files could not be decoded -> why, in words;
        the file holds the other rows only.
    """
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

    def chunk(start: int) -> None:
        for i in range(start, min(start + CHUNK, len(files))):
            try:
                with open(files[i], "rb") as handle:
                    image = decode_image(io.BytesIO(handle.read()))
                os.pwrite(
                    out, pixels(image, (height, width), depth).tobytes(), header + i * row_bytes
                )
            except Exception as error:  # any failure means "not a readable image"
                failed[i] = (
                    f"{os.path.relpath(files[i], root)}: {error_words(error, Path(files[i]))}"
                )

    began, said = time.monotonic(), time.monotonic()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for done, _ in enumerate(pool.map(chunk, range(0, len(files), CHUNK)), start=1):
            if time.monotonic() - said > 30:  # a long decode says how far it is
                said = time.monotonic()
                log.info(
                    f"decoding images to {path.name}: {min(done * CHUNK, len(files)):,} of "
                    f"{len(files):,} ({time.monotonic() - began:.0f} s)"
                )
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
    skipped_file.write_text(json.dumps({str(k): v for k, v in sorted(failed.items())}))
    partial.replace(path)  # atomic, and last: a reader never sees half a file
    return dict(sorted(failed.items()))


def _npy_file(path: Path, shape: tuple[int, ...]) -> int:
    """An .npy file of uint8 zeros of ``shape`` (sparse on disk); the offset of its first row."""
    array = np.lib.format.open_memmap(path, mode="w+", dtype="uint8", shape=shape)
    offset = int(array.offset)
    del array
    return offset
