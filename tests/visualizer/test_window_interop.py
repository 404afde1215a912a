"""File > Export of the network (PyTorch code with its weights, ONNX) and File > Import of an
nn.Module, from the window: the files written are what the engine's exporters write, with
the bound run's weights; an imported module opens as a new graph that computes what it does.
(The exporters and the importer are tested in depth in tests/engine/test_interop_*.py.)"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from engine.session import SessionReader
from visualizer.editor import edits


def wait_export(window, qtbot, path):
    qtbot.waitUntil(lambda: path.exists() and window.statusBar().currentMessage().startswith("Wrote"),
                    timeout=120_000)


def test_export_code_with_the_runs_weights_loads_in_plain_torch(window, qtbot, dialogs, tmp_path):
    window.open_template("playground_mlp")
    edits.set_training(window.model, "steps", 30)
    window.start_training()
    window.model.undo_stack.setClean()
    qtbot.waitUntil(lambda: window.controller.state == "finished", timeout=90_000)
    qtbot.waitUntil(lambda: window.timeline.step == 30, timeout=5000)
    out = tmp_path / "mlp.py"
    dialogs.answers["export_path"] = [str(out)]
    assert window.export_network("pytorch")
    wait_export(window, qtbot, out.with_suffix(".safetensors"))
    assert "step 30" in window.statusBar().currentMessage()  # the run's last checkpoint, not fresh weights
    with SessionReader(window.session_path) as r:
        ckpt, _ = r.checkpoint(30)
    # a fresh process with only torch and safetensors: the exported class loads the weights
    probe = textwrap.dedent(f"""
        import importlib.util, json, sys
        import torch
        from safetensors.torch import load_file
        spec = importlib.util.spec_from_file_location("mlp", {str(out)!r})
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
        cls = [v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v.__module__ == "mlp"][-1]
        model = cls()
        model.load_state_dict(load_file({str(out.with_suffix('.safetensors'))!r}))
        print(json.dumps({{k: v.flatten()[:3].tolist() for k, v in model.state_dict().items()}}))
    """)
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    import json
    loaded = json.loads(res.stdout)
    first = {k: np.asarray(v).reshape(-1)[:3] for k, v in ckpt.items()}
    # every checkpoint tensor is in the exported module under its exported name, same values
    np.testing.assert_allclose(np.sort(np.concatenate(list(first.values()))),
                               np.sort(np.concatenate([np.asarray(v, np.float32) for v in loaded.values()])))


@pytest.mark.skipif(importlib.util.find_spec("onnx") is None, reason="the onnx extra is not installed")
def test_export_onnx_from_the_window(window, qtbot, dialogs, tmp_path):
    window.open_template("playground_mlp")
    out = tmp_path / "mlp.onnx"
    dialogs.answers["export_path"] = [str(out)]
    assert window.export_network("onnx")
    wait_export(window, qtbot, out)
    assert "fresh initialisation" in window.statusBar().currentMessage()
    assert out.stat().st_size > 1000


def test_an_unbuildable_graph_is_not_exported(window, dialogs):
    window.open_template("playground_mlp")
    edits.set_param(window.model, "fc1", "units", 16)
    window.model.doc.edges.clear()  # nothing connected
    window.model.schedule_analysis()
    assert not window.export_network("pytorch", path="/nonexistent/never.py")
    assert dialogs.errors() and dialogs.errors()[-1].startswith("The graph cannot be built yet")


def test_import_a_module_file_as_a_new_graph(window, qtbot, dialogs, tmp_path):
    src = tmp_path / "small.py"
    src.write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Small(nn.Module):
            def __init__(self, hidden=8):
                super().__init__()
                self.fc1 = nn.Linear(4, hidden)
                self.act = nn.ReLU()
                self.fc2 = nn.Linear(hidden, 3)

            def forward(self, x):
                return self.fc2(self.act(self.fc1(x)))
    """))
    from visualizer.panels.import_dialog import ImportModuleDialog, classes_in
    assert classes_in(str(src)) == ["Small"]
    dialog = ImportModuleDialog(window)
    dialog.path.setText(str(src))
    dialog.path.editingFinished.emit()
    assert dialog.classes.currentText() == "Small"
    dialog.args.setText('{"hidden": 12}')
    dialog.shape.setText("4")
    dialog.import_requested.connect(lambda *args: window.import_module(*args, dialog=dialog))
    dialog._request()
    qtbot.waitUntil(lambda: window.model.doc.has_node("fc1") if window.model.doc.nodes else False, timeout=60_000)
    doc = window.model.doc
    types = [n.type for n in doc.nodes]
    assert types.count("Dense") == 2 and "ReLU" in types
    dense = [n for n in doc.nodes if n.type == "Dense"]
    assert sorted(n.params["units"] for n in dense) == [3, 12]
    assert window.state.document.key.startswith("new:") and window.state.workspace == "build"
    assert "init_weights" not in window.model.doc.training  # no weights given: a fresh start
    # a constructor error is one sentence in the dialog, not a traceback
    bad = ImportModuleDialog(window)
    bad.path.setText(str(src))
    bad.path.editingFinished.emit()
    bad.args.setText('{"width": 3}')
    bad.shape.setText("4")
    bad.import_requested.connect(lambda *args: window.import_module(*args, dialog=bad))
    bad._request()
    qtbot.waitUntil(lambda: "width" in bad.error.text(), timeout=60_000)
    assert "Traceback" not in bad.error.text() and bad.error.text().count("\n") == 0


def test_an_imported_module_with_weights_trains_from_them(window, qtbot, tmp_path):
    import torch
    src = tmp_path / "tiny.py"
    src.write_text("import torch\nfrom torch import nn\n\nclass Tiny(nn.Module):\n"
                   "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n\n"
                   "    def forward(self, x):\n        return self.fc(x)\n")
    torch.manual_seed(7)
    module = torch.nn.Linear(2, 2)
    torch.save({"fc.weight": module.weight.detach(), "fc.bias": module.bias.detach()}, tmp_path / "tiny.pt")
    window.import_module(str(src), "Tiny", "", "2", str(tmp_path / "tiny.pt"))
    qtbot.waitUntil(lambda: bool(window.model.doc.training.get("init_weights")), timeout=60_000)
    from engine.train import Trainer
    doc = window.model.doc.copy()
    doc.dataset = {"name": "xor", "params": {}}
    trainer = Trainer(doc, base_dir=window.model.data_access)
    [dense] = [k for k in trainer.model.state_dict() if k.endswith("weight")]
    np.testing.assert_array_equal(trainer.model.state_dict()[dense].numpy(), module.weight.detach().numpy())
