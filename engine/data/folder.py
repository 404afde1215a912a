"""A folder of images with one sub-folder per class, read with Pillow."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .base import DataError

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


def load_folder(path: Path, size=None, channels=None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(x float in [0, 1] of shape (N, C, H, W), y class ids, class names = sub-folder names).
    Images are resized to ``size`` (height, width), by default the first image's size;
    ``channels`` 1 or 3, by default 1 when every image is grayscale."""
    if not path.is_dir():
        raise DataError(f"Image folder {path} does not exist or is not a folder.")
    hw = _size_option(size, path)
    if channels not in (None, 1, 3):
        raise DataError(f"Image folder {path}: option 'channels' must be 1 or 3, got {channels!r}.")
    classes = sorted(d for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"Image folder {path} has {len(classes)} class sub-folder(s); it needs one "
                        "sub-folder per class, at least two.")
    images: list[np.ndarray] = []
    labels: list[int] = []
    all_gray = True
    for label, folder in enumerate(classes):
        files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not files:
            raise DataError(f"Class folder {folder} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        for f in files:
            try:
                with Image.open(f) as im:
                    im.load()
                    all_gray &= im.mode in _GRAY_MODES
                    rgb = im.convert("RGB")
            except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
                reason = "not an image Pillow can read" if isinstance(exc, UnidentifiedImageError) else str(exc)
                raise DataError(f"Cannot read image {f}: {reason}.") from None
            if hw is None:
                hw = (rgb.height, rgb.width)
            if (rgb.height, rgb.width) != hw:
                rgb = rgb.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
            images.append(np.asarray(rgb, dtype=np.uint8))
            labels.append(label)
    x = np.stack(images).transpose(0, 3, 1, 2)
    if (channels or (1 if all_gray else 3)) == 1:
        # ITU-R 601 luma, as Pillow's own "L" conversion uses.
        x = (x[:, :1] * 0.299 + x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114)
    return (x / 255.0).astype(np.float32), np.array(labels, dtype=np.int64), tuple(d.name for d in classes)
