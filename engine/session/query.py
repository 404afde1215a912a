"""Bounded reading of a session file, under SessionReader's public methods: every query
under the file's deadline with its rows counted against the file's memory budget, array
records checked from their header before their bytes are read (small ones come with their
query, big ones are streamed from the file into their array), JSON size-checked before
it is parsed, values of the wrong type turned into SessionError sentences."""
from __future__ import annotations

import json
import sqlite3

import numpy as np

from . import records
from .budget import size_text
from .errors import SessionError
from .guard import translate
from .limits import MAX_JSON_BYTES

_INLINE_BYTES = 1 << 16   # records up to this size come with their query; bigger ones are
                          # streamed from the file into their array (never held twice)
JSON_GROWTH = 24          # parsed JSON can take ~24x its text ("[[],[],...]"), and is counted so
_ROW_FETCH = 1024
_SMALL_QUERY_BYTES = 1 << 20   # a query this small always runs, even with the budget spent


def record_columns(t: str = "") -> str:
    """The columns every array query ends with (see SessionReader._records); ``t``: a
    table alias with its dot."""
    return (f"{t}rowid, {t}dtype, {t}shape, {t}compression, typeof({t}data), length({t}data), "
            f"CASE WHEN length({t}data) <= {_INLINE_BYTES} THEN {t}data END")


RECORD = record_columns()
RECORD_WIDTH = 7


class BoundedQueries:
    """Mixed into SessionReader, which sets ``path``, ``_db``, ``_deadline`` and ``_budget``."""

    _depth = 0  # nesting of _begin/_end

    def _records(self, table: str, sql: str, params, label) -> list[tuple[tuple, np.ndarray]]:
        """Run ``sql``, whose last columns are ``RECORD``, and decode each row's array:
        [(the leading columns, array)]. Small records come with the query; big ones are
        streamed from the file, in one read transaction with the query that found them, so
        that a writer's commit in between cannot swap them."""
        rows = self._all(sql, params, sized=True)
        if any(row[-1] is None for row in rows) and not self._db.in_transaction:
            self._begin()
            try:
                return self._records(table, sql, params, label)
            finally:
                self._end()
        heads = []
        for row in rows:
            lead, fields = row[:-RECORD_WIDTH], row[-RECORD_WIDTH:]
            _rowid, dtype, shape, compression, kind, length, _inline = fields
            what = label(row)
            if kind != "blob":
                raise SessionError(f"{self.path}: {what} holds {kind} instead of bytes.")
            try:
                header = records.check_header(what, dtype, shape, compression, length)
            except SessionError as exc:
                raise SessionError(f"{self.path}: {exc}") from None
            heads.append((lead, what, header, fields))
        if heads:
            self._budget.check(sum(h[2][2] for h in heads),
                               heads[0][1] if len(heads) == 1 else f"{len(heads)} records")
        return [(lead, self._decode(table, what, fields, header)) for lead, what, header, fields in heads]

    def _decode(self, table: str, what: str, fields, header) -> np.ndarray:
        rowid, dtype, shape, compression, _kind, _length, inline = fields
        try:
            if inline is not None:
                return records.decode(what, dtype, shape, compression, inline, self._budget, header)
            try:
                with self._db.blobopen(table, "data", rowid, readonly=True) as blob:
                    return records.decode(what, dtype, shape, compression, blob, self._budget, header)
            except sqlite3.Error as exc:  # a damaged page met while streaming
                raise translate(exc, self.path, self._deadline) from None
        except SessionError as exc:
            text = str(exc)
            raise SessionError(text if text.startswith(str(self.path)) else f"{self.path}: {text}") from None

    def _begin(self) -> None:
        """One read transaction over several queries (nests: only the outermost counts)."""
        self._depth = getattr(self, "_depth", 0) + 1
        if self._depth == 1:
            try:
                self._db.execute("BEGIN")
            except sqlite3.Error as exc:
                self._depth = 0
                raise translate(exc, self.path, self._deadline) from None

    def _end(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._db.in_transaction:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                pass  # a read transaction has nothing to keep

    def _json(self, text, what: str, bad: str):
        if len(text) > MAX_JSON_BYTES:
            raise SessionError(f"{self.path}: {what} holds {size_text(len(text))} of JSON, more "
                               f"than the {size_text(MAX_JSON_BYTES)} a session needs.")
        self._budget.check(JSON_GROWTH * len(text), what)
        try:
            return json.loads(text)
        except (TypeError, ValueError, RecursionError):
            raise SessionError(bad) from None

    def _numbers(self, rows: list, width: int, what: str) -> np.ndarray:
        try:
            return np.array(rows, dtype=np.float64).reshape(len(rows), width)
        except (TypeError, ValueError, OverflowError):
            raise SessionError(f"{self.path}: {what} holds values that are not numbers.") from None

    def _steps(self, values: list, what: str) -> np.ndarray:
        try:
            return np.array(values, dtype=np.int64)
        except (TypeError, ValueError, OverflowError):
            raise SessionError(f"{self.path}: {what} holds steps that are not whole numbers.") from None

    def _step(self, value, what: str) -> int:
        if type(value) is not int:
            raise SessionError(f"{self.path}: {what} has a step that is not a whole number.")
        return value

    def _all(self, sql: str, params=(), sized: bool = False) -> list:
        """Every row of ``sql``, under the deadline; the rows count against the memory
        budget as they arrive (``sized``: their text and blobs too, not just their number)."""
        self._deadline.start()
        try:
            cursor = self._db.execute(sql, params)
            rows: list = []
            cost = 0
            while True:
                chunk = cursor.fetchmany(_ROW_FETCH)
                if not chunk:
                    return rows
                cost += len(chunk) * (40 + 40 * len(chunk[0]))
                if sized:
                    cost += sum(len(v) for r in chunk for v in r if isinstance(v, (str, bytes)))
                if cost > _SMALL_QUERY_BYTES and self._budget.live + cost > self._budget.limit:
                    self._budget.check(cost, f"one query's {len(rows) + len(chunk)}+ rows")
                rows.extend(chunk)
        except sqlite3.Error as exc:
            raise translate(exc, self.path, self._deadline) from None
        except UnicodeDecodeError:  # Python's sqlite3 decodes TEXT as UTF-8
            raise SessionError(f"{self.path} is a damaged session (it holds text that is not "
                               f"UTF-8).") from None
        finally:
            self._deadline.stop()

    def _one(self, sql: str, params=(), sized: bool = False):
        rows = self._all(sql, params, sized)
        return rows[0] if rows else None
