"""A character corpus from a small grammar with nesting, for char-level language models.

The structure is what makes it a good teaching corpus: a model must count open brackets
to close them, remember an open quote, and learn word spellings and number shapes.
"""
from __future__ import annotations

import numpy as np

from .base import DatasetInfo

WORDS = ("cat", "dog", "sees", "the", "a", "big", "red", "runs", "and", "on", "mat", "if", "then")
VOCAB = tuple(sorted(set("".join(WORDS)) | set("0123456789") | set(' ()[]";\n')))


def _corpus(rng: np.random.Generator, chars: int, depth: int) -> str:
    out: list[str] = []

    def expr(level: int) -> None:
        for i in range(int(rng.integers(1, 5))):
            if i:
                out.append(" ")
            term(level)

    def term(level: int) -> None:
        r = rng.random()
        if level < depth and r < 0.25:
            opening, closing = ("(", ")") if rng.random() < 0.6 else ("[", "]")
            out.append(opening)
            expr(level + 1)
            out.append(closing)
        elif r < 0.35:
            out.append('"' + " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(1, 4))) + '"')
        elif r < 0.5:
            out.append(str(int(rng.integers(0, 10 ** int(rng.integers(1, 4))))))
        else:
            out.append(WORDS[int(rng.integers(0, len(WORDS)))])

    size = 0
    while size < chars:
        start = len(out)
        expr(0)
        out.append(";\n")
        size += sum(len(s) for s in out[start:])
    return "".join(out)


def grammar_text(params: dict, seed: int):
    rng = np.random.default_rng(seed)
    n, t = params["samples"], params["seq_len"]
    text = _corpus(rng, n * t + 1, params["depth"])
    lookup = np.zeros(128, dtype=np.int64)
    lookup[[ord(c) for c in VOCAB]] = np.arange(len(VOCAB))
    ids = lookup[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    x = ids[:n * t].reshape(n, t)
    y = ids[1:n * t + 1].reshape(n, t)
    info = DatasetInfo("grammar_text", (t,), "long", "class", (t,), VOCAB, "text",
                       f"Text from a small grammar (words, numbers, quotes, brackets nested up to "
                       f"{params['depth']} deep) in windows of {t} characters; predict the next character.")
    return x, y, info
