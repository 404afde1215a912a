"""The rows of one session transaction, and the thread that writes them in the
background (:class:`engine.session.writer.SessionWriter` builds and commits them)."""
from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

import numpy as np

from .errors import SessionError

_ROW = np.dtype([("series", "<i8"), ("step", "<i8"), ("wall", "<f8"), ("value", "<f8")])


@dataclass
class ScalarBlock:
    """Scalar rows of many steps of the same series, as SessionWriter.scalar_rows took them."""
    ids: list            # series id per name
    values: np.ndarray   # [rows, 1 + names]: the step, then a value per name
    walls: float | np.ndarray  # for all rows, or one per row

    def _pieces(self, size: int) -> Iterator[tuple[np.ndarray, float | np.ndarray]]:
        """(values, walls) of about ``size`` values at a time (all at once if 0): the writer
        thread holds the GIL while it turns one into rows, and the training loop may be
        waiting for it."""
        step = max(1, size // len(self.ids)) if size else len(self.values)
        for i in range(0, len(self.values), step):
            yield self.values[i:i + step], self.walls if np.ndim(self.walls) == 0 else self.walls[i:i + step, None]

    def rows(self, size: int = 0) -> Iterator[list[tuple]]:
        """(series, step, wall, value) per value, as the scalars table holds them, in lists of
        about ``size``."""
        for values, walls in self._pieces(size):
            out = np.empty((len(values), len(self.ids)), dtype=_ROW)
            out["series"], out["step"], out["wall"], out["value"] = self.ids, values[:, :1], walls, values[:, 1:]
            yield out.reshape(-1).tolist()

    def params(self, size: int = 0) -> Iterator[list[float]]:
        """The same rows as one flat list per piece, (series, step, wall, value, series, ...),
        all floats: one numpy call makes it, where tuples cost the writer thread (holding the
        GIL the training loop waits for) ~1 us a row. SQLite stores the integral series ids
        and steps of its INTEGER columns as integers."""
        ids = np.asarray(self.ids, dtype=np.float64)
        for values, walls in self._pieces(size):
            out = np.empty((len(values), len(self.ids), 4))
            out[:, :, 0], out[:, :, 1], out[:, :, 2], out[:, :, 3] = ids, values[:, :1], walls, values[:, 1:]
            yield out.reshape(-1).tolist()


@dataclass
class LaterScalars:
    """Scalars of one step whose values the transaction that writes them computes
    (SessionWriter.scalars_later), once, before it begins."""
    names: tuple
    ids: list
    step: int
    wall: float
    compute: Callable[[], list]
    values: list | None = None

    def evaluate(self) -> None:
        if self.values is not None:
            return
        try:
            values = [float(v) for v in self.compute()]
            if len(values) != len(self.ids):
                raise ValueError(f"{len(values)} values for {len(self.ids)} names")
        except Exception as exc:
            # kept as missing, so that the rows are written when the transaction is retried
            self.values = [math.nan] * len(self.ids)
            raise SessionError(f"the values of {', '.join(self.names)} at step {self.step} could not be "
                               f"computed ({type(exc).__name__}: {exc}); they are recorded as missing.") from None
        self.values = values

    def rows(self, size: int = 0) -> Iterator[list[tuple]]:
        self.evaluate()
        yield [(i, self.step, self.wall, v) for i, v in zip(self.ids, self.values)]


@dataclass
class Batch:
    """The rows of one transaction, taken from the writer's buffers."""
    new_series: list
    scalars: list         # parts in order: lists of rows, ScalarBlocks and LaterScalars
    tensors: list
    events: list
    dropped: list
    checkpoints: list
    checkpoint_tensors: list
    probe: list
    meta: dict
    max_step: int

    def scalar_chunks(self, size: int = 0) -> Iterator[list[tuple]]:
        """The scalars' (series, step, wall, value) rows in order, in lists (blocks in lists of
        about ``size`` values, all at once if 0)."""
        for part in self.scalars:
            if isinstance(part, list):
                yield part
            else:
                yield from part.rows(size)

    def scalar_params(self, size: int = 0) -> Iterator[list]:
        """The same rows in order as flat parameter lists (what :func:`insert_scalars` binds)."""
        for part in self.scalars:
            if isinstance(part, ScalarBlock):
                yield from part.params(size)
            else:
                for rows in ([part] if isinstance(part, list) else part.rows()):
                    yield list(chain.from_iterable(rows))

    def evaluate_later(self) -> None:
        """Compute the LaterScalars' values (before the transaction begins: a failure
        there leaves no transaction open)."""
        for part in self.scalars:
            if isinstance(part, LaterScalars):
                part.evaluate()

    def table_rows(self, first_event: int) -> dict:
        """The rows as the tables hold them (events with their ids, from ``first_event``)."""
        return {"series": self.new_series, "scalars": [row for rows in self.scalar_chunks() for row in rows],
                "tensors": self.tensors, "events": [(first_event + i, *row) for i, row in enumerate(self.events)],
                "dropped": self.dropped, "checkpoints": self.checkpoints,
                "checkpoint_tensors": self.checkpoint_tensors, "probe": self.probe,
                "meta": dict(self.meta, last_step=str(self.max_step))}


class BackgroundWriter:
    """One writer thread running one transaction at a time."""

    def __init__(self, writer):
        self.writer = writer
        self.busy = False
        self._batch: Batch | None = None
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="session-writer", daemon=True)
        self._thread.start()

    def start(self, batch: Batch) -> None:
        with self._cv:
            self.busy, self._batch = True, batch
            self._cv.notify()

    def wait(self) -> None:
        with self._cv:
            while self.busy:
                self._cv.wait()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._batch is None and not self._stop:
                    self._cv.wait()
                if self._batch is None:
                    return
                batch = self._batch
            try:
                self.writer._write(batch)
            except Exception as exc:  # reported by the writer's next call, never lost
                self.writer._background_failed = batch
                self.writer._background_error = exc if isinstance(exc, SessionError) else \
                    SessionError(f"could not write to {self.writer.path}: {exc}.")
            with self._cv:
                self._batch, self.busy = None, False
                self._cv.notify_all()


