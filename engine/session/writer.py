"""SessionWriter: the engine worker's append-only recorder.

Calls only buffer rows in memory; :meth:`SessionWriter.commit` writes them all in one
transaction (a few statements per table). The worker commits every ~0.2 s, then tells the GUI
"records up to step N are committed"; a reader never sees half a commit.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from itertools import chain, repeat
from pathlib import Path

import numpy as np

from . import records, tree
from .errors import SessionError
from .schema import APPLICATION_ID, FORMAT_NAME, FORMAT_VERSION, RESERVED_META, SCHEMA
from .transaction import BackgroundWriter, Batch, LaterScalars, ScalarBlock, insert_rows, insert_scalars, write_failed


class SessionWriter:
    """Create a session file at ``path`` and append records to it.

    ``graph`` is the graph document dict the run started from, ``settings`` the training
    settings, ``dataset_info`` a JSON-able description of the data, ``parent`` for forks
    ``{"path": str, "step": int}``. An existing file is refused unless ``overwrite=True``.

    Steps are ints >= 0. ``wall`` times are seconds since the epoch (default: now).
    Nothing is visible to readers until :meth:`commit`. Not thread-safe: one thread writes.
    """

    def __init__(self, path, graph: dict, settings: dict, dataset_info: dict | None = None,
                 parent: dict | None = None, overwrite: bool = False):
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise SessionError(f"{self.path} already exists; refusing to overwrite it.")
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "created": time.time(),
                "graph": graph, "settings": settings, "dataset_info": dataset_info,
                "parent": parent, "last_step": -1}
        rows = [(k, self._json(k, v)) for k, v in meta.items()]
        try:  # a read-only folder or a full disk: one sentence, not sqlite's exception
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            # Built under a temporary name and renamed into place: a kill during creation
            # never leaves a half-made file that claims to be a session.
            tmp = self.path.with_name(self.path.name + ".creating")
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(tmp) + suffix).unlink(missing_ok=True)
            db = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                # 16 KiB pages: tensor blobs span 4x fewer overflow pages (measured ~1.3x
                # faster writes and reads than 4 KiB); 64 KiB would bloat small commits.
                # Set first: WAL mode freezes the page size.
                db.execute("PRAGMA page_size=16384")
                # WAL is switched on here, not after the rename: the switch itself goes through
                # a rollback journal, and a kill in it would leave a hot journal that a
                # read-only reader cannot roll back.
                db.execute("PRAGMA journal_mode=WAL").fetchall()
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={FORMAT_VERSION}")
                db.execute("BEGIN")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.executemany("INSERT INTO meta VALUES (?, ?)", rows)
                db.execute("COMMIT")
            finally:
                db.close()
            os.replace(tmp, self.path)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            # NORMAL in WAL mode: a process kill loses nothing committed; only a power cut can
            # lose the last few commits, and the file still opens.
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as exc:
            raise SessionError(f"could not create {self.path}: {getattr(exc, 'strerror', None) or exc}.") from None
        self._ids: dict[tuple[str, str], int] = {}
        self._id_rows: dict[tuple[str, ...], list[int]] = {}  # scalars' names -> series ids
        self._new_series: list[tuple[int, str, str]] = []
        self._scalars: list[tuple] = []       # (series, step, wall, value) rows since the last part
        self._scalar_parts: list = []         # earlier scalars, in order: lists of rows, ScalarBlocks, LaterScalars
        self._tensors: list[tuple] = []
        self._events: list[tuple] = []
        self._checkpoints: list[tuple] = []
        self._checkpoint_tensors: list[tuple] = []
        self._dropped: list[int] = []  # checkpoint steps to delete at the next commit
        self._probe: list[tuple] = []
        self._meta: dict[str, str] = {}
        self._max_step = -1
        self._sent_step = -1          # the largest step handed to a transaction
        self._committed_step = -1
        self._closed = False
        self._background: BackgroundWriter | None = None
        self._background_error: SessionError | None = None
        self._background_failed: Batch | None = None
        #: called with the rows of each transaction right after it is written (a dict of
        #: table -> rows, see :meth:`.transaction.Batch.table_rows`), on the thread that wrote them, one
        #: transaction at a time: a remote engine streams them to its clients' mirrors
        #: (engine/remote/). It must not keep the lists.
        self.tap = None

    # -- records ---------------------------------------------------------------------
    def scalar(self, name: str, step: int, value: float, wall: float | None = None) -> None:
        """One value of the series ``name`` at ``step`` (NaN and inf are kept).
        Writing the same name and step again replaces the value."""
        sid = self._ids.get(("scalar", name)) or self._series("scalar", name)
        step = self._step(step)
        self._scalars.append((sid, step, time.time() if wall is None else wall, float(value)))

    def scalars(self, step: int, values: dict[str, float], wall: float | None = None) -> None:
        """Many series at one step in one call (the probes write dozens per step)."""
        step = self._step(step)
        wall = time.time() if wall is None else wall
        ids = self._scalar_ids(tuple(values))
        self._scalars.extend(zip(ids, repeat(step), repeat(wall), map(float, values.values())))

    def scalar_rows(self, names: list[str], rows, walls=None) -> None:
        """Many steps of the same series: ``rows`` of [step, one value per name] (a list of
        rows or a 2-D float array). ``walls``: one time for all rows or one per row (default:
        now). The rows are kept as one array and turned into table rows by the transaction
        that writes them, on the writer thread where it runs: a recorder that buffers its
        steps, or the probes' helper, hands over thousands of values in one call."""
        try:
            values = np.array(rows, dtype=np.float64)  # a copy: the caller may reuse its array
        except (TypeError, ValueError) as exc:
            raise SessionError(f"scalar rows for {len(names)} names are not a table of numbers ({exc}).") from None
        if values.size == 0:
            return
        if values.ndim != 2 or values.shape[1] != len(names) + 1:
            raise SessionError(f"scalar rows of shape {values.shape} do not fit {len(names)} names "
                               f"(each row is a step and one value per name).")
        # Few numpy calls: the probes call this from the training loop, where each costs
        # several times what it does in a micro-benchmark.
        for step in values[:, 0].tolist():
            if not 0 <= step < 2 ** 53 or step != int(step):
                raise SessionError(f"step {step:g} is not an int >= 0.")
        if walls is None or np.ndim(walls) == 0:
            walls = time.time() if walls is None else float(walls)
        else:
            walls = np.asarray(walls, dtype=np.float64)
            if walls.shape != (len(values),):
                raise SessionError(f"{walls.size} wall times for {len(values)} scalar rows.")
        ids = self._scalar_ids(tuple(names))  # a bad name is refused before anything changes
        self._max_step = max(self._max_step, int(values[:, 0].max()))
        if not names:
            return
        self._add_part(ScalarBlock(ids, values, walls))

    def scalars_later(self, step: int, names, compute, wall: float | None = None) -> None:
        """Many series at one step, whose values ``compute()`` returns (one number per name)
        when the transaction that writes them runs: on the writer thread when it commits in
        the background. For values read from tensors a training step is done with (a
        batch's accuracy, a norm), which the loop then does not compute. ``compute`` must
        not depend on anything that changes after this call."""
        step = self._step(step)
        ids = self._scalar_ids(tuple(names))
        self._add_part(LaterScalars(tuple(names), ids, step, time.time() if wall is None else wall, compute))

    def _add_part(self, part) -> None:
        if self._scalars:  # the order of writes decides which of two values at a step stays
            self._scalar_parts.append(self._scalars)
            self._scalars = []
        self._scalar_parts.append(part)

    def encoded_tensor(self, name: str, step: int, row: tuple, wall: float | None = None) -> None:
        """An array record already encoded by ``records.encode`` (dtype name, shape JSON,
        compression, bytes) and its header checked (``records.check_header``), e.g. by the
        capture helper process, whose frames ``engine.probes.protocol.read_frame`` checks."""
        dtype, shape, compression, data = row
        sid = self._ids.get(("tensor", name)) or self._series("tensor", name)
        step = self._step(step)
        self._tensors.append((sid, step, time.time() if wall is None else wall, dtype, shape,
                              compression, data))

    def tensor(self, name: str, step: int, array, compress: bool | None = None,
               wall: float | None = None) -> None:
        """An array record (copied now, so the caller may reuse ``array``).
        ``compress=None`` compresses with zlib only when a sample shows it pays."""
        sid = self._ids.get(("tensor", name)) or self._series("tensor", name)
        step = self._step(step)
        enc = records.encode(array, compress, f"tensor record {name!r} at step {step}")
        self._tensors.append((sid, step, time.time() if wall is None else wall, *enc))

    def event(self, kind: str, step: int, message: str = "", data: dict | None = None,
              wall: float | None = None) -> None:
        """Something that happened: kind is e.g. start, pause, resume, lr_change, nan,
        finish, failure, stop, checkpoint; ``data`` is any JSON-able value."""
        if not isinstance(kind, str) or not kind:
            raise SessionError(f"event kind {kind!r} is not a non-empty string.")
        step = self._step(step)
        payload = None if data is None else self._json(f"event {kind!r} data", data)
        self._events.append((step, time.time() if wall is None else wall, kind, str(message), payload))

    def checkpoint(self, step: int, weights: dict, optimizer: dict | None = None) -> None:
        """Weights (name -> numpy array, e.g. a state dict converted with .numpy()) and
        optionally the optimizer state (nested dicts/lists of arrays, numbers, strings;
        int keys and 0-d arrays survive, tuples come back as lists)."""
        step = self._step(step)
        rows = []
        for name, arr in weights.items():
            rows.append((step, "weights", str(name),
                         *records.encode(arr, None, f"checkpoint weight {name!r} at step {step}")))
        opt_json = None
        if optimizer is not None:
            arrays: list = []
            flat = tree.flatten(optimizer, arrays)
            opt_json = self._json("optimizer state", flat)
            for i, arr in enumerate(arrays):
                rows.append((step, "optimizer", str(i),
                             *records.encode(arr, None, f"optimizer array {i} at step {step}")))
        # a second checkpoint at the same step (before a commit) replaces the first
        self._checkpoints = [c for c in self._checkpoints if c[0] != step]
        self._checkpoint_tensors = [r for r in self._checkpoint_tensors if r[0] != step]
        self._checkpoints.append((step, time.time(), opt_json))
        self._checkpoint_tensors.extend(rows)
        if step in self._dropped:
            self._dropped.remove(step)

    def drop_checkpoint(self, step: int) -> None:
        """Remove the checkpoint at ``step`` (a keep-last-K policy), at the next commit."""
        step = self._step(step)
        self._checkpoints = [c for c in self._checkpoints if c[0] != step]
        self._checkpoint_tensors = [r for r in self._checkpoint_tensors if r[0] != step]
        self._dropped.append(step)

    def probe_batch(self, x, y) -> None:
        """The fixed inputs (and targets) heavy probes are computed on; stored once
        (a second call replaces it)."""
        self._probe = [("x", *records.encode(x, None, "probe batch 'x'")),
                       ("y", *records.encode(y, None, "probe batch 'y'"))]

    def set_meta(self, key: str, value) -> None:
        """A user-level meta value (title, notes, ...): any JSON-able value."""
        if not isinstance(key, str) or not key or key in RESERVED_META:
            raise SessionError(f"meta key {key!r} is reserved or empty; pick another name.")
        self._meta[key] = self._json(f"meta {key!r}", value)

    # -- transactions ----------------------------------------------------------------
    def commit(self) -> int:
        """Write everything buffered in one transaction; return the last committed step
        (-1 while no step has been written). Cheap when nothing is pending. With
        :meth:`commit_in_background` on, the transaction runs on a writer thread (SQLite
        releases the GIL while it writes) and the step returned is that of the last
        transaction that has completed; a failure there is raised by the next call."""
        if self._closed:
            raise SessionError(f"{self.path} is closed; nothing more can be written.")
        self._raise_background_error()
        if not self._pending():
            return self._committed_step
        if self._background is not None:
            if not self._background.busy:  # else keep buffering until that one is done
                self._background.start(self._take())
            return self._committed_step
        self._write_or_restore(self._take())
        return self._committed_step

    def commit_in_background(self) -> None:
        """Run later transactions on a writer thread, so that big capture rows do not
        stall the training loop; :meth:`flush` (and close) wait for it."""
        if self._background is None:
            self._background = BackgroundWriter(self)

    def flush(self) -> int:
        """Everything buffered so far committed (waiting for a background transaction)."""
        if self._background is not None:
            self._background.wait()
        self._raise_background_error()
        if self._pending():
            self._write_or_restore(self._take())
        return self._committed_step

    def _take(self) -> "Batch":
        parts = self._scalar_parts + [self._scalars] if self._scalars else self._scalar_parts
        b = Batch(self._new_series, parts, self._tensors, self._events, self._dropped,
                   self._checkpoints, self._checkpoint_tensors, self._probe, self._meta, self._max_step)
        self._new_series, self._scalars, self._tensors, self._events = [], [], [], []
        self._scalar_parts = []
        self._dropped, self._checkpoints, self._checkpoint_tensors, self._probe = [], [], [], []
        self._meta = {}
        self._sent_step = self._max_step
        return b

    def _write(self, b: "Batch") -> None:
        db = self._db
        b.evaluate_later()
        try:
            db.execute("BEGIN")
            # the ids the events will get (one larger than the largest), for a tap's mirror
            first_event = (db.execute("SELECT ifnull(max(id), 0) + 1 FROM events").fetchone()[0]
                           if self.tap is not None and b.events else 1)
            db.executemany("INSERT INTO series VALUES (?, ?, ?)", b.new_series)
            insert_scalars(db, b.scalar_params(512))
            if b.tensors:  # captures: a statement per row would give up the GIL every row
                insert_rows(db, "INSERT OR REPLACE INTO tensors (series, step, wall, dtype, shape, compression, "
                            "data)", 7, [list(chain.from_iterable(b.tensors))])
            db.executemany("INSERT INTO events (step, wall, kind, message, data) "
                           "VALUES (?, ?, ?, ?, ?)", b.events)
            for step in b.dropped:
                db.execute("DELETE FROM checkpoints WHERE step = ?", (step,))
                db.execute("DELETE FROM checkpoint_tensors WHERE step = ?", (step,))
            for step, *_ in b.checkpoints:
                db.execute("DELETE FROM checkpoint_tensors WHERE step = ?", (step,))
            db.executemany("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)", b.checkpoints)
            db.executemany("INSERT INTO checkpoint_tensors VALUES (?, ?, ?, ?, ?, ?, ?)",
                           b.checkpoint_tensors)
            db.executemany("INSERT OR REPLACE INTO probe VALUES (?, ?, ?, ?, ?)", b.probe)
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(b.meta.items()))
            db.execute("UPDATE meta SET value = ? WHERE key = 'last_step'", (str(b.max_step),))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise write_failed(db, self.path, exc) from None
        self._committed_step = max(self._committed_step, b.max_step)
        if self.tap is not None:
            self.tap(b.table_rows(first_event))

    def _write_or_restore(self, b: "Batch") -> None:
        try:
            self._write(b)
        except SessionError:
            self._restore(b)
            raise

    def _restore(self, b: "Batch") -> None:
        """A failed transaction's rows back in front of the buffers (nothing is lost)."""
        self._new_series[:0], self._scalar_parts[:0], self._tensors[:0] = b.new_series, b.scalars, b.tensors
        self._events[:0], self._dropped[:0] = b.events, b.dropped
        self._checkpoints[:0], self._checkpoint_tensors[:0], self._probe[:0] = \
            b.checkpoints, b.checkpoint_tensors, b.probe
        self._meta = {**b.meta, **self._meta}
        self._sent_step = self._committed_step

    def _raise_background_error(self) -> None:
        error, self._background_error = self._background_error, None
        if error is not None:
            failed, self._background_failed = self._background_failed, None
            if failed is not None:
                self._restore(failed)
            raise error

    def close(self) -> None:
        """Commit what is pending and close. The log is folded into the main file, so the
        .session file alone holds everything (SQLite deletes the -wal and -shm files
        when the last connection closes). The file stays in WAL mode: leaving it would go
        through a rollback journal, which a kill could leave hot for read-only readers."""
        if self._closed:
            return
        try:
            self.flush()
        finally:  # a commit that failed (a full disk) is not tried again; the file is closed
            if self._background is not None:
                self._background.stop()
            self._closed = True
            self._close_connection()

    def _close_connection(self) -> None:
        try:
            self._db.execute("PRAGMA busy_timeout=0")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass  # a reader is mid-read: the log stays, equally valid
        self._db.close()

    def __enter__(self) -> "SessionWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------
    def _pending(self) -> bool:
        return bool(self._new_series or self._scalars or self._scalar_parts or self._tensors or self._events
                    or self._checkpoints or self._dropped or self._probe or self._meta
                    or self._max_step != self._sent_step)

    def _scalar_ids(self, names: tuple[str, ...]) -> list[int]:
        """Series ids of scalar ``names``: the probes write the same names step after step,
        so a set of names is resolved once."""
        ids = self._id_rows.get(names)
        if ids is None:
            if len(self._id_rows) >= 256:
                self._id_rows.clear()
            ids = self._id_rows[names] = [self._ids.get(("scalar", n)) or self._series("scalar", n) for n in names]
        return ids

    def _series(self, kind: str, name: str) -> int:
        if not isinstance(name, str) or not name:
            raise SessionError(f"{kind} name {name!r} is not a non-empty string.")
        sid = len(self._ids) + 1
        self._ids[(kind, name)] = sid
        self._new_series.append((sid, kind, name))
        return sid

    def _step(self, step) -> int:
        if type(step) is not int:
            if not isinstance(step, (int, np.integer)) or isinstance(step, bool):
                raise SessionError(f"step {step!r} is not an int >= 0.")
            step = int(step)
        if step < 0:
            raise SessionError(f"step {step!r} is not an int >= 0.")
        if step > self._max_step:
            self._max_step = step
        return step

    @staticmethod
    def _json(what: str, value) -> str:
        try:
            return json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise SessionError(f"{what} is not JSON-able ({exc}).") from None
