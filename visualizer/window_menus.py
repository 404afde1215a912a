"""The main window's actions, menus and toolbar, in one table-like place."""
from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QSizePolicy, QWidget

from .theme import THEMES


def _action(w, text, slot, shortcut=None, tip=None) -> QAction:
    a = QAction(text, w)
    if shortcut is not None:
        a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
    if tip:
        a.setStatusTip(tip)
    a.triggered.connect(lambda *_: slot())
    return a


def build(w) -> dict[str, QAction]:
    K = QKeySequence
    stack = w.model.undo_stack
    undo = stack.createUndoAction(w, "&Undo")
    undo.setShortcut(K.Undo)
    redo = stack.createRedoAction(w, "&Redo")
    redo.setShortcuts([K(K.Redo), K("Ctrl+Y")] if K(K.Redo) != K("Ctrl+Y") else [K(K.Redo)])
    a = {
        "new": _action(w, "&New", w.new_document, K.New, "Start an empty graph"),
        "open": _action(w, "&Open…", w.open_dialog, K.Open, "Open a graph file"),
        "save": _action(w, "&Save", w.save, K.Save),
        "save_as": _action(w, "Save &As…", w.save_as, K.SaveAs if not K(K.SaveAs).isEmpty() else "Ctrl+Shift+S"),
        "quit": _action(w, "&Quit", w.close, K.Quit if not K(K.Quit).isEmpty() else "Ctrl+Q"),
        "undo": undo, "redo": redo,
        "cut": _action(w, "Cu&t", w.cut, K.Cut),
        "copy": _action(w, "&Copy", w.copy, K.Copy),
        "paste": _action(w, "&Paste", w.paste, K.Paste),
        "duplicate": _action(w, "D&uplicate", w.duplicate, "Ctrl+D"),
        "delete": _action(w, "&Delete", w.delete_selection, [K(K.Delete), K("Backspace")]),
        "select_all": _action(w, "Select &All", w.select_all, K.SelectAll),
        "zoom_fit": _action(w, "Zoom to &Fit", w.zoom_to_fit, "Ctrl+0"),
        "zoom_in": _action(w, "Zoom &In", lambda: w.view.set_zoom(w.view.zoom() * 1.25), K.ZoomIn),
        "zoom_out": _action(w, "Zoom &Out", lambda: w.view.set_zoom(w.view.zoom() / 1.25), K.ZoomOut),
        "layout": _action(w, "Auto &Layout", w.auto_layout, "Ctrl+L", "Arrange the graph left to right"),
        "train": _action(w, "▶  Train", w.start_training, "Ctrl+Return", "Train the network"),
    }
    a["save_as"].setShortcut(K("Ctrl+Shift+S"))
    for key in ("cut", "copy", "paste", "duplicate", "delete", "select_all"):
        # canvas-only: in a text field, Ctrl+C and Delete belong to the field
        a[key].setShortcutContext(a[key].shortcutContext().WidgetWithChildrenShortcut)
        w.view.addAction(a[key])

    bar = w.menuBar()
    w.file_menu = m = bar.addMenu("&File")
    for key in ("new", "open"):
        m.addAction(a[key])
    w.recent_menu = m.addMenu("Open &Recent")
    w.recent_menu.aboutToShow.connect(w.fill_recent_menu)
    m.addSeparator()
    m.addAction(a["save"])
    m.addAction(a["save_as"])
    m.addSeparator()
    m.addAction(a["quit"])
    m = bar.addMenu("&Edit")
    for key in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None, "select_all"):
        m.addSeparator() if key is None else m.addAction(a[key])
    m = bar.addMenu("&View")
    for key in ("zoom_in", "zoom_out", "zoom_fit", None, "layout"):
        m.addSeparator() if key is None else m.addAction(a[key])
    m.addSeparator()
    theme_menu = m.addMenu("&Theme")
    group = QActionGroup(w)
    for name in THEMES:
        t = QAction(name.capitalize(), w, checkable=True)
        t.setChecked(name == w.theme.name)
        t.triggered.connect(lambda _=False, n=name: w.set_theme(n))
        group.addAction(t)
        theme_menu.addAction(t)
        a[f"theme_{name}"] = t
    w.panels_menu = m.addMenu("&Panels")
    w.run_menu = m = bar.addMenu("&Run")
    m.addAction(a["train"])

    tb = w.addToolBar("Main")
    tb.setObjectName("toolbar_main")
    tb.setMovable(False)
    for key in ("new", "open", "save", None, "undo", "redo", None, "layout", "zoom_fit"):
        tb.addSeparator() if key is None else tb.addAction(a[key])
    grow = QWidget()
    grow.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    tb.addWidget(grow)
    tb.addAction(a["train"])
    w.train_button = tb.widgetForAction(a["train"])
    w.train_button.setObjectName("trainButton")
    return a
