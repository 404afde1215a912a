"""`python -m engine datasets`: the built-in datasets with their shapes, targets and params."""
from __future__ import annotations

import json

from ..data.base import DatasetInfo
from ..data.registry import CATEGORY_ORDER, DATASETS, describe


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="Print the list as JSON.")
    parser.add_argument("--params", action="store_true", help="Also list each dataset's parameters.")
    parser.add_argument("--markdown", action="store_true",
                        help="Print the reference section of docs/datasets.md (generated from the registry).")


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


def _ordered() -> list[str]:
    return sorted(DATASETS, key=lambda n: CATEGORY_ORDER.index(DATASETS[n].category))


def _range(p) -> str:
    if p.choices:
        return " / ".join(map(str, p.choices))
    if p.min is None and p.max is None:
        return ""
    return f"{p.min:g} to {p.max:g}" + (f" {p.unit}" if p.unit else "")


def markdown_reference() -> str:
    """The built-in dataset reference as Markdown (docs/datasets.md embeds it verbatim)."""
    lines: list[str] = []
    category = None
    for name in _ordered():
        spec, info = DATASETS[name], describe(name)
        if spec.category != category:
            category = spec.category
            lines += [f"### {category}", ""]
        shape = "(N, " + ", ".join(map(str, info.input_shape)) + ")"
        names = ", ".join(f"`{c}`" for c in info.class_names) if len(info.class_names) <= 12 else ""
        lines += [f"#### `{name}`", "", spec.help, "",
                  f"- Samples: `{shape}` {info.input_dtype}, kind `{info.kind}`",
                  f"- Target: {target_text(info)}" + (f": {names}" if names else ""),
                  "", "| param | default | range | help |", "|---|---|---|---|"]
        lines += [f"| `{p.name}` | `{p.default}` | {_range(p)} | {p.help} |" for p in spec.params]
        lines.append("")
    return "\n".join(lines)


def run(args) -> int:
    if args.markdown:
        print(markdown_reference(), end="")
        return 0
    names = _ordered()
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
