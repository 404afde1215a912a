"""What loading a dataset costs in memory beyond the arrays it returns (the outside review's
F1, F2 and F6: small files within the per-file caps whose loading peaked at 1.8-3.4 GB).
Measured with tracemalloc, which sees numpy's buffers and Python's objects: the peak while
loading, as a multiple of the float32 arrays the trainer keeps."""
from __future__ import annotations

import gzip
import struct
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from engine.data import DataError, load_dataset
from engine.data.files import MAX_CSV_COLUMNS
from engine.data.folder import load_folder


def peak_while(fn):
    """(fn's result, the peak of traced memory while it ran, in bytes above the start)."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def test_a_gzip_idx_loads_within_twice_and_a_half_its_float32_size(tmp_path):
    n, side = 2000, 64  # uint8 pixels: 8 MB; the float32 set the trainer keeps: 32 MB
    pixels = np.random.default_rng(0).integers(0, 256, (n, side, side), dtype=np.uint8)
    (tmp_path / "x-idx3-ubyte.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", n, side, side)
                                                             + pixels.tobytes(), 1))
    (tmp_path / "y-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
    ds, peak = peak_while(lambda: load_dataset({"path": "x-idx3-ubyte.gz", "labels": "y-idx1-ubyte"},
                                               base_dir=tmp_path))
    kept = ds.x_train.nbytes + ds.x_val.nbytes
    assert kept == n * side * side * 4
    assert peak <= 2.5 * kept  # 2.0x; was 3.6x (astype, divide, isfinite, split, normalise and std copies)
    # the values are those of the textbook: pixels / 255, standardised with the training split
    x = np.concatenate([ds.x_train, ds.x_val]).astype(np.float64)
    assert abs(x[: len(ds.x_train)].mean()) < 1e-5 and x[: len(ds.x_train)].std() == pytest.approx(1, abs=1e-5)
    raw = pixels.astype(np.float64) / 255
    order = np.random.default_rng([0, 0x5EED]).permutation(n)
    train = raw[order[len(ds.x_val):]]
    np.testing.assert_allclose(ds.x_train[:, 0] * train.std() + train.mean(), train, atol=2e-6)


def test_an_image_folder_decodes_into_one_float32_array(tmp_path):
    rng = np.random.default_rng(1)
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for k in range(4):
            Image.fromarray(rng.integers(0, 256, (512, 512), dtype=np.uint8)).save(tmp_path / cls / f"{k}.png")
    (x, y, names), peak = peak_while(lambda: load_folder(tmp_path))
    assert x.shape == (8, 1, 512, 512) and x.dtype == np.float32 and names == ("cat", "dog")
    assert peak <= 1.5 * x.nbytes  # 1.35x; was 3.75x (all as uint8 RGB, then float copies of the set)
    first = np.asarray(Image.open(tmp_path / "cat" / "0.png").convert("RGB"), dtype=np.float64)
    luma = (first[..., 0] * 0.299 + first[..., 1] * 0.587 + first[..., 2] * 0.114) / 255  # ITU-R 601
    np.testing.assert_allclose(x[0, 0], luma, atol=1e-6)
    assert y.tolist() == [0] * 4 + [1] * 4


def test_a_csv_is_parsed_in_bounded_blocks_and_a_too_wide_row_is_refused_before_it_is_split(tmp_path):
    rows, cols = 1000, 1000  # one million cells: as Python floats ~32 MB, as float32 4 MB
    values = np.random.default_rng(2).integers(0, 100, (rows, cols))
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(",".join(map(str, r)) + f",{i % 3}" for i, r in enumerate(values)) + "\n")
    ds, peak = peak_while(lambda: load_dataset({"path": "wide.csv", "normalise": False}, base_dir=tmp_path))
    kept = ds.x_train.nbytes + ds.x_val.nbytes
    assert kept == rows * cols * 4
    assert peak <= 5 * kept  # 3.8x; was 9.5x (4,096 rows of Python floats at a time)
    got = np.concatenate([ds.x_train, ds.x_val])
    order = np.random.default_rng([0, 0x5EED]).permutation(rows)
    n_val = len(ds.x_val)
    np.testing.assert_array_equal(got, values[np.r_[order[n_val:], order[:n_val]]].astype(np.float32))

    too_wide = tmp_path / "too_wide.csv"
    too_wide.write_text(",".join(["1"] * (MAX_CSV_COLUMNS + 1)) + "\n")
    with pytest.raises(DataError) as err:
        peak_while(lambda: load_dataset({"path": "too_wide.csv"}, base_dir=tmp_path))
    assert str(err.value) == (f"CSV file {too_wide} line 1 has more than {MAX_CSV_COLUMNS:,} columns; "
                              f"a CSV dataset may have at most {MAX_CSV_COLUMNS:,}.")
