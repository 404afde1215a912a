"""Screenshots of the binary weights view for docs/images/, in a real window under an X server.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots_binary.py \
        --size 1920x1080 --out docs/images

Trains the XNOR-Net template in the window and grabs it while the run is live (Watch
workspace, which opens the Binary weights view for a binary graph), trains its real-valued
twin, then opens both sessions in the Compare window on the Binary weights view (bconv2
beside its twin conv2), and shows the inspector's memory and compute claims for bconv2.
Preferences go to a temporary folder, so the user's own are never touched."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshots import shot_app, wait  # noqa: E402

STEPS = 300


def train(app, window, template: str, live_shot=None, at: int = 0):
    """Train ``template`` for STEPS steps in ``window``; call ``live_shot`` once step ``at``
    is committed (while the run goes on). Returns the session path."""
    from visualizer.editor import edits
    window.open_template(template)
    window.set_workspace("watch")
    edits.set_training(window.model, "steps", STEPS)
    window.start_training()
    if live_shot is not None:
        wait(app, 600, until=lambda: window.timeline.head >= at)
        window.hub.render_now()
        wait(app, 1.0)
        live_shot()
    wait(app, 900, until=lambda: window.controller.state in ("finished", "failed", "stopped"))
    return window.session_path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1920x1080")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = p.parse_args()
    app = shot_app(args.theme)

    from PySide6.QtCore import QCoreApplication, QEvent

    from visualizer.dialogs import HeadlessDialogs
    from visualizer.main_window import MainWindow
    from visualizer.replay.compare import CompareWindow
    from visualizer.views.binary import BinaryWeightsView

    w, h = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    window = MainWindow(dialogs=HeadlessDialogs(), restore_layout=False)
    window.show()
    window.setGeometry(0, 0, w, h)
    wait(app, 0.5)

    def shot(widget, name):
        path = out / name
        widget.grab().save(str(path))
        print(path, flush=True)

    def live():
        # Watch opened Binary weights first (workbench/fit.py); two panes give it room
        window.set_grid_shape(1, 2)
        window.grid.set_views(["Binary weights", "Curves"])
        window.scene.select_nodes(["bconv2"])
        window.hub.render_now()
        wait(app, 1.0)
        shot(window, f"binary-watch-live-{args.size}.png")

    xnor = train(app, window, "xnor_net", live, at=STEPS // 2)
    # the inspector's claims for the selected binary layer
    window.set_workspace("build")
    window.scene.select_nodes(["bconv2"])
    wait(app, 1.0)
    shot(window, f"binary-inspector-{args.size}.png")
    real = train(app, window, "real_net")
    window.model.undo_stack.setClean()

    cw = CompareWindow([xnor, real], dialogs=window.dialogs)
    cw.show()
    cw.setGeometry(0, 0, w, h)
    cw.set_view(BinaryWeightsView)
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)  # the previous view's columns
    cw.columns[1].select("conv2")  # the twin of bconv2 (ids differ between the twins)
    cw.timeline.seek(cw.timeline.head)
    wait(app, 0.5)
    cw.render_now()
    wait(app, 1.5)
    shot(cw, f"binary-compare-{args.size}.png")
    cw.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
