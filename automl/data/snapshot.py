"""Splits as one content-addressed file, so every worker of a study trains on the same examples.

The coordinator of a search writes the train/validation/test splits to
``splits-<sha256 prefix>.npz``; a worker on the same machine reads that file, a worker elsewhere
downloads it from the MLflow artifact store or rebuilds the splits from the same source. Either
way it compares :func:`digest` with the one the study recorded and refuses to train on anything
else.

Splits streamed from disk (:mod:`automl.data.streamed`) hold their image files' names and
SHA-256 here, not their pixels: those are in the pixel file beside the snapshot, and the digest
is of the files' digests.

Example:
    >>> path = write_snapshot(splits, Path("automl-runs/mnist1d/data"))
    >>> read_snapshot(path) == splits   # same arrays, same digest
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from automl.data.base import Features
from automl.data.splits import Splits, update_in_chunks
from automl.errors import DataError

_PARTS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "x_holdout", "y_holdout")


def _arrays(splits: Splits) -> dict[str, np.ndarray]:
    """Every array of the splits under a stable key (``x_train.0`` ... for table columns;
    ``x_train.names`` and ``x_train.sha256`` for images streamed from disk)."""
    if splits.file_pixels is not None:
        raise ValueError("decode the splits first: automl.data.streamed.to_disk")
    out: dict[str, np.ndarray] = {}
    for part in _PARTS:
        value: Features | None = getattr(splits, part)
        if value is None:  # no holdout split
            continue
        if splits.streamed is not None and part in splits.streamed.names:
            out[f"{part}.names"] = splits.streamed.names[part]
            out[f"{part}.sha256"] = splits.streamed.sha256[part]
        elif isinstance(value, dict):
            for i, name in enumerate(value):
                out[f"{part}.{i}"] = value[name]
        else:
            out[part] = value
    return out


def _meta(splits: Splits) -> dict:
    columns = {
        part: list(getattr(splits, part))
        for part in ("x_train", "x_val", "x_test", "x_holdout")
        if isinstance(getattr(splits, part), dict)
    }
    meta = {
        "task": splits.task,
        "modality": splits.modality,
        "class_names": list(splits.class_names),
        "columns": [list(c) for c in splits.columns],
        "table_columns": columns,
    }
    if splits.streamed is not None:  # the pixels' shape; the file is named by the content
        meta["pixels_shape"] = list(splits.x_train.shape[1:])  # type: ignore[union-attr]
    return meta


def _storable(array: np.ndarray) -> np.ndarray:
    """Text columns (object arrays) as fixed-width strings: no pickles in the file."""
    return array.astype(str) if array.dtype == object else np.ascontiguousarray(array)


def digest(splits: Splits) -> str:
    """SHA-256 of every example, label and the metadata: equal digests, equal splits."""
    h = hashlib.sha256(json.dumps(_meta(splits), sort_keys=True).encode())
    for key, array in _arrays(splits).items():
        array = _storable(np.asarray(array))
        h.update(f"{key}:{array.dtype.str}:{array.shape}".encode())
        update_in_chunks(h, array)
    return h.hexdigest()


def snapshot_name(sha256: str) -> str:
    return f"splits-{sha256[:16]}.npz"


def write_snapshot(splits: Splits, folder: Path, sha256: str | None = None) -> Path:
    """Write the splits to ``folder/splits-<digest>.npz`` (once: the name is the content).

    Streamed splits keep their pixel file where :func:`~automl.data.streamed.to_disk` wrote it,
    which is ``folder`` in a search: the snapshot names it (``pixels_file``)."""
    sha256 = sha256 or digest(splits)
    path = folder / snapshot_name(sha256)
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {key: _storable(np.asarray(a)) for key, a in _arrays(splits).items()}
    meta = _meta(splits)
    meta["object_arrays"] = [k for k, a in _arrays(splits).items() if np.asarray(a).dtype == object]
    meta["target_transform"] = splits.target_transform  # how trials model the target
    if splits.streamed is not None:
        meta["pixels_file"] = Path(splits.streamed.pixels).name
        meta["train_stats"] = list(splits.streamed.train_stats)
    partial = path.with_suffix(".partial.npz")
    # numpy's stub matches **arrays against its allow_pickle: bool; the keys are _PARTS names
    np.savez(partial, __meta__=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    partial.replace(path)  # atomic: a reader never sees half a file
    return path


class PixelsMissing(DataError):
    """A streamed snapshot whose pixel file is not beside it (``name``: the file it needs)."""

    def __init__(self, snapshot: Path, name: str) -> None:
        super().__init__(
            f"{snapshot}: its images' pixels are in {name}, which is not beside it; copy it "
            f"there, or run the worker with the study's tracking server to download it"
        )
        self.name = name


def read_snapshot(path: Path, pixels: Path | None = None) -> Splits:
    """The splits a snapshot holds (raises :class:`DataError` for a file that is not one).

    Args:
        pixels: a streamed snapshot's pixel file, where it is not beside the snapshot.

    Raises:
        PixelsMissing: a streamed snapshot without its pixel file.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["__meta__"]))
            arrays = {key: npz[key] for key in npz.files if key != "__meta__"}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(
            f"{path}: not a readable splits snapshot ({exc}); delete it and run the "
            f"search again to rewrite it"
        ) from None
    for key in meta.get("object_arrays", []):
        arrays[key] = arrays[key].astype(object)

    streamed = None
    if "pixels_file" in meta:  # images streamed from disk: their rows of the pixel file
        from automl.data.splits import Streamed

        pixels = pixels or path.parent / meta["pixels_file"]
        if not pixels.is_file():
            raise PixelsMissing(path, meta["pixels_file"])
        streamed = Streamed(
            str(pixels),
            {p: arrays.pop(f"{p}.names") for p in _PARTS if f"{p}.names" in arrays},
            {p: arrays.pop(f"{p}.sha256") for p in _PARTS if f"{p}.sha256" in arrays},
            tuple(meta.get("train_stats", ())),
        )
        for p in streamed.names:
            arrays[p] = streamed.names[p]  # placeholders: open_streamed maps the pixels

    def part(name: str) -> Features | None:
        names = meta["table_columns"].get(name)
        if names is None:
            return arrays.get(name)
        return {column: arrays[f"{name}.{i}"] for i, column in enumerate(names)}

    def needed(name: str) -> Features:
        found = part(name)
        if found is None:
            raise DataError(
                f"{path}: not a splits snapshot (it has no {name}); delete it and "
                f"run the search again to rewrite it"
            )
        return found

    splits = Splits(
        needed("x_train"),
        arrays["y_train"],
        needed("x_val"),
        arrays["y_val"],
        needed("x_test"),
        arrays["y_test"],
        meta["task"],
        meta["modality"],
        tuple(meta["class_names"]),
        tuple(tuple(c) for c in meta["columns"]),
        part("x_holdout"),
        arrays.get("y_holdout"),
        meta.get("target_transform", "none"),
    )
    if streamed is None:
        return splits
    from automl.data.streamed import open_streamed

    return open_streamed(splits, streamed)
