"""The check and templates commands, run as a user would (subprocess) and in-process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.graph.document import save_graph
from engine.templates import list_templates, load_template

from .test_document import base

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, data, name="g.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def run_cli(*argv, capsys):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- as a subprocess: exit codes and streams as a shell sees them --------------------

def _python_m_engine(*argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", *argv], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_subprocess_check_of_a_template_prints_the_table():
    proc = _python_m_engine("check", str(ROOT / "assets/templates/lenet.json"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    c1 = next(line for line in lines if line.startswith("c1 "))
    # Conv2d 1->6, 5x5: 6*25 + 6 = 156 weights; 150 weights x 28*28 positions = 117,600 mult-adds
    assert c1.split()[:2] == ["c1", "Conv2d"] and "(N, 6, 28, 28)" in c1 and c1.split()[-2:] == ["156", "118k"]
    assert any(line.startswith("total") and "61,536" in line for line in lines)
    assert proc.stderr == ""


def test_subprocess_malformed_file_is_one_sentence_and_exit_1(tmp_path):
    proc = _python_m_engine("check", write(tmp_path, '{"format": '))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "is not valid JSON" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- in-process -----------------------------------------------------------------------

def test_check_table_rows_totals_and_exit_0(tmp_path, capsys):
    code, out, err = run_cli("check", "--no-data", write(tmp_path, base()), capsys=capsys)
    assert code == 0 and err == ""
    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:] if line and line[0] != "-"}
    assert rows["c1"][:2] == ["c1", "Conv2d"]
    assert " ".join(rows["c1"][2:6]) == "(N, 4, 8, 8)"
    assert rows["c1"][-2:] == ["40", "2.3k"]            # 4*9+4 weights, 36 x 64 positions = 2304
    assert rows["d1"][-2:] == ["771", "768"]            # 256*3+3 weights
    assert rows["loss"][2:4] == ["scalar", "loss"]
    assert rows["total"][-2:] == ["811", "3.33k"]       # 2304 conv + 256 ReLU + 768 dense


def test_check_json_matches_the_analysis(tmp_path, capsys):
    code, out, _ = run_cli("check", "--no-data", "--json", write(tmp_path, base()), capsys=capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["problems"] == []
    by_id = {n["id"]: n for n in report["nodes"]}
    assert [n["id"] for n in report["nodes"]] == ["x", "c1", "r1", "f1", "d1", "loss"]
    assert by_id["c1"] == {"id": "c1", "type": "Conv2d", "out_shape": [4, 8, 8], "in_shapes": [[1, 8, 8]],
                           "params": 40, "flops": 36 * 64}
    assert by_id["d1"]["out_shape"] == [3] and by_id["d1"]["params"] == 256 * 3 + 3
    assert report["total_params"] == 40 + 771
    assert report["total_flops"] == sum(n["flops"] for n in report["nodes"])


def test_check_problems_one_line_each_and_exit_1(tmp_path, capsys):
    data = base()
    data["nodes"][2]["type"] = "Sigmund"                       # r1
    data["nodes"][4]["params"]["units"] = 0                    # d1
    data["edges"].append({"from": "x.out", "to": "ghost.in"})  # no node: reported on the graph
    code, out, err = run_cli("check", write(tmp_path, data), capsys=capsys)
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert "node r1: Node 'r1' has an unknown layer type 'Sigmund'." in lines
    assert any(line.startswith("node d1: ") and "'units' must be at least 1" in line for line in lines)
    assert "graph: Edge x.out -> ghost.in refers to a missing node 'ghost'." in lines
    assert all(line.startswith(("node ", "graph: ")) for line in lines)


def test_check_shape_problem_names_the_node(tmp_path, capsys):
    data = base()
    data["nodes"][0]["params"]["shape"] = [64]
    code, out, _ = run_cli("check", "--no-data", write(tmp_path, data), capsys=capsys)
    assert code == 1
    assert out.splitlines() == ["node c1: Conv2d 'c1' expects (N, C, H, W); got (N, 64) from Input 'x'."]
    code, out, _ = run_cli("check", "--no-data", "--json", write(tmp_path, data), capsys=capsys)
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert report["problems"] == [{"node": "c1", "edge": None,
                                   "message": "Conv2d 'c1' expects (N, C, H, W); got (N, 64) from Input 'x'."}]
    assert report["nodes"][0]["out_shape"] == [64] and report["nodes"][1]["out_shape"] is None


@pytest.mark.parametrize("content, words", [
    (None, "does not exist"),
    ("[]", "expected a JSON object"),
    ({"format": "neurostudio.graph", "version": 99, "nodes": []}, "version 99"),
    (b"\x89PNG\r\n\x1a\n\x00\xff", "not a text file"),
])
def test_unreadable_files_are_one_sentence_on_stderr(tmp_path, capsys, content, words):
    path = tmp_path / "g.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write(tmp_path, content)
    code, out, err = run_cli("check", str(path), capsys=capsys)
    assert code == 1 and out == ""
    assert words in err and err.count("\n") == 1 and err.rstrip().endswith(".")


def test_check_round_trips_a_saved_template(tmp_path, capsys):
    doc = load_template("resnet")
    save_graph(doc, tmp_path / "r.json")
    code, out, _ = run_cli("check", "--json", str(tmp_path / "r.json"), capsys=capsys)
    report = json.loads(out)
    assert code == 0 and len(report["nodes"]) == len(doc.nodes)
    assert next(n for n in report["nodes"] if n["id"] == "gap")["out_shape"] == [32]


def test_templates_lists_every_template(capsys):
    code, out, _ = run_cli("templates", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(list_templates())
    lenet = next(line for line in lines if line.startswith("lenet "))
    assert lenet.split(None, 1)[1].startswith("LeNet-5: LeCun's LeNet-5 (1998)")
    assert lenet.endswith("as in the original.")


def test_templates_json(capsys):
    code, out, _ = run_cli("templates", "--json", capsys=capsys)
    items = json.loads(out)
    assert code == 0 and {i["slug"] for i in items} == {t.slug for t in list_templates()}
    tcn = next(i for i in items if i["slug"] == "tcn")
    assert tcn["name"] == "Temporal convolutional network"
    assert tcn["description"].startswith(tcn["summary"]) and len(tcn["summary"]) < len(tcn["description"])
    assert Path(tcn["path"]).name == "tcn.json"
