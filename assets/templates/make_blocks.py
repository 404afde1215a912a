"""Give the built-in templates the blocks their papers draw, and lay them out level by level.

The templates were written by hand as flat graphs; this script is how their blocks were
made, kept so that it can be run again after a template changes. Each rule names a block,
the node ids it takes (a regular expression) and its parent. Layers keep their ids, so
lessons, probes and recorded sessions still find them. Run from the repository root:

    .venv/bin/python assets/templates/make_blocks.py
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.graph.blocks import Block  # noqa: E402
from engine.graph.document import GraphDocument  # noqa: E402
from visualizer.editor.layout import apply_positions, layout_all  # noqa: E402

HERE = Path(__file__).resolve().parent

# block id, name, node ids (regex), parent block, folded
Rule = tuple[str, str, str, str | None, bool]


def _resnet(kind: str) -> list[Rule]:
    rules: list[Rule] = [("stem_block", "Stem", r"stem(_bn|_relu)?", None, True)]
    for s in (1, 2, 3):
        rules.append((f"stage{s}", f"Stage {s}", r"(?!)", None, True))  # its width is on its shape line
        for b in (1, 2, 3):
            rules.append((f"s{s}b{b}", f"{kind} block {s}.{b}", rf"s{s}b{b}_.*", f"stage{s}", True))
    return rules


def _densenet() -> list[Rule]:
    rules: list[Rule] = [("stem_block", "Stem", r"stem(_pool)?", None, True)]
    for d in (1, 2):
        rules.append((f"dense{d}", f"Dense block {d}", r"(?!)", None, True))
        for layer in (1, 2, 3, 4):
            rules.append((f"d{d}l{layer}", f"Dense layer {d}.{layer}", rf"d{d}l{layer}_.*", f"dense{d}", True))
        if d == 1:
            rules.append(("transition", "Transition", r"trans_.*", None, True))
    return rules


RULES: dict[str, list[Rule]] = {
    "resnet": _resnet("Basic"),
    "plainnet": _resnet("Plain"),
    "resnext": [("stem_block", "Stem", r"stem(_bn|_relu|_pool)?", None, True),
                ("block1", "ResNeXt block 1", r"block1_.*", None, True),
                ("block2", "ResNeXt block 2", r"block2_.*", None, True)],
    "inception": [("stem_block", "Stem", r"stem_.*", None, True),
                  ("inc3a", "Inception 3a", r"inc3a_.*", None, True),
                  ("inc3b", "Inception 3b", r"inc3b_.*", None, True)],
    "densenet": _densenet(),
    "vgg_mini": [(f"vgg{i}", f"Block {i}", rf"(conv{i}_\d|relu{i}_\d|pool{i})", None, False) for i in (1, 2, 3)],
    "tcn": [(f"tc{d}", f"Residual block (dilation {d})", rf"tc{d}_.*", None, False) for d in (1, 2, 4, 8)],
}


def with_blocks(data: dict, rules: list[Rule]) -> GraphDocument:
    doc = GraphDocument.from_dict({**data, "blocks": []})
    doc.blocks = [Block(bid, name, parent, folded) for bid, name, _, parent, folded in rules]
    for bid, _, pattern, _, _ in rules:
        for n in doc.nodes:
            if n.block is None and re.fullmatch(pattern, n.id):
                n.block = bid
    empty = [b.id for b in doc.blocks if not doc.tree().children.get(b.id)]
    if empty:
        raise SystemExit(f"{data['name']}: blocks {empty} took no layers")
    apply_positions(doc, layout_all(doc))
    return GraphDocument.from_dict(doc.to_dict())  # validated, as a file would be


def main() -> None:
    for slug, rules in RULES.items():
        path = HERE / f"{slug}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        doc = with_blocks(data, rules)
        path.write_text(doc.to_json() + "\n", encoding="utf-8")
        print(f"{slug}: {len(doc.blocks)} blocks")


if __name__ == "__main__":
    main()
