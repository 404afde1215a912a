"""``python -m engine import MODEL.py CLASS --input-shape 1,28,28 -o GRAPH.json``: a PyTorch
``nn.Module`` class as an editable graph document.

``--args`` gives the constructor arguments as JSON (``[10]`` or ``{"num_classes": 10}``),
``--weights`` a .safetensors or state-dict file to load into the module first (read
without unpickling objects), ``--save-weights`` writes the module's weights for the graph
(named as ``export --to pytorch`` names them). Importing runs MODEL.py, as Python would.
See docs/interop.md for what can be imported.
"""
from __future__ import annotations

import sys
from pathlib import Path

HELP = "Import a PyTorch nn.Module class as a graph document."


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="MODEL.py", help="The Python file that defines the model.")
    parser.add_argument("cls", metavar="CLASS", help="The nn.Module class to import.")
    parser.add_argument("--input-shape", required=True, metavar="C,H,W",
                        help="One input sample's shape without the batch, e.g. 1,28,28 or 50,8.")
    parser.add_argument("-o", "--out", required=True, metavar="GRAPH.json", help="Where to write the graph.")
    parser.add_argument("--args", metavar="JSON", help="Constructor arguments: a JSON list or object.")
    parser.add_argument("--weights", metavar="FILE", help="A .safetensors or PyTorch state-dict file to load.")
    parser.add_argument("--save-weights", metavar="OUT.safetensors",
                        help="Write the module's weights, named as in the graph's exported code.")
    parser.add_argument("--loss", default="auto", help="The loss layer the output feeds (default: "
                        "CrossEntropy for class scores, else MSE).")
    parser.add_argument("--dtype", default="auto", choices=("auto", "float", "long"),
                        help="The input's dtype (auto: long when it feeds an Embedding).")


def parse_shape(text: str) -> tuple[int, ...] | None:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").replace(" ", "").strip("()[]").split(","))
    except ValueError:
        return None
    return shape if shape and all(v >= 1 for v in shape) else None


def run(args) -> int:
    from ..graph.document import save_graph
    from ..interop.errors import InteropError
    shape = parse_shape(args.input_shape)
    if shape is None:
        print(f"The input shape {args.input_shape!r} is not a list of sizes >= 1, e.g. 1,28,28.", file=sys.stderr)
        return 2
    from ..interop.code_export import export_code
    from ..interop.module_file import import_file
    from ..interop.weights import save_safetensors
    try:
        result = import_file(args.file, args.cls, args.args, shape, args.weights, input_dtype=args.dtype,
                             loss=args.loss)
        save_graph(result.doc, args.out)
        layers = len(result.doc.nodes) - 2
        print(f"Imported {args.cls} from {Path(args.file).name} as a graph of {layers} layers to {args.out}; "
              f"it computes what the module does (largest difference {result.max_abs_diff:.1g}).")
        if args.save_weights:
            code = export_code(result.doc)
            save_safetensors(code.rename_weights(result.weights), args.save_weights,
                             {"format": "neurostudio.weights", "graph": result.doc.name, "class": code.class_name,
                              "origin": f"{args.cls} in {Path(args.file).name}"})
            print(f"Wrote {len(result.weights)} weight tensors to {args.save_weights}.")
    except InteropError as err:
        print(err, file=sys.stderr)
        return 1
    except OSError as err:
        print(f"Could not write {err.filename or args.out}: {err.strerror or err}.", file=sys.stderr)
        return 1
    return 0
