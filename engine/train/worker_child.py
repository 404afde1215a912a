"""The child side of the worker pipe (engine/worker.py is the parent side): build the trainer
from a job, obey the parent's commands between batches, report status, progress and commits."""
from __future__ import annotations

import math
import threading
import time
import traceback

from .callbacks import Callback
from .errors import TrainError


class _Channel:
    """Messages to the parent. A parent that went away must not crash the run's cleanup."""

    def __init__(self, conn):
        self.conn = conn
        self.parent_gone = False
        # a remote run's commits are sent from the session's writer thread (engine/remote/tap.py)
        self._lock = threading.Lock()

    def send(self, msg: dict) -> None:
        if self.parent_gone:
            return
        try:
            with self._lock:
                self.conn.send(msg)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.parent_gone = True

    def status(self, state: str, message: str = "", details: str = "") -> None:
        self.send({"kind": "status", "state": state, "message": message, "details": details})

    def log(self, text: str) -> None:
        self.send({"kind": "log", "text": text})

    def committed(self, step: int) -> None:
        self.send({"kind": "committed", "step": int(step)})


# The parent's commands are read at most this late while training runs: a look at the pipe
# is a system call, and the gate comes before every batch.
LOOK_EVERY_S = 0.005


class Controller(Callback):
    """Obeys commands and reports progress at the gate (before every batch)."""

    quiet_until = math.inf  # nothing to do at the end of a step

    def __init__(self, channel: _Channel, job: dict):
        self.ch = channel
        self.recorder = None
        self.probes = None  # the ProbeSet when recording: "set_probes" changes its rates
        self.paused = bool(job.get("start_paused"))
        self.pause_after_step = False
        self.interval = float(job.get("progress_interval", 0.1))
        self._last_progress = 0.0
        self._window = (time.perf_counter(), 0)  # (time, step) where the rate window starts
        self._rate = None
        self._announced = False
        self._looked = 0.0   # when the gate last read the parent's commands

    # -- commands ---------------------------------------------------------------------------
    def gate(self, trainer) -> None:
        now = time.perf_counter()
        if now - self._looked < LOOK_EVERY_S and not (self.paused or self.pause_after_step or trainer.pause_requested):
            return
        self._looked = now
        if now - self._last_progress >= self.interval and trainer.last_loss is not None:
            self.progress(trainer)
        self._drain(trainer, timeout=0.0)
        if trainer.pause_requested:  # a NaN loss: pause with the diagnosis
            trainer.pause_requested = False
            self._pause(trainer, self._last_nan)
        if self.pause_after_step:
            self.pause_after_step = False
            self._pause(trainer, f"Paused after one step (step {trainer.step}).")
        elif self.paused and not self._announced:
            self._pause(trainer, f"Paused at step {trainer.step}.")
        while self.paused and trainer.stop_reason is None:
            self._drain(trainer, timeout=0.25)

    _last_nan = "The loss became NaN or infinite."

    def _pause(self, trainer, message: str) -> None:
        self.paused, self._announced = True, True
        self.progress(trainer, force=True)
        trainer.event("pause", trainer.step, message)
        if self.probes is not None:
            self.probes.flush()  # captures and statistics still on their way, before the commit
        if self.recorder is not None:
            self.recorder.flush()
            self.recorder.commit(wait=True)
        self.ch.status("paused", message)

    def _resume(self, trainer, message: str) -> None:
        self.paused, self._announced = False, False
        self._window = (time.perf_counter(), trainer.step)
        trainer.event("resume", trainer.step, message)
        self.ch.status("running", message)

    def _drain(self, trainer, timeout: float) -> None:
        conn = self.ch.conn
        try:
            ready = conn.poll(timeout)
            while ready:
                self._obey(trainer, conn.recv())
                ready = conn.poll()
        except (EOFError, OSError):  # the parent is gone: nobody to train for
            self.ch.parent_gone = True
            trainer.request_stop()

    def _obey(self, trainer, msg: dict) -> None:
        cmd = msg.get("cmd")
        try:
            if cmd == "pause" and not self.paused:
                self._pause(trainer, f"Paused at step {trainer.step}.")
            elif cmd == "resume" and self.paused:
                self._resume(trainer, f"Resumed at step {trainer.step}.")
            elif cmd == "step":
                if self.paused:
                    self._resume(trainer, f"One step from step {trainer.step}.")
                self.pause_after_step = True
            elif cmd == "stop":
                trainer.request_stop()
                self.paused = False
            elif cmd == "set_lr":
                trainer.set_lr(msg["value"])
                self.ch.log(f"Learning rate set to {trainer.lr:.4g}.")
                self.progress(trainer, force=True)
            elif cmd == "set_clipping":
                trainer.set_clipping(msg.get("norm"), msg.get("value"))
                self.ch.log(f"Gradient clipping: norm {msg.get('norm')}, value {msg.get('value')}.")
            elif cmd == "set_probes":
                self._set_probes(trainer, msg.get("changes") or {})
            elif cmd == "checkpoint_now":
                if self.recorder is None:
                    self.ch.log("No session is being recorded, so there is nowhere to save a checkpoint.")
                else:
                    self.recorder.checkpoint(trainer)
                    self.recorder.commit(wait=True)
                    self.ch.log(f"Checkpoint saved at step {trainer.step}.")
            else:
                self.ch.log(f"Unknown command {cmd!r} ignored.")
        except TrainError as exc:
            self.ch.log(str(exc))

    def _set_probes(self, trainer, changes: dict) -> None:
        if self.probes is None:
            self.ch.log("No session is being recorded, so there are no probes to configure.")
            return
        from ..probes.settings import ProbeSettingsError
        try:
            settings = self.probes.configure(**changes)
        except ProbeSettingsError as exc:
            self.ch.log(f"Probe rates unchanged: {exc}.")
            return
        trainer.event("probes", trainer.step, "Probe rates changed.", dict(changes))
        self.ch.send({"kind": "probes", "step": trainer.step, "settings": settings})

    # -- reports ----------------------------------------------------------------------------
    def on_event(self, kind, step, message="", data=None) -> None:
        if kind == "nan":
            self._last_nan = message

    def on_validation(self, trainer, step: int, metrics: dict) -> None:
        self.ch.send({"kind": "validation", "step": step, "loss": metrics["loss"],
                      "accuracy": metrics.get("accuracy")})

    def progress(self, trainer, force: bool = False) -> None:
        now = time.perf_counter()
        t0, s0 = self._window
        if trainer.step > s0 and now > t0:
            self._rate = (trainer.step - s0) * trainer.batch_size / (now - t0)
            if now - t0 > 2.0:  # a sliding window of about two seconds
                self._window = (now, trainer.step)
        steps_left = trainer.total_steps - trainer.step
        eta = steps_left * trainer.batch_size / self._rate if self._rate else None
        self._last_progress = now
        self.ch.send({"kind": "progress", "step": trainer.step, "epoch": trainer.epoch,
                      "steps_total": trainer.total_steps, "loss": trainer.last_loss,
                      "lr": trainer.lr, "samples_per_s": self._rate, "eta_s": eta,
                      "device": str(trainer.device)})


