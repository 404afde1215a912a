"""Which files a document may make us read: the path rule.

Graphs and sessions travel between people. A stranger's graph could name
``/home/you/.ssh/id_rsa`` or ``../../taxes.csv`` as its dataset; training on it would put
the file's content into the recorded session (its probe batch), which the user may share
back. So a data path in a document is read only if it lies inside

- the document's own folder (the graph file's, or the session file's for a fork), or
- a folder the user chose: in a file dialog of the window, or with ``--allow-data DIR``
  on the command line.

Anything else is refused with a sentence naming the path, before it is opened. Paths are
compared after resolving ``..`` and symbolic links, so neither leads outside.

``DataAccess`` is the one object the command line, the worker and the window pass around;
``engine.data.load_dataset(ref, base_dir=access)`` applies it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .base import DataError


@dataclass(frozen=True)
class DataAccess:
    """``base_dir``: the document's folder (relative data paths start there; None for a
    document never saved); ``allowed``: folders the user chose."""
    base_dir: Path | None = None
    allowed: tuple[Path, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, value) -> "DataAccess":
        """A DataAccess from one, from a folder (the document's) or from None."""
        if isinstance(value, DataAccess):
            return value
        return cls(None if value is None else Path(value))

    @classmethod
    def from_job(cls, job: dict) -> "DataAccess":
        """From a worker job's "base_dir" and "data_dirs" entries (see :meth:`job_entries`)."""
        base = job.get("base_dir")
        return cls(None if base is None else Path(base), tuple(Path(p) for p in job.get("data_dirs") or ()))

    def job_entries(self) -> dict:
        """The plain entries a worker job carries: {"base_dir": str | None, "data_dirs": [str]}."""
        return {"base_dir": None if self.base_dir is None else str(self.base_dir),
                "data_dirs": [str(p) for p in self.allowed]}

    def allowing(self, *folders) -> "DataAccess":
        """The same access with more folders the user chose."""
        return DataAccess(self.base_dir, self.allowed + tuple(Path(f) for f in folders))

    @property
    def roots(self) -> tuple[Path, ...]:
        """Every folder data may come from, resolved."""
        folders = ([] if self.base_dir is None else [self.base_dir]) + list(self.allowed)
        return tuple(_real(f) for f in folders)

    def resolve(self, text: str, what: str = "Data path") -> Path:
        """The file ``text`` names (relative to the document's folder), or DataError if it
        lies outside every allowed folder. Nothing is opened."""
        raw = Path(str(text)).expanduser()
        path = raw if raw.is_absolute() or self.base_dir is None else self.base_dir / raw
        real = _real(path)
        if any(real == root or root in real.parents for root in self.roots):
            return path
        where = (f"the document's folder {self.base_dir}" if self.base_dir is not None
                 else "the document's folder (it has none until it is saved)")
        if self.allowed:
            where += " or the folders you allowed"
        raise DataError(f"{what} {_shown(text)} lies outside {where}, so it is not read; choose the "
                        f"file in the window or allow its folder with --allow-data.")

    def check_inside(self, path: Path, what: str) -> Path:
        """Refuse ``path`` (already resolved from an allowed folder, e.g. an image in a
        dataset folder) if a link in it leads outside every allowed folder."""
        return self.resolve(str(path), what)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def _shown(text) -> str:
    """The path as given, quoted and cut short (it comes from a file)."""
    s = "".join(c if c.isprintable() else "?" for c in str(text)[:201])
    return repr(s[:200] + ("…" if len(s) > 200 else ""))
