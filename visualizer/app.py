"""Entry point: ``python -m visualizer [FILE] [--screenshot OUT.png]`` and ``neurostudio``."""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv):
    p = argparse.ArgumentParser(prog="neurostudio", description="Neurostudio: build a network, "
                                "train it, watch it learn.")
    p.add_argument("file", nargs="?", help="a graph document (.json) or a recorded run (.session) to open")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the settled main window to a PNG and exit")
    p.add_argument("--size", default="1440x900", help="window size for --screenshot (default 1440x900)")
    p.add_argument("--theme", choices=("light", "dark"), help="colour theme (remembered)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    headless = (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
                and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        if not args.screenshot:
            print("Neurostudio needs a display: no DISPLAY or WAYLAND_DISPLAY is set "
                  "(use --screenshot OUT.png to render without one).", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from . import heap, settings_store
    from .main_window import MainWindow
    from .theme import THEMES, apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Neurostudio")
    app.setOrganizationName("Neurostudio")
    heap.collect_on_gui_thread()
    if args.theme:
        settings_store.set_theme_name(args.theme)
    apply_theme(app, THEMES[settings_store.theme_name()])
    from .dialogs import HeadlessDialogs

    window = MainWindow(dialogs=HeadlessDialogs() if args.screenshot else None,
                        restore_layout=not args.screenshot)
    if args.screenshot:
        return _screenshot(app, window, args)
    window.show()
    app.processEvents()  # the docks take their sizes, so the layout can fit the canvas
    heap.settle()  # before any document: a document closed later stays collectable
    if not (args.file and window.open_file(args.file)):
        window.open_default()
    window.offer_recovery()  # replaces what was opened only if the user says so
    return app.exec()


def _screenshot(app, window, args) -> int:
    from PySide6.QtCore import QEventLoop, QTimer

    w, _, h = args.size.partition("x")
    window.show()
    app.processEvents()
    # After show: before it, Qt sizes a hidden main window as if no docks were tabbed.
    window.resize(int(w), int(h))
    app.processEvents()
    if args.file:
        if not window.open_file(args.file):
            return 1
    else:
        window.open_default()
    for _ in range(3):  # let docks settle their sizes, then fit the graph into the canvas
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()
        window.model.flush_analysis()
        window.zoom_to_fit()
    app.processEvents()
    ok = window.grab().save(args.screenshot)
    window.autosaver.discard()
    print(args.screenshot if ok else f"Could not write {args.screenshot}.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
