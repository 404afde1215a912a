"""What the fuzzers of tests/fuzz/ found (issue 22), one regression test each."""
from __future__ import annotations

import struct
import warnings

import numpy as np
import pytest

from engine.data import DataError, load_dataset
from engine.graph.document import GraphDocument
from engine.graph.shapes import analyse
from engine.session import SessionError, SessionReader, SessionWriter


def test_damaged_page_met_while_streaming_a_big_record(tmp_path):
    """sqlite3.DatabaseError escaped from the blob stream of a record past 64 KiB."""
    path = tmp_path / "run.session"
    with SessionWriter(path, {}, {}) as w:
        w.tensor("big", 0, np.arange(200_000, dtype=np.float32), compress=False)
    raw = bytearray(path.read_bytes())
    page = 16384
    start = len(raw) // 2 // page * page
    raw[start:start + page] = bytes(page)   # an overflow page mid-record: its link to the next is 0
    path.write_bytes(bytes(raw))
    with SessionReader(path) as r:
        with pytest.raises(SessionError, match="could not be read \\(database disk image is malformed\\)"):
            r.tensor("big", 0)


@pytest.mark.parametrize("shape", ["[0, 4294967295, 4294967295]", "[4611686018427387904, 0]"])
def test_empty_record_whose_other_dims_are_huge(tmp_path, shape):
    """numpy refused such shapes with 'array is too big' (a ValueError) after the size check passed."""
    import sqlite3
    path = tmp_path / "run.session"
    with SessionWriter(path, {}, {}) as w:
        w.tensor("t", 0, np.zeros((0, 3), np.float32))
    db = sqlite3.connect(path)
    db.execute("UPDATE tensors SET shape = ?", (shape,))
    db.commit()
    db.close()
    with SessionReader(path) as r:
        with pytest.raises(SessionError, match="that no record of at most 1073741824 bytes has"):
            r.tensor("t", 0)


def test_idx_with_a_zero_dim_beside_huge_ones(tmp_path):
    (tmp_path / "i-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 0, 2**32 - 1, 2**32 - 1))
    (tmp_path / "l-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 0))
    with pytest.raises(DataError, match="would take .* in memory, more than"):
        load_dataset({"path": "i-idx3-ubyte", "labels": "l-idx1-ubyte"}, base_dir=tmp_path)


def test_dataset_of_empty_samples(tmp_path):
    """Mean of empty slices: a RuntimeWarning and NaN statistics."""
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 2, 0), np.float32), y=np.zeros(4, np.int64))
    with pytest.raises(DataError, match=r"every entry of array x is empty \(shape \(4, 2, 0\)\)"):
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)


def test_damaged_tiff_tags_are_not_warnings(tmp_path):
    from PIL import Image
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        Image.new("L", (3, 3)).save(tmp_path / cls / "x.tif")
    raw = bytearray((tmp_path / "b" / "x.tif").read_bytes())
    raw[-30] ^= 0x40          # a tag's size now points past the end of the file
    (tmp_path / "b" / "x.tif").write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            load_dataset({"path": "."}, base_dir=tmp_path)
        except DataError as err:
            assert str(err).startswith("Cannot read image")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("layer", ["LSTM", "GRU", "RNN"])
def test_shape_inference_of_a_million_step_sequence(layer):
    """Recurrent layers stepped through every time step on the meta device: an Input of
    shape [10^6, 4] took hours in check and the editor."""
    doc = GraphDocument.from_dict({
        "format": "neurostudio.graph", "version": 1,
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [10**6, 4]}},
                  {"id": "r", "type": layer, "params": {"units": 8, "bidirectional": True}},
                  {"id": "loss", "type": "MSE", "params": {}}],
        "edges": [{"from": "x.out", "to": "r.in"}, {"from": "r.out", "to": "loss.in"}]})
    result = analyse(doc)
    assert result.nodes["r"].out_shape == (10**6, 16)
    short = analyse(GraphDocument.from_dict({**doc.to_dict(), "nodes": [
        {"id": "x", "type": "Input", "params": {"shape": [7, 4]}}, *doc.to_dict()["nodes"][1:]]}))
    assert short.nodes["r"].n_params == result.nodes["r"].n_params
    assert short.nodes["r"].flops * 10**6 == result.nodes["r"].flops * 7


