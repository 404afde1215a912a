"""PyTorch modules imported as graph documents: the compiled graph, with the imported
weights, computes what the module computes with its own; import -> export code -> import
gives the same graph; what cannot be imported is one sentence naming the construct and line."""
from __future__ import annotations

import inspect
import pickle
import textwrap

import numpy as np
import pytest
import torch

from engine.graph.compile import compile_graph
from engine.graph.document import load_graph
from engine.graph.shapes import analyse
from engine.graph.validate import topological_order
from engine.interop.code_export import export_code
from engine.interop.errors import InteropError
from engine.interop.fx_import import import_module
from engine.interop.module_file import import_file
from engine.interop.weights import save_safetensors

from . import interop_models
from .interop_cases import template_docs
from .interop_models import MODELS, randomise


def _input(shape, dtype, batch=4, seed=3):
    gen = torch.Generator().manual_seed(seed)
    if dtype == "long":
        return torch.randint(0, 20, (batch, *shape), generator=gen)
    return torch.randn((batch, *shape), generator=gen)


def _graph_output(result, x):
    compiled = compile_graph(result.doc)
    compiled.model.load_state_dict({k: torch.from_numpy(v) for k, v in result.weights.items()})
    with torch.no_grad():
        return compiled.model.eval()(x)


@pytest.mark.parametrize("name", MODELS)
def test_imported_graph_computes_what_the_module_computes(name):
    factory, shape = MODELS[name]
    torch.manual_seed(0)
    model = randomise(factory())
    result = import_module(model, shape)
    assert analyse(result.doc).ok
    x = _input(shape, result.doc.nodes[0].params["dtype"])
    with torch.no_grad():
        want = model.eval()(x)
    got = _graph_output(result, x)
    assert got.shape == want.shape
    assert float((got - want).abs().max()) <= 1e-5


def test_resnet18_has_its_table_1_structure_and_keeps_where_each_node_came_from():
    result = import_module(randomise(interop_models.ResNet18()), (3, 32, 32))
    types = [n.type for n in result.doc.nodes]
    assert types.count("Conv2d") == 1 + 16 + 3 and types.count("Add") == 8
    assert types.count("BatchNorm2d") == 20 and types.count("Dense") == 1
    assert result.doc.node("layer2_0_conv1").params == {"channels": 16, "kernel": 3, "stride": 2, "padding": 1,
                                                        "dilation": 1, "groups": 1, "bias": False}
    conv = result.origins["layer2_0_shortcut_0"]
    assert (conv.path, conv.scope) == ("layer2.0.shortcut.0", "layer2.0.shortcut")
    add = result.origins["add_2"]  # the third residual sum: layer2's first block
    assert add.scope == "layer2.0" and add.code == "out += identity" and add.line is not None
    assert result.doc.nodes[-1].type == "CrossEntropy"
    # laid out left to right, level by level of its blocks: every edge between two units of a
    # level goes to a later column
    doc = result.doc
    tree = doc.tree()
    pos = {n.id: n.pos for n in doc.nodes} | {b.id: b.pos for b in doc.blocks}
    for level, units in tree.children.items():
        at = set(units)
        for e in doc.edges:
            a, b = e.src, e.dst
            while a is not None and a not in at:
                a = tree.parent.get(a)
            while b is not None and b not in at:
                b = tree.parent.get(b)
            if a is not None and b is not None and a != b:
                assert pos[b][0] > pos[a][0], (level, e.label)


def test_recurrent_idioms_become_the_layers_they_mean():
    torch.manual_seed(0)
    model = randomise(interop_models.Recurrent())
    result = import_module(model, (9,))
    nodes = {n.id: (n.type, n.params) for n in result.doc.nodes}
    assert nodes["tokens"] == ("Input", {"shape": [9], "dtype": "long"})
    assert nodes["lstm"] == ("LSTM", {"units": 12, "return_sequences": True, "bidirectional": False})
    assert nodes["lstm_drop0"] == ("Dropout", {"p": 0.2})
    assert nodes["lstm_l1"] == ("LSTM", {"units": 12, "return_sequences": True, "bidirectional": False})
    # torch.cat([h_n[-2], h_n[-1]], 1) is the bidirectional GRU's final state
    assert nodes["gru"] == ("GRU", {"units": 6, "return_sequences": False, "bidirectional": True})
    assert nodes["multiply"][0] == "Multiply"
    # the second stacked layer's weights are torch's *_l1 tensors
    assert np.array_equal(result.weights["lstm_l1.rnn.weight_hh_l0"], model.state_dict()["lstm.weight_hh_l1"].numpy())


