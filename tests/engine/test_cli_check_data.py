"""`python -m engine check` loads the graph's dataset as training does (a relative path from
the graph's folder, whatever the working directory; elsewhere only with --allow-data) and
reports every mismatch with the graph as one line, with its fix."""
import json

from engine.cli import main
from engine.graph.document import save_graph
from engine.templates import load_template

from ..user_files import idx_pair, text_file


def run_cli(*argv, capsys):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lenet_on_idx(tmp_path, units=None):
    """LeNet saved in project/, its dataset an IDX pair of 3 classes in project/data/."""
    images, labels, _x, y = idx_pair(tmp_path / "project" / "data", n=90, classes=3)
    doc = load_template("lenet")
    doc.dataset = {"path": "data/" + images.name, "labels": "data/" + labels.name}
    if units is not None:
        doc.node("logits").params["units"] = units
    save_graph(doc, tmp_path / "project" / "g.json")
    return str(tmp_path / "project" / "g.json"), y


def test_a_relative_path_is_read_from_the_graphs_folder_and_a_mismatch_has_its_fix(tmp_path, capsys, monkeypatch):
    graph, _ = lenet_on_idx(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, out, err = run_cli("check", graph, capsys=capsys)
    lines = out.splitlines()
    assert code == 1 and err == ""
    data = tmp_path / "project" / "data" / "train-images-idx3-ubyte"
    assert lines[-2] == (f"Dataset {data} (idx): 90 samples of (1, 28, 28) float; 3 classes; "
                         "72 to train on, 18 to validate.")
    assert lines[-1] == ("node logits: Dense 'logits' gives 8 class scores, but Dataset 'train-images-idx3-ubyte' "
                         "has 3 classes (ids 0..2). (fix: set its units to 3)")
    assert lines[0] == "LeNet-5: 14 nodes"  # the table comes first, as before


def test_a_graph_that_fits_its_file_exits_0(tmp_path, capsys):
    graph, y = lenet_on_idx(tmp_path, units=3)
    code, out, _ = run_cli("check", graph, capsys=capsys)
    assert code == 0 and out.splitlines()[-1].endswith("90 samples of (1, 28, 28) float; 3 classes; "
                                                       "72 to train on, 18 to validate.")
    code, out, _ = run_cli("check", "--json", graph, capsys=capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["problems"] == []
    d = report["dataset"]
    assert (d["samples"], d["train"], d["val"], d["format"]) == (90, 72, 18, "idx")
    assert d["input_shape"] == [1, 28, 28] and d["classes"] == ["0", "1", "2"]
    assert d["class_counts"] == [int((y == c).sum()) for c in range(3)]


def test_json_problems_carry_the_fix(tmp_path, capsys):
    graph, _ = lenet_on_idx(tmp_path)
    code, out, _ = run_cli("check", "--json", graph, capsys=capsys)
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    [p] = report["problems"]
    assert p["node"] == "logits" and p["fix"] == {"node": "logits", "param": "units", "value": 3,
                                                  "label": "set its units to 3"}


def test_a_file_outside_the_graphs_folder_needs_allow_data(tmp_path, capsys):
    images, labels, *_ = idx_pair(tmp_path / "shared", classes=8)
    doc = load_template("lenet")
    doc.dataset = {"path": str(images), "labels": str(labels)}
    (tmp_path / "project").mkdir()
    save_graph(doc, tmp_path / "project" / "g.json")
    graph = str(tmp_path / "project" / "g.json")
    code, out, _ = run_cli("check", graph, capsys=capsys)
    assert code == 1
    [line] = [ln for ln in out.splitlines() if ln.startswith("node ") and ": " in ln]
    assert line.startswith(f"node x: Data path '{images}' lies outside the document's folder")
    code, out, _ = run_cli("check", "--allow-data", str(tmp_path / "shared"), graph, capsys=capsys)
    assert code == 0 and "90 samples of (1, 28, 28) float; 8 classes" in out


def test_a_vocabulary_too_small_for_the_text_is_a_sentence_before_training(tmp_path, capsys):
    text_file(tmp_path / "wide.txt", "".join(chr(0x41 + i % 50) for i in range(600)))
    doc = load_template("char_lstm")
    doc.dataset = {"path": "wide.txt", "seq_len": 32}
    save_graph(doc, tmp_path / "g.json")
    code, out, _ = run_cli("check", str(tmp_path / "g.json"), capsys=capsys)
    problems = [ln for ln in out.splitlines() if ln.startswith("node ") and ": " in ln]
    assert code == 1 and problems == [
        "node embed: Embedding 'embed' holds 34 token ids, but Dataset 'wide.txt' uses 50 symbols (ids 0..49). "
        "(fix: set its vocab to 50)",
        "node logits: Dense 'logits' gives 34 class scores, but Dataset 'wide.txt' has 50 classes (ids 0..49). "
        "(fix: set its units to 50)"]


def test_no_data_skips_loading(tmp_path, capsys):
    doc = load_template("lenet")
    doc.dataset = {"path": "missing/train-images-idx3-ubyte", "labels": "missing/labels"}
    save_graph(doc, tmp_path / "g.json")
    code, out, _ = run_cli("check", str(tmp_path / "g.json"), capsys=capsys)
    assert code == 1 and "does not exist" in out.splitlines()[-1]
    code, out, _ = run_cli("check", "--no-data", str(tmp_path / "g.json"), capsys=capsys)
    assert code == 0 and "Dataset" not in out
