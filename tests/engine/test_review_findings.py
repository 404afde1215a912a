"""Every finding of the outside review of issue 22 (120 hostile inputs), as it was found:
each now ends in one sentence naming the file, before any large allocation, and never
reads a file outside the folders the user allowed."""
from __future__ import annotations

import gzip
import sqlite3
import struct
import zipfile
import zlib

import numpy as np
import pytest

from engine.cli import main
from engine.data import DataAccess, DataError, load_dataset
from engine.graph.document import GraphDocument, load_graph
from engine.graph.errors import GraphError
from engine.session import SessionWriter
from engine.templates import load_template


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_sentence(text: str) -> str:
    text = text.strip()
    assert text and "\n" not in text and "Traceback" not in text, text
    return text


# ---- graphs ------------------------------------------------------------------------------

def test_a_graph_nested_a_million_levels_deep(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text('{"format": "neurostudio.graph", "version": 1, "nodes": ' + "[" * 10**6 + "]" * 10**6 + "}")
    for command in ("check", "train"):
        code, _out, err = run_cli(capsys, command, str(path))
        assert code == 1
        assert one_sentence(err) == ("Graph file deep.json nests its values more than 32 levels deep; "
                                     "a graph document needs far fewer.")
    with pytest.raises(GraphError, match="nests its values more than 32 levels deep"):
        load_graph(path)       # what the window's File > Open calls
    shallow = {"format": "neurostudio.graph", "version": 1, "nodes": [], "name": [[[[]]]] * 1}
    nested = shallow
    for _ in range(40):        # parses as JSON, but copying it would recurse too deep
        nested = {"format": "neurostudio.graph", "version": 1, "nodes": [], "description": [nested]}
    with pytest.raises(GraphError, match="more than 32 levels deep"):
        GraphDocument.from_dict(nested)


def test_a_conv_of_2x65536_channels_is_refused_before_allocating(tmp_path, capsys):
    doc = load_template("lenet")
    conv = next(n for n in doc.nodes if n.type == "Conv2d")
    conv.params["channels"] = 65536
    second = [n for n in doc.nodes if n.type == "Conv2d"][1]
    second.params["channels"] = 65536
    path = tmp_path / "huge.json"
    path.write_text(doc.to_json())
    code, _out, err = run_cli(capsys, "train", str(path), "--steps", "1", "--device", "cpu")
    assert code == 1
    text = one_sentence(err)
    assert text.startswith("Graph 'LeNet-5' needs about ") and "more than the" in text
    assert "of memory on this machine; make the layers smaller." in text


# ---- data files --------------------------------------------------------------------------

def test_an_npz_member_that_is_not_an_npy_array(tmp_path):
    path = tmp_path / "d.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", b"these bytes are not an .npy array")
        z.writestr("y.npy", b"nor these")
    with pytest.raises(DataError) as err:
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)
    assert str(err.value) == f"{path}: member 'x.npy' is not a NumPy array file (.npy)."


