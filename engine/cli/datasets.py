"""`python -m engine datasets`: the built-in datasets with their shapes, targets and params."""
from __future__ import annotations

import json

from ..data.base import DatasetInfo
from ..data.registry import CATEGORY_ORDER, DATASETS, describe


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the list as JSON.")
    parser.add_argument("--params", action="store_true", help="Also list each dataset's parameters.")


def target_text(info: DatasetInfo) -> str:
    if info.target_kind == "class":
        where = f"class per step {tuple(info.target_shape)}" if info.target_shape else "class"
        return f"{where}, {info.num_classes} classes"
    return f"value {tuple(info.target_shape)}"


def _entry(name: str) -> dict:
    spec = DATASETS[name]
    info = describe(name)
    return {
        "name": name, "category": spec.category, "help": spec.help, "kind": info.kind,
        "input_shape": list(info.input_shape), "input_dtype": info.input_dtype,
        "target_kind": info.target_kind, "target_shape": list(info.target_shape), "target": target_text(info),
        "class_names": list(info.class_names),
        "params": [{"name": p.name, "kind": p.kind, "default": p.default, "min": p.min, "max": p.max,
                    "choices": list(p.choices), "help": p.help} for p in spec.params],
    }


def run(args) -> int:
    names = sorted(DATASETS, key=lambda n: CATEGORY_ORDER.index(DATASETS[n].category))
    entries = [_entry(n) for n in names]
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    category = None
    for e in entries:
        if e["category"] != category:
            category = e["category"]
            print(f"\n{category}:" if e is not entries[0] else f"{category}:")
        shape = "(N, " + ", ".join(map(str, e["input_shape"])) + ")"
        dtype = " long" if e["input_dtype"] == "long" else ""
        print(f"  {e['name']:<16} {shape + dtype:<22} {e['target']:<34} {e['help']}")
        if args.params:
            for p in e["params"]:
                print(f"      {p['name']} = {p['default']!r}: {p['help']}")
    return 0
