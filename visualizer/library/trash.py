"""Deleting a session moves it (with its -wal/-shm companions) into a .trash folder inside
the sessions folder; restoring moves it back to where it was. Nothing is erased."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

COMPANIONS = ("", "-wal", "-shm")


class TrashError(Exception):
    """One sentence naming the file and why it cannot be moved."""


@dataclass(frozen=True)
class Trashed:
    original: Path
    trashed: Path


def move_to_trash(path, sessions_folder) -> Trashed:
    path = Path(path)
    if not path.is_file():
        raise TrashError(f"{path} no longer exists.")
    trash = Path(sessions_folder) / ".trash"
    trash.mkdir(parents=True, exist_ok=True)
    target = trash / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"
    i = 2
    while target.exists():
        target = trash / f"{time.strftime('%Y%m%d-%H%M%S')}-{i}-{path.name}"
        i += 1
    _move_all(path, target)
    return Trashed(path, target)


def restore(item: Trashed) -> None:
    if item.original.exists():
        raise TrashError(f"{item.original} exists again, so the deleted run cannot be put back there.")
    if not item.trashed.is_file():
        raise TrashError(f"{item.trashed} is no longer in the trash.")
    item.original.parent.mkdir(parents=True, exist_ok=True)
    _move_all(item.trashed, item.original)


def _move_all(src: Path, dst: Path) -> None:
    try:
        for suffix in COMPANIONS:
            s = Path(str(src) + suffix)
            if s.exists():
                # os.replace within one disk; a run opened from another disk is copied over
                try:
                    os.replace(s, Path(str(dst) + suffix))
                except OSError:
                    import shutil
                    shutil.move(str(s), str(dst) + suffix)
    except OSError as exc:
        raise TrashError(f"{src} could not be moved ({exc.strerror or exc}).") from None
