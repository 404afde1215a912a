"""A folder of images with one sub-folder per class, read with Pillow."""
from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .base import DataError
from .limits import MAX_IMAGE_PIXELS, check_data_bytes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P;L"}


def _size_option(size, path: Path) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool):
        size = [size, size]
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4096 for v in size)):
        raise DataError(f"Image folder {path}: option 'size' must be a whole number or [height, width] "
                        f"between 1 and 4096, got {size!r}.")
    return int(size[0]), int(size[1])


def load_folder(path: Path, size=None, channels=None, access=None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(x float in [0, 1] of shape (N, C, H, W), y class ids, class names = sub-folder names).
    Images are resized to ``size`` (height, width), by default the first image's size;
    ``channels`` 1 or 3, by default 1 when every image is grayscale. ``access`` (a
    DataAccess) refuses an image whose link leads outside the allowed folders. Every
    image's size is read from its header and checked before it is decoded, and the whole
    set's size before the images are read."""
    if not path.is_dir():
        raise DataError(f"Image folder {path} does not exist or is not a folder.")
    hw = _size_option(size, path)
    if channels not in (None, 1, 3):
        raise DataError(f"Image folder {path}: option 'channels' must be 1 or 3, got {channels!r}.")
    classes = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"Image folder {path} has {len(classes)} class sub-folder(s); it needs one "
                        "sub-folder per class, at least two.")
    listing = []
    for label, folder in enumerate(classes):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not files:
            raise DataError(f"Class folder {folder} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        listing += [(label, f) for f in files]
    # Sizes and modes from the headers first, so the one float32 array can be allocated
    # before any image is decoded (decoding all as uint8, then converting, peaked at 4x).
    if hw is not None:  # the least it can take, before a single header is read
        _check_total(path, len(listing), hw, channels or 1)
    heads = []
    for _label, f in listing:
        if access is not None:
            access.check_inside(f, "Image")
        heads.append(_read_image(f, _header))
    if hw is None:
        hw = heads[0][0]
    c = channels or (1 if all(gray for _hw, gray in heads) else 3)
    _check_total(path, len(listing), hw, c)
    x = np.empty((len(listing), c, hw[0], hw[1]), np.float32)
    for k, (_label, f) in enumerate(listing):
        rgb = _read_image(f)
        if (rgb.height, rgb.width) != hw:
            rgb = rgb.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
        pixels = np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
        if c == 1:  # ITU-R 601 luma, as Pillow's own "L" conversion uses
            pixels = pixels[:1] * np.float32(0.299) + pixels[1:2] * np.float32(0.587) + pixels[2:3] * np.float32(0.114)
        x[k] = pixels / np.float32(255.0)
    labels = [label for label, _f in listing]
    return x, np.array(labels, dtype=np.int64), tuple(d.name for d in classes)


def _check_total(path: Path, count: int, hw: tuple[int, int], channels: int) -> None:
    # the float32 (N, C, H, W) array, and one image being converted beside it
    check_data_bytes((count * channels + 3) * hw[0] * hw[1] * 4, f"Image folder {path} ({count} images of "
                     f"{hw[0]}x{hw[1]} pixels)")


def _header(im: Image.Image) -> tuple[tuple[int, int], bool]:
    """((height, width), whether it is grayscale), from the header alone."""
    return (im.height, im.width), im.mode in _GRAY_MODES


def _rgb(im: Image.Image) -> Image.Image:
    im.load()
    return im.convert("RGB")


def _read_image(f: Path, read=_rgb):
    """``read`` of the opened image (its pixels in RGB by default, or ``_header``); the size in
    its header is checked before the pixels are decoded (a 150 KB PNG can declare 12000 x 12000)."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 M pixels and refuses from 179 M; the size is checked here
            # against a far lower limit, with a sentence of our own. Its other warnings
            # (damaged TIFF tags, EXIF) are noise: a file it cannot read raises.
            warnings.simplefilter("ignore")
            with Image.open(f) as im:
                width, height = im.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise DataError(f"Image {f} is {width}x{height} pixels; an image may have at most "
                                    f"{MAX_IMAGE_PIXELS:,} pixels (4096x4096), so it is not read.")
                return read(im)
    except DataError:
        raise
    except Image.DecompressionBombError:
        raise DataError(f"Image {f} declares more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels; an image may "
                        f"have at most {MAX_IMAGE_PIXELS:,} pixels (4096x4096), so it is not read.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error,
            MemoryError) as exc:
        reason = "not an image Pillow can read" if isinstance(exc, UnidentifiedImageError) else _reason(exc)
        raise DataError(f"Cannot read image {f}: {reason}.") from None


def _reason(exc: Exception) -> str:
    """Pillow's message, short and printable (it can quote bytes of the file)."""
    text = "".join(c if c.isprintable() else "?" for c in str(exc)[:81]) or type(exc).__name__
    return text[:80] + ("…" if len(text) > 80 else "")
