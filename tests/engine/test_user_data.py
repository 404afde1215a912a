"""The user's own files: npz, IDX, CSV, text and image folders, and a sentence for each bad one."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from engine.data import DataError, load_dataset


def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    # Written from the format's description (big-endian sizes after 00 00 type ndim).
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


# ---- npz ---------------------------------------------------------------------------------

def test_npz_table_with_class_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(5, 2, (50, 3))
    y = np.arange(50) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = load_dataset({"path": str(tmp_path / "d.npz")}, val_fraction=0.2, base_dir=tmp_path)
    assert d.info.input_shape == (3,) and d.info.kind == "table" and d.info.num_classes == 4
    assert len(d.x_train) == 40 and d.y_train.dtype == np.int64
    np.testing.assert_allclose(d.x_train.mean(0), 0, atol=1e-5)
    restored = np.concatenate([d.x_train * d.std + d.mean, d.x_val * d.std + d.mean])
    np.testing.assert_allclose(np.sort(restored.ravel()), np.sort(x.ravel()), rtol=1e-5)


def test_npz_images_uint8_and_value_targets(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (10, 1, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "img.npz", x=x, y=np.linspace(0, 1, 10))
    d = load_dataset({"path": str(tmp_path / "img.npz")}, base_dir=tmp_path)
    assert d.info.kind == "image" and d.info.target_kind == "value" and d.info.target_shape == (1,)
    raw = d.x_train * d.std + d.mean
    assert raw.min() >= 0 and raw.max() <= 1  # pixels scaled to [0, 1] before normalising


def test_npz_bad_inputs_name_the_file(tmp_path):
    f = tmp_path / "bad.npz"
    np.savez(f, x=np.zeros((5, 2)))
    with pytest.raises(DataError, match=f"{f} has no array 'y'; an .npz dataset needs arrays x and y"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    np.savez(f, x=np.zeros((5, 2)), y=np.zeros(4, dtype=int))
    with pytest.raises(DataError, match=f"{f}: x holds 5 samples but y holds 4"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    np.savez(f, x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3, dtype=int))
    with pytest.raises(DataError, match="holds object arrays, which cannot be loaded without pickle"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    missing = tmp_path / "nothere.npz"
    with pytest.raises(DataError, match=f"Data file {missing} does not exist"):
        load_dataset({"path": str(missing)}, base_dir=tmp_path)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz is not a readable .npz file"):
        load_dataset({"path": str(tmp_path / "junk.npz")}, base_dir=tmp_path)


# ---- IDX ---------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_idx_images_and_labels(tmp_path, compress):
    images = np.arange(6 * 3 * 2, dtype=np.uint8).reshape(6, 3, 2) * 3
    labels = np.array([0, 1, 2, 0, 1, 2], dtype=np.uint8)
    wrap = gzip.compress if compress else bytes
    (tmp_path / "img-idx3-ubyte").write_bytes(wrap(_idx_bytes(images)))
    (tmp_path / "lab-idx1-ubyte").write_bytes(wrap(_idx_bytes(labels)))
    d = load_dataset({"path": "img-idx3-ubyte", "labels": "lab-idx1-ubyte"}, val_fraction=0.0,
                     base_dir=tmp_path)
    assert d.info.input_shape == (1, 3, 2) and d.info.kind == "image" and d.info.num_classes == 3
    raw = d.x_train * d.std + d.mean
    order = np.argsort(raw[:, 0, 0, 0])
    np.testing.assert_allclose(raw[order, 0], images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(d.y_train[order], labels)


def test_idx_int32_values(tmp_path):
    table = np.array([[1, -2], [300000, 4]], dtype=np.int32)
    (tmp_path / "t.idx").write_bytes(_idx_bytes(table, 0x0C))
    (tmp_path / "l.idx").write_bytes(_idx_bytes(np.array([0, 1], dtype=np.uint8)))
    d = load_dataset({"path": str(tmp_path / "t.idx"), "labels": str(tmp_path / "l.idx")}, val_fraction=0, base_dir=tmp_path)
    raw = np.sort((d.x_train * d.std + d.mean)[:, 0])
    np.testing.assert_allclose(raw, [1, 300000])


def test_idx_bad_files_name_the_file(tmp_path):
    images = tmp_path / "img.idx"
    labels = tmp_path / "lab.idx"
    labels.write_bytes(_idx_bytes(np.zeros(4, dtype=np.uint8)))
    images.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 20)
    ref = {"path": str(images), "labels": str(labels)}
    with pytest.raises(DataError, match=f"IDX file {images} has a bad magic number 12340803"):
        load_dataset(ref, base_dir=tmp_path)
    images.write_bytes(_idx_bytes(np.zeros((4, 5, 5), dtype=np.uint8))[:-7])
    with pytest.raises(DataError, match=f"IDX file {images} says its data is 4x5x5 values of 1 byte\\(s\\) "
                                        "\\(100 bytes\\) but it holds 93 bytes after the header"):
        load_dataset(ref, base_dir=tmp_path)
    images.write_bytes(_idx_bytes(np.zeros((3, 5, 5), dtype=np.uint8)))
    with pytest.raises(DataError, match=f"{images} holds 3 images but {labels} holds 4 labels"):
        load_dataset(ref, base_dir=tmp_path)
    images.write_bytes(gzip.compress(_idx_bytes(np.zeros((4, 5, 5), dtype=np.uint8)))[:-10])
    with pytest.raises(DataError, match=f"IDX file {images} is gzip-compressed but damaged"):
        load_dataset(ref, base_dir=tmp_path)
    with pytest.raises(DataError, match="needs a \"labels\" entry"):
        load_dataset({"path": str(images), "format": "idx"}, base_dir=tmp_path)


# ---- CSV ---------------------------------------------------------------------------------

def test_csv_with_header_and_text_labels(tmp_path):
    f = tmp_path / "iris.csv"
    f.write_text("length,width,species\n1.0,2.0,setosa\n1.5,2.5,virginica\n\n3,4,setosa\n2,1,versicolor\n")
    d = load_dataset({"path": str(f)}, val_fraction=0, base_dir=tmp_path)
    assert d.info.class_names == ("setosa", "versicolor", "virginica")
    assert d.info.input_shape == (2,) and d.info.kind == "table"
    raw = d.x_train * d.std + d.mean
    got = {tuple(r): d.info.class_names[c] for r, c in zip(raw.round(4).tolist(), d.y_train)}
    assert got == {(1.0, 2.0): "setosa", (1.5, 2.5): "virginica", (3.0, 4.0): "setosa", (2.0, 1.0): "versicolor"}


def test_csv_label_column_by_name_and_numeric_targets(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("y,a,b\n0.5,1,2\n1.25,3,4\n2.0,5,6\n")
    d = load_dataset({"path": str(f), "label_column": "y"}, val_fraction=0, base_dir=tmp_path)
    assert d.info.target_kind == "value" and d.info.target_shape == (1,)
    assert sorted(d.y_train[:, 0].tolist()) == [0.5, 1.25, 2.0]
    g = tmp_path / "noheader.csv"
    g.write_text("1,2,0\n3,4,1\n5,6,2\n")
    d = load_dataset({"path": str(g)}, val_fraction=0, base_dir=tmp_path)
    assert d.info.num_classes == 3 and d.info.input_shape == (2,)


def test_csv_bad_inputs_name_the_file_row_and_column(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError) as err:
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    assert str(err.value) == f"CSV file {f} row 3, column 'b': 'oops' is not a number."
    f.write_text("1,2,0\n3,4\n")
    with pytest.raises(DataError, match=f"CSV file {f} row 2 has 2 cells; expected 3"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    f.write_text("")
    with pytest.raises(DataError, match=f"CSV file {f} is empty"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    f.write_text("a,b,label\n1,2,0\n")
    with pytest.raises(DataError, match="has no column 'class'"):
        load_dataset({"path": str(f), "label_column": "class"}, base_dir=tmp_path)
    with pytest.raises(DataError, match="has no option 'seq_len'"):
        load_dataset({"path": str(f), "seq_len": 3}, base_dir=tmp_path)


# ---- text --------------------------------------------------------------------------------

def test_text_corpus_windows(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("hello world, hello")
    d = load_dataset({"path": str(f), "seq_len": 5}, val_fraction=0, base_dir=tmp_path)
    assert d.info.input_dtype == "long" and d.info.kind == "text" and d.mean is None
    assert d.info.class_names == tuple(sorted(set("hello world, hello")))
    decode = lambda ids: "".join(d.info.class_names[i] for i in ids)  # noqa: E731
    windows = sorted((decode(x), decode(y)) for x, y in zip(d.x_train, d.y_train))
    assert windows == sorted([("hello", "ello "), (" worl", "world"), ("d, he", ", hel")])


def test_text_bad_inputs(tmp_path):
    f = tmp_path / "e.txt"
    f.write_text("  \n")
    with pytest.raises(DataError, match=f"Text file {f} is empty"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    f.write_text("abc")
    with pytest.raises(DataError, match=f"Text file {f} has 3 characters; samples of seq_len 64 need at least 65"):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    f.write_bytes(b"\xff\xfe\xfa bad")
    with pytest.raises(DataError, match=f"Text file {f} is not UTF-8 text"):
        load_dataset({"path": str(f), "seq_len": 2}, base_dir=tmp_path)


# ---- image folder ------------------------------------------------------------------------

def _save(path, array, mode):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


def test_image_folder_grayscale_with_resize(tmp_path):
    for k, cls in enumerate(["cat", "dog"]):
        for i in range(3):
            _save(tmp_path / cls / f"{i}.png", np.full((6, 8), 40 * k + 10 * i, dtype=np.uint8), "L")
    _save(tmp_path / "dog" / "big.png", np.full((12, 16), 200, dtype=np.uint8), "L")
    (tmp_path / "dog" / "notes.txt").write_text("not an image, ignored by suffix")
    d = load_dataset({"path": str(tmp_path), "augment": {"flip": True}}, val_fraction=0, base_dir=tmp_path)
    assert d.info.class_names == ("cat", "dog") and d.info.input_shape == (1, 6, 8)
    assert d.augment == {"flip": True} and sorted(d.y_train.tolist()) == [0, 0, 0, 1, 1, 1, 1]
    raw = (d.x_train * d.std + d.mean) * 255
    assert sorted(np.round(raw[:, 0, 0, 0]).tolist()) == [0, 10, 20, 40, 50, 60, 200]


def test_image_folder_colour(tmp_path):
    red = np.zeros((4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    for cls in ("a", "b"):
        _save(tmp_path / cls / "x.png", red, "RGB")
        _save(tmp_path / cls / "y.png", red[..., ::-1].copy(), "RGB")
    d = load_dataset({"path": str(tmp_path), "size": [2, 3]}, val_fraction=0, base_dir=tmp_path)
    assert d.info.input_shape == (3, 2, 3)


def test_image_folder_bad_inputs(tmp_path):
    _save(tmp_path / "only" / "a.png", np.zeros((4, 4), dtype=np.uint8), "L")
    with pytest.raises(DataError, match=f"Image folder {tmp_path} has 1 class sub-folder\\(s\\); it needs"):
        load_dataset({"path": str(tmp_path)}, base_dir=tmp_path)
    (tmp_path / "other").mkdir()
    with pytest.raises(DataError, match=f"Class folder {tmp_path / 'other'} holds no image files"):
        load_dataset({"path": str(tmp_path)}, base_dir=tmp_path)
    broken = tmp_path / "other" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    with pytest.raises(DataError, match=f"Cannot read image {broken}"):
        load_dataset({"path": str(tmp_path)}, base_dir=tmp_path)
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        load_dataset({"path": str(tmp_path / "missing"), "format": "folder"}, base_dir=tmp_path)


def test_unknown_format_and_options(tmp_path):
    f = tmp_path / "data.xyz"
    f.write_text("1")
    with pytest.raises(DataError, match=f"Cannot tell the format of {f}; set \"format\""):
        load_dataset({"path": str(f)}, base_dir=tmp_path)
    with pytest.raises(DataError, match="Unknown data format 'parquet'"):
        load_dataset({"path": str(f), "format": "parquet"}, base_dir=tmp_path)