def test_npz_headers_that_promise_a_terabyte_or_hold_objects(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((4, 2), np.float32), y=np.zeros(4, np.int64))
    with zipfile.ZipFile(path) as z:
        x, y = z.read("x.npy"), z.read("y.npy")
    with zipfile.ZipFile(path, "w") as z:   # a 200-byte member that promises 10^12 floats
        z.writestr("x.npy", x.replace(b"(4, 2),", b"(1000000, 1000000),"))
        z.writestr("y.npy", y)
    with pytest.raises(DataError) as err:
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)
    assert str(err.value) == (f"The arrays of {path} would take 3725.3 GiB in memory, more than the 4.0 GiB "
                              "a dataset may take, so it is not loaded.")
    np.savez(path, x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3, dtype=int))
    with pytest.raises(DataError, match="holds object arrays, which cannot be loaded without pickle"):
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_a_gzipped_idx_file_inflates_only_as_far_as_its_header_promised(tmp_path):
    labels = tmp_path / "l-idx1-ubyte"
    labels.write_bytes(_idx(np.zeros(4, np.uint8)))
    images = tmp_path / "i-idx3-ubyte"
    # 1.2 MB of gzip that inflates to 1.2 GB: the header says 4x5x5 = 100 bytes
    images.write_bytes(gzip.compress(_idx(np.zeros((4, 5, 5), np.uint8)) + bytes(50_000_000), 9))
    ref = {"path": images.name, "labels": labels.name}
    with pytest.raises(DataError, match=r"says its data is 4x5x5 values of 1 byte\(s\) \(100 bytes\) but it "
                                        r"holds more than that after the header"):
        load_dataset(ref, base_dir=tmp_path)
    # a header that promises 2 x 10^9 pixels is refused before anything is inflated
    images.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2_000_000, 1000, 1)))
    with pytest.raises(DataError, match="would take 7.5 GiB in memory, more than the 4.0 GiB"):
        load_dataset(ref, base_dir=tmp_path)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` grey pixels (its data is one tiny chunk)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def test_a_png_declaring_12000x12000_is_refused_from_its_header(tmp_path):
    from PIL import Image
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / cls / "small.png")
    bomb = tmp_path / "b" / "huge.png"
    bomb.write_bytes(_png_header(12000, 12000))
    assert bomb.stat().st_size < 200
    with pytest.raises(DataError) as err:
        load_dataset({"path": "."}, base_dir=tmp_path)
    assert str(err.value) == (f"Image {bomb} is 12000x12000 pixels; an image may have at most 16,777,216 "
                              "pixels (4096x4096), so it is not read.")


# ---- sessions (the schema hang and the memory findings are in test_session_hostile.py) ---

@pytest.mark.timeout(60)
def test_inspect_refuses_a_session_whose_schema_hangs(tmp_path, capsys):
    path = tmp_path / "hang.session"
    SessionWriter(path, {}, {}).close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE meta RENAME TO meta_old")
    db.execute("CREATE VIEW meta AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
               "SELECT 'format' AS key, '\"neurostudio.session\"' AS value FROM n")
    db.commit()
    db.close()
    code, _out, err = run_cli(capsys, "inspect", str(path))
    assert code == 1
    assert one_sentence(err) == (f"{path} is not a plain Neurostudio session: it defines a view 'meta', "
                                 "which a session never holds, so it is not read.")


# ---- paths -------------------------------------------------------------------------------

def graph_with_data(folder, dataset: dict):
    doc = load_template("playground_mlp")
    doc.dataset = dataset
    path = folder / "graph.json"
    path.write_text(doc.to_json())
    return path


def test_a_graph_cannot_make_train_read_a_file_outside_its_folder(tmp_path, capsys):
    secret = tmp_path / "private" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("a,b,label\n" + "PASSWORD-LINE,1,0\n" * 10)
    shared = tmp_path / "downloads" / "stranger"
    shared.mkdir(parents=True)
    for ref in ("/etc/passwd", "../../private/secret.csv", str(secret)):
        graph = graph_with_data(shared, {"path": ref, "format": "csv"})
        code, out, err = run_cli(capsys, "train", str(graph), "--steps", "1", "--device", "cpu")
        assert code == 1
        text = one_sentence(err)
        assert text == (f"Data path {ref!r} lies outside the document's folder {shared}, so it is not "
                        "read; choose the file in the window or allow its folder with --allow-data.")
        assert "PASSWORD" not in out + err and "root:" not in out + err
    # a link inside the graph's folder that leads outside is refused the same way
    (shared / "data.csv").symlink_to(secret)
    graph = graph_with_data(shared, {"path": "data.csv"})
    code, _out, err = run_cli(capsys, "train", str(graph), "--steps", "1", "--device", "cpu")
    assert code == 1 and "'data.csv' lies outside the document's folder" in err
    # the user allows the folder: now it is read (and its bad cell is quoted only in part)
    code, _out, err = run_cli(capsys, "train", str(graph), "--steps", "1", "--device", "cpu",
                              "--allow-data", str(secret.parent))
    assert code == 1 and one_sentence(err) == (f"CSV file {shared / 'data.csv'} row 2, column 'a': "
                                               "'PASSWORD-LINE' is not a number.")


def test_data_access_for_the_worker_and_the_window():
    access = DataAccess.from_job({"base_dir": "/data/graphs", "data_dirs": ["/mnt/sets"]})
    assert access.resolve("mnist/train.gz") .as_posix() == "/data/graphs/mnist/train.gz"
    assert access.resolve("/mnt/sets/cifar.npz").as_posix() == "/mnt/sets/cifar.npz"
    assert access.job_entries() == {"base_dir": "/data/graphs", "data_dirs": ["/mnt/sets"]}
    with pytest.raises(DataError, match="lies outside the document's folder /data/graphs or the folders you allowed"):
        access.resolve("/mnt/other/x.npz")
    with pytest.raises(DataError, match=r"'x.npz' lies outside the document's folder \(it has none until it is saved\)"):
        DataAccess().resolve("x.npz")


def test_an_error_quotes_only_a_short_printable_excerpt(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,label\n1,2,0\n3,\x1b[31m" + "x" * 500 + ",1\n")
    with pytest.raises(DataError) as err:
        load_dataset({"path": "d.csv"}, base_dir=tmp_path)
    assert str(err.value) == f"CSV file {f} row 3, column 'b': '?[31mxxxxxxxxxxxxxxxxxxx…' is not a number."
