"""The window and a remote engine on loopback: connected through Run > Connect to Engine…,
Train runs there and binds like a local run (its session is the local mirror, which the
views read); a cut link shows as "Disconnected" with one sentence, and the run carries on
when it is back; a wrong token is one sentence in the dialog; Watch Run binds a run the
engine already has."""
from __future__ import annotations

import pytest

pytest.importorskip("zmq")

from engine.session import SessionReader  # noqa: E402
from tests.engine.remote_helpers import TOKEN, CuttableRelay, ServerThread, session_rows  # noqa: E402
from visualizer.editor import edits  # noqa: E402
from visualizer.run.connect_dialog import open_connect_dialog  # noqa: E402
from visualizer.run.remote_controller import EngineAddress, RemoteRunController  # noqa: E402

WAIT = 90_000


@pytest.fixture
def server(tmp_path):
    s = ServerThread(tmp_path / "engine")
    yield s
    s.close()


def test_train_on_the_engine_binds_like_a_local_run(qtbot, window, server):
    relay = CuttableRelay(server.port)
    window.engine = EngineAddress(f"127.0.0.1:{relay.port}", TOKEN)
    try:
        window.open_template("playground_mlp")
        edits.set_training(window.model, "epochs", 100000)
        window.start_training()
        controller = window.controller
        assert isinstance(controller, RemoteRunController)
        assert window.state.binding.run is controller and window.session_mode == "live"
        controller.handle.link.LOST_S = 1.0
        qtbot.waitUntil(lambda: controller.state == "running" and window.reader is not None
                        and window.timeline.head >= 30, timeout=WAIT)
        assert window.session_path == controller.session_path  # the mirror, read like a local file

        relay.cut()
        qtbot.waitUntil(lambda: controller.state == "disconnected", timeout=WAIT)
        text = window.run_panel.state_label.status
        assert "Disconnected" in text and "Lost the connection to the engine" in text
        assert not window.run_panel.pause_btn.isEnabled()  # nothing to send commands to
        relay.restore()
        head = window.timeline.head
        qtbot.waitUntil(lambda: controller.state == "running" and window.timeline.head > head + 20, timeout=WAIT)

        window.run_panel.stop_btn.click()
        qtbot.waitUntil(lambda: controller.state == "stopped", timeout=WAIT)
        assert window.reader.last_step == window.timeline.head
        run_id = controller.handle.run_id
        assert session_rows(controller.session_path) == session_rows(server.run_path(run_id))
    finally:
        relay.close()


def test_connect_dialog_refuses_a_wrong_token_and_watches_a_run(qtbot, window, server, tmp_path):
    dialog = open_connect_dialog(window)
    dialog.address.setText(server.address)
    dialog.token.setText("wrong-" + TOKEN)
    dialog.connect_btn.click()
    qtbot.waitUntil(lambda: "refused" in dialog.note.text(), timeout=WAIT)
    assert dialog.note.text() == "The engine refused the connection: the token is wrong or missing."
    assert not dialog.train_btn.isEnabled()

    # a run the engine already has (started by another client)
    from engine.remote.remote_run import RemoteRun
    from engine.templates import load_template
    other = RemoteRun(server.address, TOKEN, tmp_path / "other.session")
    run_id = other.start(load_template("playground_mlp").to_dict(), "elsewhere",
                         overrides={"steps": 300, "device": "cpu"})
    qtbot.waitUntil(lambda: other.poll() is not None and other._known, timeout=WAIT)
    other.close()

    dialog.token.setText(TOKEN)
    dialog.connect_btn.click()
    qtbot.waitUntil(lambda: dialog.runs.count() == 1, timeout=WAIT)
    assert dialog.note.text().startswith("Connected to the engine at 127.0.0.1:")
    controller = dialog.watch_selected()
    assert isinstance(controller, RemoteRunController)
    assert window.controller is controller and window.state.binding.name == "elsewhere"
    assert window.model.doc.name == load_template("playground_mlp").name
    qtbot.waitUntil(lambda: controller.state == "finished", timeout=WAIT)
    with SessionReader(controller.session_path) as r:
        assert r.last_step == 300
    assert session_rows(controller.session_path) == session_rows(server.run_path(run_id))
    assert window.engine is None  # watching a run does not send Train there
