"""The main window's actions, menus and toolbar, in one table-like place."""
from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QSizePolicy, QWidget

from .panels.data_dialog import open_data_dialog
from .theme import THEMES

WORKSPACES = (("build", "Build", "Ctrl+1", "Assemble the network: palette, canvas, inspector, training settings"),
              ("watch", "Watch", "Ctrl+2", "Train and watch: the canvas with its live overlay and the views "
                                           "that fit the graph"),
              ("replay", "Replay", "Ctrl+3", "Replay, scrub and compare recorded sessions"))
PANELS = (("left", "&Side Panel (Layers, Templates, Sessions)"), ("right", "&Inspector Panel"),
          ("problems", "&Problems"), ("grid", "&Views"), ("run", "&Run Strip"), ("timeline", "&Timeline"))


def _action(w, text, slot, shortcut=None, tip=None) -> QAction:
    a = QAction(text, w)
    if shortcut is not None:
        a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    a.triggered.connect(lambda *_: slot())
    return a


def build(w) -> dict[str, QAction]:
    K = QKeySequence
    stack = w.model.undo_stack
    undo = stack.createUndoAction(w, "&Undo")
    undo.setShortcut(K.Undo)
    redo = stack.createRedoAction(w, "&Redo")
    redo.setShortcuts([K(K.Redo), K("Ctrl+Y")] if K(K.Redo) != K("Ctrl+Y") else [K(K.Redo)])
    for act, word in ((undo, "Undo"), (redo, "Redo")):  # the toolbar keeps one word; the menu names the edit
        act.setIconText(word)
    a = {
        "new": _action(w, "&New", w.new_document, K.New, "Start an empty graph"),
        "open": _action(w, "&Open…", w.open_dialog, K.Open, "Open a graph file or a recorded session"),
        "open_data": _action(w, "Open &Data…", lambda: open_data_dialog(w), None,
                             "Choose your own data file or image folder, see what it holds and fit the graph to it"),
        "save": _action(w, "&Save", w.save, K.Save, "Save the graph"),
        "save_as": _action(w, "Save &As…", w.save_as, "Ctrl+Shift+S"),
        "quit": _action(w, "&Quit", w.close, K.Quit if not K(K.Quit).isEmpty() else "Ctrl+Q"),
        "undo": undo, "redo": redo,
        "cut": _action(w, "Cu&t", w.cut, K.Cut),
        "copy": _action(w, "&Copy", w.copy, K.Copy),
        "paste": _action(w, "&Paste", w.paste, K.Paste),
        "duplicate": _action(w, "D&uplicate", w.duplicate, "Ctrl+D"),
        "delete": _action(w, "&Delete", w.delete_selection, [K(K.Delete), K("Backspace")]),
        "select_all": _action(w, "Select &All", w.select_all, K.SelectAll),
        "group": _action(w, "&Group into Block", w.group_selection, "Ctrl+G",
                         "Put the selected layers in a block of their own"),
        "ungroup": _action(w, "U&ngroup Block", w.ungroup_selection, "Ctrl+Shift+G",
                           "Dissolve the selected block: its layers stay where they are"),
        "rename_block": _action(w, "&Rename Block…", w.rename_selected_block, "F2"),
        "expand": _action(w, "&Open Block", lambda: w.fold_selection(False), "Ctrl+Shift+=",
                          "Show the layers inside the selected block (or double-click it)"),
        "collapse": _action(w, "&Fold Block", lambda: w.fold_selection(True), "Ctrl+Shift+-",
                            "Draw the selected block (or the block of the selected layer) as one box"),
        "find": _action(w, "&Find Layer…", w.focus_search, K.Find,
                        "Find a layer or block by id, type or name; it opens the blocks it is folded in"),
        "zoom_fit": _action(w, "Zoom to &Fit", w.zoom_to_fit, "Ctrl+0", "Fit the whole graph into the canvas"),
        "zoom_in": _action(w, "Zoom &In", lambda: w.view.set_zoom(w.view.zoom() * 1.25), K.ZoomIn),
        "zoom_out": _action(w, "Zoom &Out", lambda: w.view.set_zoom(w.view.zoom() / 1.25), K.ZoomOut),
        "layout": _action(w, "Auto &Layout", w.auto_layout, "Ctrl+L", "Arrange the graph left to right"),
        "train": _action(w, "▶  Train", w.start_training, "Ctrl+Return", "Train the network"),
        "presentation": _action(w, "&Presentation Mode", lambda: w.set_presentation(not w.presentation), "F5",
                                "Larger fonts in every panel, plot and on the canvas, for a projector"),
        "lock_layout": _action(w, "&Lock Layout", lambda: w.set_layout_locked(not w.grid.locked), None,
                               "Unlock to pop views out into windows of their own and change the grid"),
    }
    for key in ("presentation", "lock_layout"):
        a[key].setCheckable(True)
    for key in ("cut", "copy", "paste", "duplicate", "delete", "select_all", "group", "ungroup", "rename_block"):
        # canvas-only: in a text field, Ctrl+C and Delete belong to the field
        a[key].setShortcutContext(a[key].shortcutContext().WidgetWithChildrenShortcut)
        w.view.addAction(a[key])
    group = QActionGroup(w)
    for name, title, shortcut, tip in WORKSPACES:
        act = _action(w, title, lambda n=name: w.set_workspace(n), shortcut, f"{tip} ({shortcut})")
        act.setCheckable(True)
        group.addAction(act)
        a[f"workspace_{name}"] = act

    bar = w.menuBar()
    w.file_menu = m = bar.addMenu("&File")
    for key in ("new", "open", "open_data"):
        m.addAction(a[key])
    w.settings_panel.data_requested.connect(a["open_data"].trigger)
    w.recent_menu = m.addMenu("Open &Recent")
    w.recent_menu.aboutToShow.connect(w.fill_recent_menu)
    m.addSeparator()
    m.addAction(a["save"])
    m.addAction(a["save_as"])
    a["import_module"] = _action(w, "&Import PyTorch Module…", w.import_module_dialog, None,
                                 "Trace an nn.Module from a Python file into a new graph")
    m.addAction(a["import_module"])
    w.export_menu = m.addMenu("&Export")
    w.export_menu.aboutToShow.connect(w.fill_export_menu)
    m.addSeparator()
    m.addAction(a["quit"])
    m = bar.addMenu("&Edit")
    for key in ("undo", "redo", None, "cut", "copy", "paste", "duplicate", "delete", None, "select_all", "find",
                None, "group", "ungroup", "rename_block", "expand", "collapse"):
        m.addSeparator() if key is None else m.addAction(a[key])
    m = bar.addMenu("&View")
    for name, *_ in WORKSPACES:
        m.addAction(a[f"workspace_{name}"])
    m.addSeparator()
    for key in ("zoom_in", "zoom_out", "zoom_fit", None, "layout"):
        m.addSeparator() if key is None else m.addAction(a[key])
    m.addSeparator()
    w.panels_menu = m.addMenu("&Panels")
    w.panels_menu.aboutToShow.connect(lambda: _fill_panels(w))
    shapes = m.addMenu("&Grid of Views")
    a["grid_shape"] = shapes.menuAction()
    from .workbench.panes import SHAPES
    for label, (rows, cols) in SHAPES.items():
        shapes.addAction(label, lambda r=rows, c=cols: w.set_grid_shape(r, c))
    m.addAction(a["lock_layout"])
    m.addAction(a["presentation"])
    theme_menu = m.addMenu("&Theme")
    tgroup = QActionGroup(w)
    for name in THEMES:
        t = QAction(name.capitalize(), w, checkable=True)
        t.setChecked(name == w.theme.name)
        t.triggered.connect(lambda _=False, n=name: w.set_theme(n))
        tgroup.addAction(t)
        theme_menu.addAction(t)
        a[f"theme_{name}"] = t
    w.run_menu = m = bar.addMenu("&Run")
    m.addAction(a["train"])
    w.runs_menu = bar.addMenu("R&uns")
    w.runs_menu.aboutToShow.connect(w.fill_runs_menu)

    tb = w.addToolBar("Main")
    tb.setObjectName("toolbar_main")
    tb.setMovable(False)
    for key in ("new", "open", "save", None, "undo", "redo", None, "layout", "zoom_fit"):
        tb.addSeparator() if key is None else tb.addAction(a[key])
    for stretch in (True, False):
        grow = QWidget()
        grow.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        tb.addWidget(grow)
        if stretch:
            for name, *_ in WORKSPACES:
                tb.addAction(a[f"workspace_{name}"])
                tb.widgetForAction(a[f"workspace_{name}"]).setObjectName("workspaceButton")
    tb.addAction(a["train"])
    w.train_button = tb.widgetForAction(a["train"])
    w.train_button.setObjectName("trainButton")
    return a


def _fill_panels(w) -> None:
    menu = w.panels_menu
    menu.clear()
    parts = w.workbench.visible_parts(w.state.workspace)
    for part, title in PANELS:
        act = menu.addAction(title)
        act.setCheckable(True)
        act.setChecked(parts[part])
        act.triggered.connect(lambda checked, p=part: w.set_part_visible(p, checked))
