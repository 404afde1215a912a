"""What a session file may make a reader spend: memory per record and per file, time per
query. Every limit is checked before the work or the allocation it bounds (documented in
docs/session-format.md, "Limits"). A reader can be given other values
(``SessionReader(path, memory_limit=..., query_seconds=...)``)."""
from __future__ import annotations

MAX_RECORD_BYTES = 1 << 30      # one decoded array record: 1 GiB
MAX_FILE_BYTES = 2 << 30        # everything one open file has handed out and is still alive,
                                # plus the rows of the query being read: 2 GiB
QUERY_SECONDS = 10.0            # one read (a query and its rows); SQLite is interrupted past it
MAX_VALUE_BYTES = 64 << 20      # any single text or blob SQLite builds as a value (bigger
                                # array records are streamed from the file instead)
MAX_JSON_BYTES = 16 << 20       # one JSON value: a meta entry, event data, an optimizer tree
MAX_META_BYTES = 32 << 20       # all of the meta table's JSON together (parsed at opening)
MAX_DIMS = 32                   # numpy's own limit is 64; nothing we record comes close