def run_job(conn, job: dict) -> None:
    ch = _Channel(conn)
    ch.status("starting", "Preparing the run.")
    recorder = None
    try:
        from ..graph.document import GraphDocument
        from .trainer import Trainer
        doc = GraphDocument.from_dict(job["graph"])
        fork = None
        if job.get("fork"):  # {"path", "step"}: start from a recorded checkpoint
            from .fork import load_fork
            fork = load_fork(job["fork"]["path"], job["fork"].get("step"))
        controller = Controller(ch, job)
        from .device import configure_threads
        from .settings import resolve_settings
        settings = resolve_settings(doc.training, job.get("overrides"))
        configure_threads(settings["threads"])
        from ..data.paths import DataAccess
        from ..graph.footprint import check_training_memory
        check_training_memory(doc, settings)  # before the trainer allocates the weights
        # data is read only inside job["base_dir"] (the graph file's folder) and job["data_dirs"]
        trainer = Trainer(doc, dataset=job.get("dataset"), overrides=job.get("overrides"),
                          callbacks=[controller], nan_policy="pause", gate=controller.gate,
                          base_dir=DataAccess.from_job(job))
        if fork is not None:
            fork.apply(trainer)
        if job.get("record"):
            from .recorder import SessionRecorder, open_writer
            writer = open_writer(job["record"], doc, trainer.settings, trainer.dataset.info,
                                 parent=fork.parent if fork is not None else None)
            if job.get("stream"):  # a remote engine's run: its commits go to the clients too
                from ..remote.tap import stream_commits
                stream_commits(writer, ch.send)
            recorder = SessionRecorder(writer, on_commit=ch.committed, background=True)
            trainer.callbacks.insert(0, recorder)
            from ..probes import ProbeSet, ProbeSettings  # what the views show
            controller.probes = ProbeSet(writer, ProbeSettings(**job.get("probes", {})),
                                         basic_scalars=False)
            controller.probes.on_capture_mode = lambda mode, message: ch.send(
                {"kind": "capture_mode", "mode": mode, "message": message})
            trainer.callbacks.insert(1, controller.probes)
            controller.recorder = recorder
            if fork is not None:
                fork.record_start(recorder, trainer)
        if not controller.paused:
            ch.status("running", f"Training on {trainer.device.type}.")
        summary = trainer.run()
        controller.progress(trainer, force=True)
        ch.status(summary["status"], summary["message"])
        ch.send({"kind": "summary", **summary})
    except Exception as exc:  # every failure reaches the parent as one sentence + details
        from .trainer import _is_oom, oom_message
        if _is_oom(exc):
            device = (job.get("overrides") or {}).get("device")
            message = oom_message(None if device in (None, "auto") else device, None)
        else:
            message = str(exc) if _is_ours(exc) else f"Training failed: {type(exc).__name__}: {exc}"
        if recorder is not None:
            try:
                recorder.writer.event("failure", 0, message, {"details": traceback.format_exc()})
                recorder.commit(wait=True)
            except Exception:
                pass
        ch.status("failed", message, traceback.format_exc())
    finally:
        if recorder is not None:
            try:
                recorder.close()
            except Exception:
                pass
        try:
            conn.close()
        except OSError:
            pass


def _is_ours(exc: BaseException) -> bool:
    """Our error types carry a user-facing sentence; anything else is a bug or torch's."""
    names = {c.__name__ for c in type(exc).__mro__}
    return bool(names & {"TrainError", "GraphError", "DataError", "SessionError", "ProbeSettingsError"})
