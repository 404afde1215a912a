"""Screenshots of the real window for docs/images/, taken under an X server.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py \
        --size 1280x720 --theme dark --out docs/images

For each scene it opens a template (or a recorded session), trains it for real where the
scene watches a run, and saves the whole window. Scenes: build (LeNet), watch_lenet,
watch_lstm (a^n b^n), watch_mlp (spiral), replay (the a^n b^n run, scrubbed back).
Preferences go to a temporary folder, so the user's own are never touched."""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCENES = {  # name: (template, workspace, node to follow, training steps)
    "build": ("lenet", "build", "c1", 0),
    "build_resnet": ("resnet", "build", None, 0),
    # blocks: ResNet-20 with its stages folded, with stage 1 open, and one of its basic
    # blocks open too (docs/user-guide.md)
    "blocks_collapsed": ("resnet", "build", None, 0),
    "blocks_stage": ("resnet", "build", "stage1", 0),
    "blocks_basic": ("resnet", "build", "s1b2_add", 0),
    "watch_lenet": ("lenet", "watch", "c1", 400),
    "watch_lstm": ("anbn_lstm", "watch", "lstm", 1500),
    "watch_mlp": ("playground_mlp", "watch", "fc2", 1500),
    "replay": ("anbn_lstm", "replay", "lstm", 1500),
    # the README's picture: the gates of the a^n b^n LSTM, following a unit that counts
    "readme": ("anbn_lstm", "watch", "lstm", 1500),
}


def wait(app, seconds: float, until=None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.02)


def show_counting_unit(window) -> None:
    """Gates in the first pane, following the unit whose cell state tracks n_a - n_b most
    closely; prints every unit's |r| for the README's caption."""
    import numpy as np

    from engine.lessons.measures import counter_correlation
    reader = window.reader
    _, c = reader.tensor("lstm/lstm/c", reader.last_step)
    r = counter_correlation(reader.probe_batch()[0], c)
    print("counter correlation |r| per unit:", " ".join(f"{u}:{v:.2f}" for u, v in enumerate(r)))
    window.set_grid_shape(1, 2)
    window.grid.set_views(["Gates", "Gradients through time"])
    window.views_by_title["Gates"].unit.setValue(int(np.argmax(r)))


def shot_app(theme: str):
    """The application in ``theme``, its preferences and data in a temporary folder (the
    user's own are never touched)."""
    tmp = tempfile.mkdtemp(prefix="neurostudio-shots-")
    os.environ["NEUROSTUDIO_CONFIG_DIR"] = os.path.join(tmp, "config")
    os.environ["NEUROSTUDIO_DATA_DIR"] = os.path.join(tmp, "data")
    from PySide6.QtWidgets import QApplication

    from visualizer import settings_store
    from visualizer.theme import THEMES, apply_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings_store.set_theme_name(theme)
    apply_theme(app, THEMES[theme])
    return app


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="1280x720")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--out", default=str(ROOT / "docs" / "images"))
    p.add_argument("--scenes", default=",".join(SCENES))
    p.add_argument("--presentation", action="store_true")
    args = p.parse_args()
    app = shot_app(args.theme)

    from visualizer.dialogs import HeadlessDialogs
    from visualizer.editor import edits
    from visualizer.main_window import MainWindow

    w, h = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recorded: dict[str, Path] = {}
    for scene in args.scenes.split(","):
        template, workspace, node, steps = SCENES[scene]
        window = MainWindow(dialogs=HeadlessDialogs(), restore_layout=False)
        window.show()
        window.setGeometry(0, 0, w, h)
        if args.presentation:
            window.set_presentation(True)
        wait(app, 0.5)
        if workspace == "replay":
            path = recorded.get(template)
            if path is None:
                print(f"{scene}: record the watch scene of {template} first", file=sys.stderr)
                continue
            window.open_file(str(path))
            wait(app, 0.5)
            window.scene.select_nodes([node])
            window.timeline.seek(int(window.timeline.head * 0.6))
        else:
            window.open_template(template)
            window.set_workspace(workspace)
            if node:
                window.scene.select_nodes([node])
            if steps:
                edits.set_training(window.model, "steps", steps)
                window.start_training()
                wait(app, 240, until=lambda: window.controller.state in ("finished", "failed", "stopped"))
                recorded[template] = window.session_path
        if scene == "readme":
            show_counting_unit(window)
        if scene in ("blocks_stage", "blocks_basic"):
            from visualizer.editor import block_edits
            block_edits.set_collapsed(window.model, "stage1", False)
            if scene == "blocks_basic":
                block_edits.set_collapsed(window.model, "s1b2", False)
            window.show_node(node)
        window.hub.render_now()
        wait(app, 1.0)
        window.zoom_to_fit()
        if scene == "blocks_basic":  # the open basic block, from its left, at a zoom where its layers read
            window.view.set_zoom(0.65)
            frame = window.scene.frame_items["s1b2"].rect_in_scene()
            half = window.view.viewport().width() / 2 / window.view.zoom()
            window.view.centerOn(frame.left() - 140 + half, frame.center().y() + 40)
        wait(app, 0.3)
        name = f"{scene}-{args.size}-{args.theme}{'-presentation' if args.presentation else ''}.png"
        if scene == "readme":
            name = "main-window.png"
        window.grab().save(str(out / name))
        print(out / name)
        window.model.undo_stack.setClean()
        window.close()
        window.deleteLater()
        wait(app, 0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
