"""The remote engine on loopback: `python -m engine serve` refuses a missing or wrong token;
a client trains a template there and its local mirror matches a local recording of the same
seed step for step (and the engine's own file row for row); a link cut mid-run, a client
that goes away and comes back, and a client too late for the engine's memory all end with
every committed record in the mirror exactly once."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("zmq")

from engine.remote.link import EngineLink, LinkError  # noqa: E402
from engine.remote.remote_run import RemoteRun  # noqa: E402
from engine.session import SessionReader  # noqa: E402
from engine.templates import load_template  # noqa: E402
from engine.worker import TERMINAL, WorkerHandle  # noqa: E402
from tests.engine.remote_helpers import (TOKEN, CuttableRelay, ServerThread, poll_until,  # noqa: E402
                                         session_rows)

ROOT = Path(__file__).resolve().parents[2]
PROBES = {"heavy_every": 10, "stats_every": 2, "capture_mode": "inline"}
TIMING = ("step_time", "samples_per_s")   # wall-clock series: never equal between two runs


@pytest.fixture
def server(tmp_path):
    s = ServerThread(tmp_path / "engine")
    yield s
    s.close()


def graph():
    return load_template("playground_mlp").to_dict()


def ended(run) -> bool:
    return run.state in TERMINAL


def test_serve_prints_a_token_and_refuses_clients_without_it(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runs-dir",
                             str(tmp_path / "runs")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert "127.0.0.1:" in first, first
        address = first.split(" on ")[1].split(";")[0]
        token = second.removeprefix("Token: ").strip()
        assert len(token) >= 32

        with pytest.raises(LinkError, match="refused the connection: the token is wrong or missing"):
            wrong = EngineLink(address, "not-" + token)
            try:
                wrong.hello(timeout=20)
            finally:
                wrong.close()
        import zmq  # a client that signs nothing at all
        sock = zmq.Context.instance().socket(zmq.DEALER)
        sock.connect(f"tcp://{address}")
        sock.send_multipart([b"", b'{"v": 1, "id": "a", "kind": "start", "graph": {}}'])
        assert sock.poll(20000), "no answer to an unsigned message"
        reply = sock.recv_multipart()
        sock.close(0)
        assert reply[0] == b"refused" and b"token is wrong or missing" in reply[1]

        right = EngineLink(address, token)
        welcome = right.hello(timeout=20)
        right.close()
        assert welcome["runs"] == []  # nothing the refused clients asked for was done
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert out.count("Refused a client") == 2, out
    assert proc.returncode == 0


def test_remote_mirror_matches_a_local_recording_step_for_step(tmp_path, server):
    overrides = {"steps": 40, "seed": 7, "device": "cpu", "val_every": 10}
    local = tmp_path / "local.session"
    handle = WorkerHandle({"graph": graph(), "overrides": overrides, "record": str(local), "probes": PROBES})
    handle.start()

    mirror = tmp_path / "mirror.session"
    run = RemoteRun(server.address, TOKEN, mirror)
    run.start(graph(), "mlp", overrides=overrides, probes=PROBES)
    seen = poll_until(run, ended, "end of the remote run")
    assert run.state == "finished", run.message
    kinds = [m["kind"] for m in seen]
    assert "committed" in kinds and "progress" in kinds and "validation" in kinds
    assert kinds.index("committed") < len(kinds) - 1  # committed while it ran, not only at the end

    deadline = time.monotonic() + 60
    while handle.poll() is not None and handle.state not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.05)
    handle.close()
    assert handle.state == "finished"

    # the mirror is the engine's file, row for row (walls included)
    assert session_rows(mirror) == session_rows(server.run_path(run.run_id))
    # and a recording of the same seed on this machine, value for value at every step
    with SessionReader(mirror) as m, SessionReader(local) as ref:
        assert m.last_step == ref.last_step == 40
        names = [n for n in ref.scalar_names() if n not in TIMING]
        assert set(m.scalar_names()) == set(ref.scalar_names())
        assert {"train/loss", "lr", "val/loss", "grad_norm"} <= set(names)
        for name in names:
            (s1, v1), (s2, v2) = m.scalar(name), ref.scalar(name)
            np.testing.assert_array_equal(s1, s2, err_msg=name)
            np.testing.assert_allclose(v1, v2, rtol=1e-6, atol=1e-7, equal_nan=True, err_msg=name)
        assert list(m.scalar("train/loss")[0]) == list(range(1, 41))  # every step, once
        assert set(m.tensor_names()) == set(ref.tensor_names()) and m.tensor_names()
        for name in ref.tensor_names():
            assert list(m.tensor_steps(name)) == list(ref.tensor_steps(name)), name
            for step in ref.tensor_steps(name):
                np.testing.assert_allclose(m.tensor(name, step)[1], ref.tensor(name, step)[1],
                                           rtol=1e-5, atol=1e-6, err_msg=f"{name} at {step}")
        assert [e.kind for e in m.events()] == [e.kind for e in ref.events()]
        assert list(m.checkpoint_steps()) == list(ref.checkpoint_steps()) == [40]
        w1, _ = m.checkpoint(40)
        w2, _ = ref.checkpoint(40)
        for key in w2:
            np.testing.assert_allclose(w1[key], w2[key], rtol=1e-6, atol=1e-7)


def test_a_cut_link_is_reported_and_resumes_with_nothing_lost_or_twice(tmp_path, server):
    relay = CuttableRelay(server.port)
    run = RemoteRun(f"127.0.0.1:{relay.port}", TOKEN, tmp_path / "mirror.session")
    run.link.LOST_S = 1.0
    try:
        run.start(graph(), "long", overrides={"steps": 100000, "seed": 3, "device": "cpu"}, probes=PROBES)
        seen = poll_until(run, lambda r: r.mirror is not None and r.mirror.last_step >= 20, "20 steps mirrored")
        relay.cut()
        at_cut = run.mirror.last_step
        seen = poll_until(run, lambda r: r.state == "disconnected", "the lost link reported", seen)
        lost = [m for m in seen if m["kind"] == "status" and m["state"] == "disconnected"][-1]
        assert "Lost the connection to the engine" in lost["message"]
        assert not run.pause()  # a command cannot reach the engine now, and says so
        time.sleep(1.0)  # the engine trains on meanwhile
        relay.restore()
        seen = poll_until(run, lambda r: r.state == "running" and r.mirror.last_step > at_cut + 20,
                          "the link back and the mirror catching up", seen)
        assert any(m["kind"] == "log" and "is back" in m["text"] for m in seen)
        assert run.stop()
        poll_until(run, ended, "the stopped run", seen)
    finally:
        run.close()
        relay.close()
    assert run.state == "stopped", run.message
    rows = session_rows(run.mirror_path)
    assert rows == session_rows(server.run_path(run.run_id))
    with SessionReader(run.mirror_path) as m:
        steps, _ = m.scalar("train/loss")
        assert list(steps) == list(range(1, m.last_step + 1)) and m.last_step > at_cut + 20
        assert sum(e.kind == "start" for e in m.events()) == 1


def test_a_client_that_left_and_a_late_one_get_every_record_from_the_file(tmp_path):
    # The engine keeps only the newest commit in memory: both clients need the file.
    server = ServerThread(tmp_path / "engine", ring_bytes=1)
    try:
        path = tmp_path / "mirror.session"
        first = RemoteRun(server.address, TOKEN, path)
        run_id = first.start(graph(), "mlp", overrides={"steps": 100000, "seed": 5, "device": "cpu"},
                             probes=PROBES)
        poll_until(first, lambda r: r.mirror is not None and r.mirror.last_step >= 10, "10 steps")
        first.close()  # the window closed; the run goes on
        engine_run = server.server.runs[run_id]
        deadline = time.monotonic() + 30
        while engine_run.last_seq < first.mirror.seq + 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # until the commit after the mirror's is gone from memory

        again = RemoteRun(server.address, TOKEN, path)  # a new window, the same mirror
        again.attach(run_id)
        assert again.mirror.seq == first.mirror.seq  # it resumes after the commits it holds
        poll_until(again, lambda r: r.state == "running" and r.mirror.last_step > 200, "the run watched again")
        assert again.stop()
        poll_until(again, ended, "the end of the run")
        assert again.state == "stopped", again.message
        assert again.received["snapshot"] > 0  # the commits it lacked were no longer in memory
        engine_rows = session_rows(server.run_path(run_id))
        assert session_rows(path) == engine_rows

        late = RemoteRun(server.address, TOKEN, tmp_path / "late.session")
        late.attach(run_id)
        poll_until(late, ended, "a late client's copy")
        assert session_rows(late.mirror_path) == engine_rows
        assert late.received["snapshot"] > 1 and late.received["rows"] == 0
        with SessionReader(late.mirror_path) as m:
            assert list(m.scalar("train/loss")[0]) == list(range(1, m.last_step + 1))
    finally:
        server.close()


def test_bad_addresses_and_a_silent_engine_are_one_sentence(tmp_path):
    with pytest.raises(LinkError, match="is not an engine address"):
        EngineLink("my-gpu-box", TOKEN)
    with pytest.raises(LinkError, match="needs its token"):
        EngineLink("127.0.0.1:7370", "")
    import socket
    with socket.socket() as s:  # a port nobody serves
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = RemoteRun(f"127.0.0.1:{port}", TOKEN, tmp_path / "m.session")
    run.link.LOST_S = 0.5
    run.start(graph(), "nobody")
    seen = poll_until(run, ended, "the failure", timeout=10)
    assert run.state == "failed"
    assert run.message.startswith("No answer from an engine at 127.0.0.1:")
    assert not os.path.exists(tmp_path / "m.session")
    assert [m["state"] for m in seen if m["kind"] == "status"] == ["failed"]


def test_garbled_messages_either_way_are_one_sentence(tmp_path, server):
    import sqlite3

    import zmq

    from engine.remote import protocol
    from engine.session import SessionWriter

    # a client that signs its requests but fills them with nonsense
    link = EngineLink(server.address, TOKEN)
    link.hello(timeout=20)
    for kind, fields in (("subscribe", {"run": "nope", "have": 0, "sub": 1}),
                         ("warp", {}), ("start", {"graph": "not a graph"})):
        link.send(kind, **fields)
        end, answer = time.monotonic() + 20, None
        while answer is None and time.monotonic() < end:
            answer = next((h for h, _ in link.receive(50)[0] if h["kind"] == "error"), None)
        assert answer is not None, kind
        assert answer["message"].startswith(f"The engine could not use a '{kind}' message: ")
    link.close()
    assert server.server.runs == {}

    # an "engine" that sends what is not signed, then a record whose bytes do not match it
    key = TOKEN.encode()
    fake = zmq.Context.instance().socket(zmq.ROUTER)
    port = fake.bind_to_random_port("tcp://127.0.0.1")
    run = RemoteRun(f"127.0.0.1:{port}", TOKEN, tmp_path / "m.session")
    run_id = run.start(graph(), "fake")
    assert fake.poll(20000)
    ident, *frames = fake.recv_multipart()
    request, _ = protocol.unpack(key, frames)
    assert request["kind"] == "start" and request["run"] == run_id
    SessionWriter(tmp_path / "model.session", graph(), {"steps": 1}).close()
    db = sqlite3.connect(tmp_path / "model.session")
    meta = dict(db.execute("SELECT key, value FROM meta"))
    db.close()
    table0, blobs0 = protocol.encode_rows({"meta": meta})
    bad = {"series": [(1, "tensor", "act")],
           "tensors": [(1, 1, 0.0, "float32", "[10, 10]", "none", b"x" * 12)]}
    table1, blobs1 = protocol.encode_rows(bad)
    sub = request["sub"]
    fake.send_multipart([ident, b"not-a-signature", b'{"v": 1, "id": "z", "kind": "rows"}'])
    for kind, blobs, fields in (("started", (), {"run": run_id, "sub": sub, "state": "running"}),
                                ("rows", blobs0, {"run": run_id, "sub": sub, "seq": 0, "table": table0}),
                                ("rows", blobs1, {"run": run_id, "sub": sub, "seq": 1, "table": table1})):
        fake.send_multipart([ident, *protocol.pack(key, kind, blobs, **fields)])
    seen = poll_until(run, ended, "the refused record", timeout=20)
    fake.close(0)
    logs = [m["text"] for m in seen if m["kind"] == "log"]
    assert any(t.startswith(f"The engine at 127.0.0.1:{port} sent a message that was ignored: a message "
                            f"was not signed with this token") for t in logs), logs
    assert run.state == "failed"
    assert run.message == (f"The mirror of run {run_id} stopped: tensor at step 1 says shape (10, 10) "
                           f"float32 = 400 bytes but holds 12."), run.message
    with SessionReader(tmp_path / "m.session") as m:  # what arrived before stays readable
        assert m.tensor_names() == []