ROWS_PER_INSERT = 128  # at most 896 parameters (7 columns): under the 999 of SQLite's oldest builds


@lru_cache(maxsize=None)
def _insert_sql(head: str, width: int, rows: int) -> str:
    return f"{head} VALUES " + ", ".join(["(" + ", ".join("?" * width) + ")"] * rows)


def insert_rows(db: sqlite3.Connection, head: str, width: int, chunks: Iterable[list]) -> None:
    """Rows of ``width`` columns given as flat lists of their values, many rows to a
    statement (``head``: "INSERT ... INTO table (columns)"). executemany lets go of the GIL
    and takes it back around every row, and each time the training thread may have to wait
    for it: measured, that cost a small LSTM's loop ~8 us a step at five commits a second.
    Consecutive lists share statements (a recorder's detail step is one row): statements
    of 128 rows, then 64, ..., 1 for the rest, so that a few cached ones serve every
    length; a later row replaces an earlier one of the same key, as row by row."""
    full = ROWS_PER_INSERT * width
    params: list = []
    for chunk in chunks:
        params += chunk
        if len(params) >= full:
            whole = len(params) - len(params) % full
            for i in range(0, whole, full):
                db.execute(_insert_sql(head, width, ROWS_PER_INSERT), params[i:i + full])
            del params[:whole]
    i, rows = 0, len(params) // width
    while rows:
        n = 1 << (rows.bit_length() - 1)
        db.execute(_insert_sql(head, width, n), params[width * i:width * (i + n)])
        i, rows = i + n, rows - n


def insert_scalars(db: sqlite3.Connection, chunks: Iterable[list]) -> None:
    """Scalar rows as flat lists (series, step, wall, value, series, ...)."""
    insert_rows(db, "INSERT OR REPLACE INTO scalars", 4, chunks)


def write_failed(db: sqlite3.Connection, path, exc: sqlite3.Error) -> SessionError:
    """Roll back a failed write transaction and say what happened in one sentence."""
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # SQLite rolled back itself (a full disk can end the transaction)
    return SessionError(f"could not write to {path}: {exc}.")
