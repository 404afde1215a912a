"""docs/layers.md is generated from the catalogue and must stay in step with it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from engine.graph.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_layer_docs", ROOT / "scripts" / "gen_layer_docs.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def test_layers_md_is_up_to_date_with_the_catalogue():
    on_disk = (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
    assert on_disk == gen.render(), "docs/layers.md is out of date: run .venv/bin/python scripts/gen_layer_docs.py"


def test_every_layer_param_and_probe_is_documented():
    text = gen.render()
    for layer in CATALOGUE.values():
        section = text.split(f"\n### {layer.name}\n", 1)[1].split("\n### ", 1)[0]
        assert layer.help.split()[0] in section
        for p in layer.params:
            assert f"| `{p.name}` |" in section, (layer.name, p.name)
        for probe in layer.probes:
            assert gen.PROBE_NAMES[probe] in section, (layer.name, probe)


def test_param_rows_show_type_default_and_range():
    text = gen.render()
    conv = text.split("\n### Conv2d\n", 1)[1].split("\n### ", 1)[0]
    assert "| `channels` | int | `16` | 1 to 65536 | Number of output channels (filters). |" in conv
    assert '| `padding` | "same", "valid" or int | `"same"` | — |' in conv
    reshape = text.split("\n### Reshape\n", 1)[1].split("\n### ", 1)[0]
    assert "| `shape` | list of int | required | ≥ -1 |" in reshape
    concat = text.split("\n### Concat\n", 1)[1].split("\n### ", 1)[0]
    assert "`in` (takes several edges, in edge order)" in concat


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "layers.md"
    stale.write_text("# Layer reference\n")
    monkeypatch.setattr(gen, "OUTPUT", stale)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 1
    assert "layers.md is out of date" in capsys.readouterr().err
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0


def test_graph_format_example_is_a_valid_document():
    import json
    import re

    from engine.graph.document import GraphDocument
    from engine.graph.shapes import analyse

    text = (ROOT / "docs" / "graph-format.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    example = next(b for b in blocks if b.lstrip().startswith('{\n  "format"'))
    doc = GraphDocument.from_dict(json.loads(example))
    assert analyse(doc).problems == []
    assert analyse(doc).nodes["logits"].out_shape == (6,)


def test_graph_format_lists_every_training_setting():
    from engine.graph.settings import TRAINING_PARAMS

    text = (ROOT / "docs" / "graph-format.md").read_text(encoding="utf-8")
    section = text.split("## Training settings", 1)[1].split("\n## ", 1)[0]
    documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
    assert documented == {p.name for p in TRAINING_PARAMS}
