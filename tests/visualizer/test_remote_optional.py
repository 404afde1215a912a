"""pyzmq is an optional extra ([remote]): without it the window and the engine still work,
and asking for the remote engine is one sentence."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_pyzmq_the_window_loads_and_serve_says_what_to_install(monkeypatch, capsys):
    code = ("import sys; sys.modules['zmq'] = None\n"
            "import visualizer.window_run, visualizer.run.remote_controller, engine.worker\n"
            "from engine.cli import main\n"
            "sys.exit(main(['serve']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "The engine server needs pyzmq: pip install 'neurostudio[remote]'."