def _model_file(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(inspect.getsource(interop_models))
    return path


@pytest.mark.parametrize("name", MODELS)
def test_import_export_import_gives_the_same_graph_and_weights(name, tmp_path):
    path = _model_file(tmp_path)
    shape = MODELS[name][1]
    torch.manual_seed(0)
    state = randomise(MODELS[name][0]()).state_dict()
    torch.save(state, tmp_path / "w.pt")
    first = import_file(path, name, input_shape=shape, weights=tmp_path / "w.pt")
    code = export_code(first.doc)
    (tmp_path / "exported.py").write_text(code.source)
    save_safetensors(code.rename_weights(first.weights), tmp_path / "exported.safetensors")
    second = import_file(tmp_path / "exported.py", code.class_name, input_shape=shape,
                         weights=tmp_path / "exported.safetensors")
    # exported code is one flat module: the graph comes back, its blocks (and the positions
    # nested in them) do not
    def flat(doc):
        data = doc.to_dict()
        data["nodes"] = [{k: v for k, v in n.items() if k != "pos"} for n in data["nodes"]]
        return {k: v for k, v in data.items() if k != "blocks"}
    assert flat(second.doc) == flat(first.doc)
    assert second.weights.keys() == first.weights.keys()
    assert all(np.array_equal(second.weights[k], first.weights[k]) for k in first.weights)


def test_every_template_exported_as_code_imports_as_the_same_network(tmp_path):
    for slug, doc in template_docs().items():
        code = export_code(doc)
        (tmp_path / f"{slug}.py").write_text(code.source)
        shape = next(n for n in doc.nodes if n.type == "Input").params["shape"]
        back = import_file(tmp_path / f"{slug}.py", code.class_name, input_shape=shape).doc
        order = [doc.node(i) for i in topological_order(doc)]
        assert [n.type for n in back.nodes[:-1]] == [n.type for n in order[:-1]], slug
        ids = {a.id: b.id for a, b in zip(order, back.nodes)}
        built_a, built_b = compile_graph(doc, "meta"), compile_graph(back, "meta")
        for a, b in zip(order[:-1], back.nodes[:-1]):
            if a.type != "Input":  # the same layer, as the catalogue builds it (init schemes aside)
                assert repr(built_b.module_of(b.id)) == repr(built_a.module_of(a.id)), (slug, a.id)
            if a.type not in ("Add", "Multiply", "Concat"):
                assert b.id == a.id  # layers keep their ids; merges are named by their type
        loss = order[-1].id
        assert sorted((ids[e.src], ids[e.dst]) for e in doc.edges if e.dst != loss) == \
            sorted((e.src, e.dst) for e in back.edges if e.dst != "loss"), slug


def test_weights_are_read_from_safetensors_state_dicts_and_checkpoints(tmp_path):
    path = _model_file(tmp_path)
    torch.manual_seed(1)
    state = randomise(interop_models.LeNet5()).state_dict()
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "w.safetensors")
    torch.save({"epoch": 7, "state_dict": state}, tmp_path / "checkpoint.pt")
    for weights in ("w.safetensors", "checkpoint.pt"):
        result = import_file(path, "LeNet5", input_shape=(1, 28, 28), weights=tmp_path / weights)
        assert np.array_equal(result.weights["c3.weight"], state["c3.weight"].numpy())
        assert np.array_equal(result.weights["output.bias"], state["output.bias"].numpy())


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_weights_file_holding_objects_is_refused_without_running_them(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "evil.pt", "wb") as fh:
        pickle.dump({"fc.weight": _Payload(str(marker))}, fh)
    with pytest.raises(InteropError) as err:
        import_file(_model_file(tmp_path), "LeNet5", input_shape=(1, 28, 28), weights=tmp_path / "evil.pt")
    assert str(err.value).startswith("Weights file evil.pt holds Python objects other than tensors")
    assert not marker.exists()


BAD = '''
import torch
from torch import nn


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return self.fc(-x)


class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.norm = nn.LayerNorm(2)

    def forward(self, x):
        return self.norm(self.fc(x))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


class TimeFirst(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(4, 3)

    def forward(self, x):
        return self.gru(x)[0]


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x), x


class Sized(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(4, width)

    def forward(self, x):
        return self.fc(x)
'''


