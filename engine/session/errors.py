"""The one error type of the session store."""
from __future__ import annotations


class SessionError(Exception):
    """A session file is missing, damaged, hostile or misused.

    ``str(err)`` is one sentence that names the file (or the record) and the problem, fit
    to show a user as is.
    """
