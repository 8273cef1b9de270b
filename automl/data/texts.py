"""Text folders a user brings: one sub-folder per class of ``.txt`` files (as
``keras.utils.text_dataset_from_directory`` reads them), in UTF-8 or, failing that, decoded
with replacement characters and said once, naming a file."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from automl.data.base import Arrays, error_words, labelled
from automl.errors import DataError

log = logging.getLogger("automl")

TEXT_SUFFIXES = {".txt"}


def is_text_folder(folder: Path) -> bool:
    """Whether ``folder``'s class sub-folders hold ``.txt`` files (and so it is texts, not
    images): a look at the file names only."""
    try:
        subs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return any(
            f.suffix.lower() in TEXT_SUFFIXES for sub in subs for f in sub.iterdir() if f.is_file()
        )
    except OSError:
        return False


def load_text_folder(folder: Path, *, warn: bool = True) -> Arrays:
    """``folder/<class>/<file>.txt`` -> one text per file, labelled by its sub-folder
    (``warn``: say which files were not UTF-8 or empty; a plan that reads the folder before
    the search does leaves that to the search)."""
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder; point data.texts at a folder with one sub-folder of "
            f".txt files per class"
        )
    texts, labels, replaced, empty = [], [], [], 0
    try:
        subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        for sub in subs:
            for path in sorted(sub.iterdir()):
                if path.suffix.lower() not in TEXT_SUFFIXES or path.name.startswith("."):
                    continue
                raw = path.read_bytes()
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", errors="replace")
                    replaced.append(path)
                empty += not text.strip()
                texts.append(text)
                labels.append(sub.name)
    except OSError as error:
        raise DataError(f"{folder}: cannot read it ({error_words(error, folder)})") from None
    classes = sorted(set(labels))
    if len(classes) < 2:
        found = f"found .txt files only in {classes[0]}/" if classes else "found no .txt files"
        raise DataError(
            f"{folder}: a text folder needs one sub-folder of .txt files per class, at least "
            f"two ({found}), e.g. positive/ and negative/ inside it"
        )
    if replaced and warn:
        log.warning(
            f"{folder}: {len(replaced)} file(s) are not UTF-8 (e.g. "
            f"{replaced[0].relative_to(folder)}); their undecodable bytes were replaced; "
            f"save them as UTF-8 to keep every character"
        )
    if empty and warn:
        log.warning(f"{folder}: {empty} empty text file(s), learned from as empty texts")
    return labelled(
        np.array(texts, dtype=object),
        np.array(labels),
        None,
        None,
        modality="text",
        task="classification",
        where=str(folder),
    )
