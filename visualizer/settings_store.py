"""Where the app keeps its preferences (window layout, recent files, theme) and its
recovery files. NEUROSTUDIO_CONFIG_DIR and NEUROSTUDIO_DATA_DIR move them (tests point
them into a temporary folder so a user's real settings are never touched)."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

MAX_RECENT = 10


def settings() -> QSettings:
    folder = os.environ.get("NEUROSTUDIO_CONFIG_DIR")
    if folder:
        return QSettings(str(Path(folder) / "neurostudio.ini"), QSettings.IniFormat)
    return QSettings(QSettings.IniFormat, QSettings.UserScope, "Neurostudio", "Neurostudio")


def data_dir() -> Path:
    folder = os.environ.get("NEUROSTUDIO_DATA_DIR") or QStandardPaths.writableLocation(
        QStandardPaths.AppDataLocation) or str(Path.home() / ".neurostudio")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def recent_files() -> list[str]:
    value = settings().value("recent_files", [])
    if isinstance(value, str):  # QSettings gives a lone string for a one-entry list
        value = [value]
    return [v for v in (value or []) if isinstance(v, str)]


def add_recent(path: str) -> list[str]:
    path = str(Path(path).resolve())
    files = [path] + [p for p in recent_files() if p != path]
    settings().setValue("recent_files", files[:MAX_RECENT])
    return files[:MAX_RECENT]


def clear_recent() -> None:
    settings().setValue("recent_files", [])


def theme_name() -> str:
    value = settings().value("theme", "light")
    return value if value in ("light", "dark") else "light"


def set_theme_name(name: str) -> None:
    settings().setValue("theme", name)


def save_window(geometry, state) -> None:
    s = settings()
    s.setValue("window/geometry", geometry)
    s.setValue("window/state", state)


def window_state():
    s = settings()
    return s.value("window/geometry"), s.value("window/state")