@pytest.mark.parametrize("cls, shape, message", [
    ("Branchy", (4,), "Branchy cannot be imported: line 12 of bad.py (`if x.sum() > 0:`): it branches, loops or "
                      "takes a length on a tensor's values, which has no fixed graph (torch.fx cannot trace it)."),
    ("Normed", (4,), "Normed cannot be imported: line 24 of bad.py (`return self.norm(self.fc(x))`): 'norm' is a "
                     "LayerNorm, which has no layer in Neurostudio's catalogue."),
    ("Tied", (4,), "Tied cannot be imported: line 33 of bad.py (`return self.fc(self.fc(x))`): 'fc' is called a "
                   "second time: its weights are shared, which a graph here (one weight set per node) cannot express."),
    ("TimeFirst", (5, 4), "TimeFirst cannot be imported: line 42 of bad.py (`return self.gru(x)[0]`): 'gru' (GRU) "
                          "reads (T, N, features) (batch_first=False); set batch_first=True: the recurrent layers here "
                          "read (N, T, features)."),
    ("TwoOutputs", (4,), "TwoOutputs's forward returns 2 values; a graph here has one output: return one tensor "
                         "computed from the input."),
    ("Sized", (4,), "Building Sized() raised TypeError: Sized.__init__() missing 1 required positional argument: "
                    "'width'."),
    ("Normed", (3, 5), "Running Normed on an example input of shape (2, 3, 5) failed at line 24 "
                       "(`return self.norm(self.fc(x))`): mat1 and mat2 shapes cannot be multiplied (6x5 and 4x2); "
                       "check the input shape."),
    ("Missing", (4,), "bad.py has no nn.Module class named 'Missing' (it defines Branchy, Normed, Tied, TimeFirst, "
                      "TwoOutputs, Sized)."),
])
def test_what_cannot_be_imported_is_one_sentence_naming_it(cls, shape, message, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    with pytest.raises(InteropError) as err:
        import_file(tmp_path / "bad.py", cls, input_shape=shape)
    assert str(err.value) == message


def test_a_broken_file_is_named_with_its_line(tmp_path):
    (tmp_path / "broken.py").write_text("import torch\n\nclass Net(torch.nn.Module:\n    pass\n")
    with pytest.raises(InteropError) as err:
        import_file(tmp_path / "broken.py", "Net", input_shape=(4,))
    assert str(err.value).startswith("broken.py has a syntax error at line 3:") and err.value.line == 3
    (tmp_path / "raises.py").write_text("import torch\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(InteropError) as err:
        import_file(tmp_path / "raises.py", "Net", input_shape=(4,))
    assert str(err.value) == "Running raises.py raised RuntimeError at line 2: no GPU here."


def test_import_command_writes_a_graph_and_its_weights(tmp_path, capsys):
    from engine.cli import main
    from safetensors.torch import load_file
    path = _model_file(tmp_path)
    args = ["import", str(path), "ResNet18", "--args", '{"width": 4, "classes": 5}', "--input-shape", "3,32,32",
            "-o", str(tmp_path / "r.json"), "--save-weights", str(tmp_path / "r.safetensors")]
    assert main(args) == 0
    doc = load_graph(tmp_path / "r.json")
    assert doc.name == "ResNet18" and doc.node("fc").params["units"] == 5
    saved = load_file(str(tmp_path / "r.safetensors"))
    assert set(saved) == set(compile_graph(doc, "meta").model.state_dict())  # plain layers: the same names
    assert "as a graph of" in capsys.readouterr().out
    assert main(["import", str(path), "ResNet18", "--input-shape", "3,x", "-o", str(tmp_path / "q.json")]) == 2
    assert capsys.readouterr().err == "The input shape '3,x' is not a list of sizes >= 1, e.g. 1,28,28.\n"
    assert main(["import", str(path), "Nope", "--input-shape", "3,32,32", "-o", str(tmp_path / "q.json")]) == 1
    assert capsys.readouterr().err.startswith("models.py has no nn.Module class named 'Nope'")


def test_bad_file_text_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text(textwrap.dedent("hello"))
    with pytest.raises(InteropError, match="is not a Python file"):
        import_file(tmp_path / "notes.txt", "Net", input_shape=(4,))
