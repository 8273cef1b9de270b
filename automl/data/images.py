"""Image folders a user brings: one sub-folder per class, any mix of formats and modes (grey,
palette, RGBA, 16-bit), decoded to one size and channel count, as uint8 pixels 0-255.

A folder whose decoded pixels fit ``data.memory_budget`` is decoded here, into memory. A larger
one is only listed: its examples are the image files' paths, with the pixel shape they decode to
(:attr:`~automl.data.base.Arrays.file_pixels`, from the files' headers), and
:mod:`automl.data.streamed` decodes the splits once, to a file on disk."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from automl.data.base import Arrays, error_words, labelled
from automl.errors import DataError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger("automl")


# ---- images --------------------------------------------------------------------------------------

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
IGNORED_NAMES = {"__MACOSX"}  # what unzipping a macOS archive leaves behind
GREY_MODES = {"L", "LA", "F"}  # the modes decode_image returns that hold no colour


def image_classes(folder: Path) -> list[str]:
    """The class sub-folders of an image folder that hold at least one image file (by name; no
    image is decoded), sorted."""
    files, empty = _class_files(folder)
    _require_two_classes(folder, sorted(files), empty)
    return sorted(files)


def load_image_folder(
    folder: Path,
    *,
    image_size: tuple[int, int] | None,
    channels: int | None,
    memory_budget: int | None = None,
) -> Arrays:
    """``folder/<class>/<image>``: one sub-folder per class, uint8 pixels 0-255.

    Images of any mode are converted to ``channels`` (unset: RGB, or grey when every image is
    grey). Without ``image_size``, images that are not of the most common size are resized to it
    (with a warning). Hidden files and folders, non-image files and class folders without images
    are ignored; unreadable images are skipped with a warning.

    Args:
        memory_budget: bytes the decoded pixels may take in memory (None: this machine's
            default, :func:`automl.data.budget.default_budget`); past it the examples are
            the files' paths, decoded later to disk (:mod:`automl.data.streamed`).
    """
    from automl.data.budget import default_budget

    files, empty = _class_files(folder)
    _require_two_classes(folder, sorted(files), empty)
    if empty:
        log.warning(
            f"{folder}: ignored {len(empty)} class folder(s) without images "
            f"({', '.join(empty)}); put images in them or remove them"
        )
    budget = default_budget() if memory_budget is None else memory_budget
    if _estimated_bytes(files, image_size, channels) > budget:
        return _listed(folder, files, image_size, channels)
    images, labels, unreadable = _decode_all(files)
    if not images:
        first, error = unreadable[0]
        raise DataError(
            f"{folder}: none of its {len(unreadable)} image files can be read (e.g. "
            f"{_relative(first, folder)}: {error_words(error, first)}); check that they "
            f"are valid images"
        )
    if unreadable:
        named = "; ".join(f"{_relative(p, folder)}: {error_words(e, p)}" for p, e in unreadable[:5])
        more = f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        log.warning(f"{folder}: skipped {len(unreadable)} unreadable image file(s) ({named}{more})")
    _require_two_classes(folder, sorted(set(labels)), [])
    height, width = image_size or _common_size(folder, images)
    depth = channels or (1 if all(image.mode in GREY_MODES for _, image in images) else 3)
    x = np.empty((len(images), height, width, depth), dtype="uint8")
    for i, (_, image) in enumerate(images):
        x[i] = pixels(image, (height, width), depth)
        images[i] = (images[i][0], None)  # free each decoded image once copied
    return labelled(
        x, np.array(labels), None, None, modality="image", task="classification", where=str(folder)
    )


# image folders past the memory budget: listed, their pixel shape read from the headers

ESTIMATE_SAMPLE = 200  # headers read to estimate a folder's decoded size


def _estimated_bytes(
    files: dict[str, list[Path]], image_size: tuple[int, int] | None, channels: int | None
) -> int:
    """The folder's decoded size in bytes, from the headers of a sample of its files."""
    paths = [p for group in files.values() for p in group]
    step = max(1, len(paths) // ESTIMATE_SAMPLE)
    headers = [h for h in (_header(p) for p in paths[::step]) if h is not None]
    if not headers:
        return 0  # none readable: decoding them all says so
    area = (
        image_size[0] * image_size[1]
        if image_size
        else Counter(h * w for h, w, _ in headers).most_common(1)[0][0]
    )
    depth = channels or (1 if all(grey for *_, grey in headers) else 3)
    return len(paths) * area * depth


def _header(path: Path) -> tuple[int, int, bool] | None:
    """(height, width, grey) of an image as :func:`decode_image` returns it, from its header
    alone (no pixel is decoded); None when it cannot be opened."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # EXIF: rotated a quarter turn
                width, height = height, width
            mode = image.mode
            grey = (
                mode in ("L", "LA", "La", "1", "F")
                or mode.startswith("I")
                or (mode == "P" and "transparency" not in image.info and _grey_palette(image))
            )
    except Exception:  # any failure means "not a readable image"
        return None
    return height, width, grey


def _listed(
    folder: Path,
    files: dict[str, list[Path]],
    image_size: tuple[int, int] | None,
    channels: int | None,
) -> Arrays:
    """The folder as file paths and the pixel shape they decode to, read from every header."""
    paths, labels, unreadable, headers = [], [], [], []
    for label, group in sorted(files.items()):
        for path in group:
            header = _header(path)
            if header is None:
                unreadable.append(path)
                continue
            paths.append(str(path.resolve()))
            labels.append(label)
            headers.append(header)
    if not paths:
        raise DataError(
            f"{folder}: none of its {len(unreadable)} image files can be read (e.g. "
            f"{_relative(unreadable[0], folder)}); check that they are valid images"
        )
    if unreadable:
        named = "; ".join(_relative(p, folder) for p in unreadable[:5])
        more = f" and {len(unreadable) - 5} more" if len(unreadable) > 5 else ""
        log.warning(f"{folder}: skipped {len(unreadable)} unreadable image file(s) ({named}{more})")
    _require_two_classes(folder, sorted(set(labels)), [])
    sized = [(Path(p), _Size(h, w)) for p, (h, w, _) in zip(paths, headers, strict=True)]
    height, width = image_size or _common_size(folder, sized)
    depth = channels or (1 if all(grey for *_, grey in headers) else 3)
    arrays = labelled(
        np.array(paths),
        np.array(labels),
        None,
        None,
        modality="image",
        task="classification",
        where=str(folder),
    )
    return replace(arrays, file_pixels=(height, width, depth))


@dataclass(frozen=True)
class _Size:
    """What :func:`_common_size` reads of an image: its height and width."""

    height: int
    width: int


# image folders: which files count


def _is_ignored(path: Path) -> bool:
    """Hidden files and folders (``.DS_Store``, ``._x.png``, ``.ipynb_checkpoints``) and
    ``__MACOSX``."""
    return path.name.startswith(".") or path.name in IGNORED_NAMES


def _class_files(folder: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """The image files of each class sub-folder that has some, and the names of those without."""
    if not folder.is_dir():
        raise DataError(
            f"{folder} is not a folder; point data.images at a folder with one "
            f"sub-folder of images per class (unzip an archive first)"
        )
    files: dict[str, list[Path]] = {}
    empty: list[str] = []
    try:
        for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not _is_ignored(p)):
            images = sorted(
                p
                for p in sub.iterdir()
                if p.suffix.lower() in IMAGE_SUFFIXES and not _is_ignored(p) and p.is_file()
            )
            if images:
                files[sub.name] = images
            else:
                empty.append(sub.name)
    except OSError as error:
        raise DataError(
            f"{folder}: cannot list this folder ({error_words(error, folder)}); check its "
            f"permissions"
        ) from None
    return files, empty


def _require_two_classes(folder: Path, classes: list[str], empty: list[str]) -> None:
    """Refuse a folder with fewer than two classes of images, saying what it found."""
    if len(classes) >= 2:
        return
    found = f"found images only in {classes[0]}/" if classes else "found no images in sub-folders"
    if empty:
        found += f", none in {', '.join(e + '/' for e in empty[:5])}"
    raise DataError(
        f"{folder}: an image folder needs one sub-folder of images per class, at "
        f"least two ({found}), e.g. cats/ and dogs/ inside it"
    )


def _relative(path: Path, folder: Path) -> str:
    """``class/file.png``: how warnings name a file of the folder."""
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


# image folders: decoding


def _decode_all(
    files: dict[str, list[Path]],
) -> tuple[list[tuple[Path, Any]], list[str], list[tuple[Path, Exception]]]:
    """Every file decoded: (path, image) and its class name, or (path, error) if unreadable."""
    images, labels, unreadable = [], [], []
    for label, paths in sorted(files.items()):
        for path in paths:
            try:
                images.append((path, decode_image(path)))
                labels.append(label)
            except Exception as error:  # any decoding failure means "not a readable image"
                unreadable.append((path, error))
    return images, labels, unreadable


def decode_image(path: Path | BinaryIO) -> Image.Image:
    """An image file (or its bytes, opened), upright (EXIF orientation applied), in one of the
    modes L, LA, RGB, RGBA (8 bits a channel) or F (grey of a higher bit depth, scaled to
    0-255)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()  # truncated files fail here, not later
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:  # a malformed EXIF block: keep the stored orientation
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
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


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
    return bool(palette) and all(
        palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3)
    )


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
        raise DataError(
            f"{folder}: images have different sizes and none is the most common "
            f"({_relative(a, folder)} is {size[0]}x{size[1]}, {_relative(b, folder)}"
            f" is {other[0]}x{other[1]}); set data.image_size: [height, width] to "
            f"resize them all"
        )
    odd, odd_size = next(
        (p, (image.height, image.width))
        for p, image in images
        if (image.height, image.width) != size
    )
    log.warning(
        f"{folder}: {len(images) - count} of {len(images)} images are not "
        f"{size[0]}x{size[1]}, the most common size (e.g. {_relative(odd, folder)} is "
        f"{odd_size[0]}x{odd_size[1]}), and were resized to it; set data.image_size: "
        f"[height, width] to choose the size"
    )
    return size


def pixels(image: Image.Image, size: tuple[int, int], channels: int) -> np.ndarray:
    """A decoded image resized to ``size`` (height, width) with ``channels`` channels, as uint8
    pixels 0-255 (grey of a higher bit depth rounded)."""
    return np.clip(np.rint(_pixels(image, size, channels)), 0, 255).astype("uint8")


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
