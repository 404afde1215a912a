"""Small real data files as a user would bring them, written into a test's folder: an IDX
pair with the IDX header, a CSV with a header and text labels, a UTF-8 text, a folder of PNG
images (one sub-folder per class) drawn with numpy and saved with Pillow. Each writer
returns what it wrote, so a test can compare what the app shows with the files."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An IDX file: two zero bytes, the type code, the dimension count, big-endian sizes, data."""
    code = IDX_CODES[array.dtype]
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(head + array.astype(array.dtype.newbyteorder(">")).tobytes())
    return path


def idx_pair(folder: Path, n: int = 90, size: int = 28, classes: int = 3, seed: int = 0):
    """MNIST-style images (a bright bar whose row depends on the class) and labels; returns
    (images path, labels path, images uint8 (n, size, size), labels uint8 (n,))."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % classes).astype(np.uint8)
    rng.shuffle(y)
    x = (rng.random((n, size, size)) * 40).astype(np.uint8)
    for i, c in enumerate(y):
        row = 4 + int(c) * (size - 8) // max(1, classes - 1)
        x[i, row - 2:row + 2, 3:size - 3] = 230
    folder.mkdir(parents=True, exist_ok=True)
    return (write_idx(folder / "train-images-idx3-ubyte", x), write_idx(folder / "train-labels-idx1-ubyte", y),
            x, y)


def csv_table(path: Path, n: int = 80, seed: int = 0):
    """A CSV with a header whose label column 'species' (text) comes first, then four numeric
    features: the loader's default label column (the last) is the wrong one. Returns (path,
    features (n, 4), species name per row)."""
    rng = np.random.default_rng(seed)
    names = ("setosa", "versicolor", "virginica")
    species = [names[i % 3] for i in range(n)]
    x = rng.normal(size=(n, 4)).round(3)
    x[:, 0] += [names.index(s) * 2.0 for s in species]
    lines = ["species,sepal_length,sepal_width,petal_length,petal_width"]
    lines += [f"{species[i]}," + ",".join(f"{v:g}" for v in x[i]) for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, x, species


TEXT = ("It was the best of times, it was the worst of times, it was the age of wisdom, "
        "it was the age of foolishness.\n") * 12


def text_file(path: Path, text: str = TEXT) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def image_folder(folder: Path, per_class: int = 30, size: int = 16, seed: int = 0):
    """Two classes of grayscale PNGs: 'bars' (a horizontal bar) and 'dots' (a centred dot),
    with noise. Returns (folder, {class name: count})."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for name in ("bars", "dots"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.random((size, size)) * 50
            if name == "bars":
                r = int(rng.integers(3, size - 3))
                img[r - 1:r + 2, 2:size - 2] = 240
            else:
                c = size / 2 + rng.normal(0, 1, size=2)
                img[(yy - c[0]) ** 2 + (xx - c[1]) ** 2 < (size / 5) ** 2] = 240
            Image.fromarray(img.astype(np.uint8), "L").save(folder / name / f"{i:03d}.png")
    return folder, {"bars": per_class, "dots": per_class}
