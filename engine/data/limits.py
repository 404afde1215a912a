"""What one dataset file may make us allocate, checked before the allocation: a file's
header (IDX dims, an .npy header, an image's size) can promise anything, and a small
compressed file can inflate to a huge one (decompression bombs)."""
from __future__ import annotations

from .base import DataError

MAX_DATA_BYTES = 4 << 30          # a dataset's arrays as the trainer holds them (float32 inputs)
MAX_IMAGE_PIXELS = 4096 * 4096    # one image of a folder (the largest 'size' option)
MAX_TEXT_BYTES = 64 << 20         # a text corpus (each character becomes 4-byte codes, then ids)
MAX_CSV_BYTES = 1 << 30           # a CSV file (parsed a block of rows at a time)


def size_text(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def check_data_bytes(nbytes: int, what: str) -> None:
    """Refuse ``what`` (a sentence's subject naming the file) if it needs more than the limit."""
    if nbytes > MAX_DATA_BYTES:
        raise DataError(f"{what} would take {size_text(nbytes)} in memory, more than the "
                        f"{size_text(MAX_DATA_BYTES)} a dataset may take, so it is not loaded.")