def test_npz_header_that_tokenize_cannot_read(tmp_path):
    """numpy parses an .npy header with tokenize: a damaged one raised tokenize.TokenError."""
    import io
    import zipfile
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 2), np.float32))
    member = buf.getvalue().replace(b"(3, 2)", b"(3, 2(", 1)
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z:
        z.writestr("x.npy", member)
        z.writestr("y.npy", member)
    with pytest.raises(DataError, match=r"member 'x.npy' is not a NumPy array file \(.npy\)"):
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)


def test_float64_inputs_past_float32(tmp_path):
    """1e300 became inf with a RuntimeWarning on the way to float32, before the check."""
    np.savez(tmp_path / "d.npz", x=np.full((4, 2), 1e300), y=np.zeros(4, np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="x holds NaN or infinite values"):
            load_dataset({"path": "d.npz"}, base_dir=tmp_path)


def test_session_text_that_is_not_utf8(tmp_path):
    """Python's sqlite3 raised UnicodeDecodeError on a damaged TEXT value."""
    import sqlite3
    path = tmp_path / "run.session"
    with SessionWriter(path, {}, {}) as w:
        w.event("start", 0, "hello")
    db = sqlite3.connect(path)
    db.execute("UPDATE events SET message = CAST(X'68E36C6C6F' AS TEXT)")
    db.commit()
    db.close()
    with SessionReader(path) as r:
        with pytest.raises(SessionError, match="is a damaged session \\(it holds text that is not UTF-8\\)"):
            r.events()


def test_idx_and_npy_headers_with_too_many_dimensions(tmp_path):
    """An IDX header may say 255 dimensions: the message listed them all (700 characters),
    and numpy refuses more than 64 with a ValueError; an .npy header may say as many."""
    (tmp_path / "i-idx3-ubyte").write_bytes(bytes([0, 0, 8, 200]) + bytes(800))
    (tmp_path / "l-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 0))
    with pytest.raises(DataError, match="says it has 200 dimensions; an IDX dataset has at most 8"):
        load_dataset({"path": "i-idx3-ubyte", "labels": "l-idx1-ubyte"}, base_dir=tmp_path)
    import io
    import zipfile
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (1,) * 70})
    member = buf.getvalue() + bytes(4)
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z:
        z.writestr("x.npy", member)
        z.writestr("y.npy", member)
    with pytest.raises(DataError, match="array x has 70 dimensions; a dataset array has at most 32"):
        load_dataset({"path": "d.npz"}, base_dir=tmp_path)


def _graph_with_input_shape(shape) -> dict:
    return {"format": "neurostudio.graph", "version": 2, "name": "t",
            "nodes": [{"id": "x", "type": "Input", "params": {"shape": shape}},
                      {"id": "f", "type": "Flatten", "params": {}},
                      {"id": "fc", "type": "Dense", "params": {"units": 2}},
                      {"id": "loss", "type": "CrossEntropy", "params": {}}],
            "edges": [{"from": "x.out", "to": "f.in"}, {"from": "f.out", "to": "fc.in"},
                      {"from": "fc.out", "to": "loss.in"}],
            "dataset": {"name": "spiral"}}


@pytest.mark.parametrize("shape, says", [
    ([1] * 100_000, "param 'shape' must have at most 8 entries, got 100000"),  # review F3: a 300 KB message
    ([10**30], "param 'shape' entries must be at most 2147483647"),  # review F4: torch's overflow text
    ([0.5] * 10_000, "must be a list of whole numbers, got [0.5, 0.5, 0.5"),
])
def test_input_shapes_a_stranger_may_write_get_one_short_sentence(shape, says):
    from engine.graph.errors import GraphError
    from engine.graph.validate import validate_document
    doc = GraphDocument.from_dict(_graph_with_input_shape(shape), validate=False)
    with pytest.raises(GraphError) as err:
        validate_document(doc)
    text = str(err.value)
    assert says in text and len(text) < 300, text[:400]


def test_a_number_with_thousands_of_digits_is_a_whole_sentence():  # review F5: "...has 5001 di."
    from engine.graph.errors import GraphError
    text = '{"format": "neurostudio.graph", "version": 2, "nodes": [{"id": "x", "type": "Dense", ' \
           '"params": {"units": 1' + "0" * 5000 + '}}]}'
    with pytest.raises(GraphError, match=r"is not valid JSON: a number has more than 4300 digits\.$"):
        GraphDocument.from_json(text, source="Graph file g.json")
