"""The main window's way in and out of the PyTorch world (engine/interop): the network on
the canvas as PyTorch code, ONNX or safetensors weights, and an nn.Module from a Python file
imported as a new graph document. Slow steps run off the GUI thread."""
from __future__ import annotations

import re
import time
from pathlib import Path

from engine.graph.errors import GraphError
from engine.interop.errors import InteropError
from engine.session import SessionError

from .background import run_in_background
from .state import OpenDocument

SUFFIX = {"pytorch": "py", "onnx": "onnx", "weights": "safetensors"}
WHAT = {"pytorch": "PyTorch code", "onnx": "ONNX", "weights": "weights"}


class InteropMixin:
    def network_weights(self):
        """The weights an export carries: the bound run's checkpoint at or before the shown
        step when it fits the graph on the canvas, else a fresh initialisation."""
        from engine.interop import weights as w
        if self.session_path is not None and self.reader is not None and self.reader.checkpoint_steps():
            try:
                _, found = w.session_weights(self.session_path, self.timeline.step)
                w.check_fit(self.model.doc, found)
                return found
            except (InteropError, SessionError, GraphError):
                pass  # the graph was edited since, or no checkpoint so early: fresh weights
        return w.fresh_weights(self.model.doc)

    def export_network(self, kind: str, path: str | None = None) -> bool:
        """The graph as "pytorch" (a .py file, with its weights beside it as safetensors),
        "onnx" (checked with onnxruntime) or "weights" (safetensors, named as in the code)."""
        from engine.graph.data_check import DataProblem
        blocking = [p for p in self.model.flush_analysis().problems if not isinstance(p, DataProblem)]
        if blocking:  # a dataset that does not fit is no reason not to export the network
            self.dialogs.error(self, "Cannot export", f"The graph cannot be built yet: {blocking[0]}")
            return False
        if kind == "onnx":
            from engine.interop.onnx_export import onnx_missing
            missing = onnx_missing()
            if missing:
                self.dialogs.error(self, "Cannot export", missing)
                return False
        if path is None:
            stem = re.sub(r"[^A-Za-z0-9]+", "_", self.model.doc.name).strip("_").lower() or "network"
            folder = Path(self.path).parent if self.path else Path.cwd()
            path = self.dialogs.export_path(self, str(folder / f"{stem}.{SUFFIX[kind]}"), SUFFIX[kind])
            if not path:
                return False
        doc = self.model.doc.copy()
        try:
            weights = self.network_weights()
        except (InteropError, GraphError) as err:
            self.dialogs.error(self, "Cannot export", str(err))
            return False
        self.statusBar().showMessage(f"Exporting '{doc.name}' as {WHAT[kind]}…")
        run_in_background(lambda: _export(kind, doc, weights, Path(path)),
                          lambda text: self.statusBar().showMessage(text, 10000),
                          lambda exc: self._interop_failed("Cannot export", exc))
        return True

    def _interop_failed(self, title: str, exc: BaseException) -> None:
        self.statusBar().clearMessage()
        if isinstance(exc, (InteropError, GraphError, SessionError)):
            self.dialogs.error(self, title, str(exc))
        elif isinstance(exc, OSError):
            self.dialogs.error(self, title, f"{exc.filename or 'The file'} could not be written: "
                               f"{exc.strerror or exc}.")
        else:  # a bug of ours: the message and the details, never a silent failure
            import traceback
            self.dialogs.details(self, title, f"{type(exc).__name__}: {exc}",
                                 "".join(traceback.format_exception(exc)))

    # -- in -----------------------------------------------------------------------------------
    def import_module_dialog(self) -> None:
        from .panels.import_dialog import ImportModuleDialog
        dialog = ImportModuleDialog(self)
        dialog.import_requested.connect(lambda *args: self.import_module(*args, dialog=dialog))
        dialog.show()

    def import_module(self, path: str, class_name: str, args: str = "", input_shape: str = "",
                      weights: str = "", dialog=None) -> None:
        """Trace ``class_name`` of the Python file ``path`` into a new, unsaved graph document.
        Importing runs the file's code (the user chose it) in a separate process, so a crash
        or a hang in it cannot take the window down. Weights load without unpickling."""
        shape = _shape(input_shape)
        if dialog is not None:
            dialog.busy(True)

        def done(imported) -> None:
            if dialog is not None:
                dialog.accept()
            if not self.maybe_save():
                return
            self._install(OpenDocument.new(imported.doc), relayout=True)  # the canvas's own layered layout
            self.set_workspace("build")
            self.statusBar().showMessage(
                f"Imported {class_name} from {Path(path).name}: {len(imported.doc.nodes)} nodes; the graph computes "
                f"what the module does (largest difference {imported.max_abs_diff:.1g}). Save it to keep it.", 12000)
            self.last_import = imported

        def failed(exc) -> None:
            if dialog is not None:
                dialog.busy(False)
                if isinstance(exc, (InteropError, GraphError, OSError)):
                    dialog.show_error(str(exc) if not isinstance(exc, OSError) else
                                      f"{exc.filename or path} could not be read: {exc.strerror or exc}.")
                    return
            self._interop_failed("Cannot import", exc)

        keep = None
        if weights:  # the module's weights are the graph's start: kept beside the app's data
            from .settings_store import data_dir
            folder = data_dir() / "imports"
            folder.mkdir(parents=True, exist_ok=True)
            keep = folder / f"{re.sub(r'[^A-Za-z0-9]+', '-', class_name)}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors"
            self.allow_data_folder(folder)
        run_in_background(lambda: import_in_process(path, class_name, args, shape, weights, keep), done, failed)


IMPORT_TIMEOUT_S = 300


class Imported:
    def __init__(self, doc, max_abs_diff: float):
        self.doc, self.max_abs_diff = doc, max_abs_diff


def import_in_process(path: str, class_name: str, args: str, shape, weights: str, keep=None) -> Imported:
    """``python -m engine import`` in a child process: its graph back as a document, its one
    sentence back as an InteropError when it fails. With ``keep``, the module's weights are
    written there and the graph starts its training from them (the init_weights setting)."""
    import subprocess
    import sys
    import tempfile

    from engine.graph.document import load_graph
    if shape is None:
        raise InteropError("Give the example input's shape: one sample without the batch, e.g. 1, 28, 28.")
    with tempfile.TemporaryDirectory(prefix="neurostudio-import-") as tmp:
        out = Path(tmp) / "graph.json"
        cmd = [sys.executable, "-m", "engine", "import", str(path), class_name,
               "--input-shape", ",".join(map(str, shape)), "-o", str(out)]
        if args:
            cmd += ["--args", args]
        if weights:
            cmd += ["--weights", str(weights)]
        if keep is not None:
            cmd += ["--save-weights", str(keep)]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S,
                                  cwd=str(Path(path).resolve().parent))
        except subprocess.TimeoutExpired:
            raise InteropError(f"Importing {class_name} from {Path(path).name} took over {IMPORT_TIMEOUT_S} s "
                               "and was stopped.") from None
        if done.returncode != 0 or not out.is_file():
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            reason = lines[-1] if lines else f"the import process ended with code {done.returncode}"
            if done.returncode < 0:
                reason = f"the import process was killed by signal {-done.returncode} (the module's code crashed it)"
            raise InteropError(reason if reason.endswith(".") else reason + ".")
        diff = re.search(r"largest difference ([0-9.e+-]+)", done.stdout)
        doc = load_graph(out)
        if keep is not None:
            doc.training["init_weights"] = str(keep)
        return Imported(doc, float(diff.group(1)) if diff else 0.0)


def _shape(text: str):
    text = (text or "").strip().strip("()[]")
    if not text:
        return None
    try:
        return [int(v) for v in re.split(r"[,\sx×]+", text) if v]
    except ValueError:
        raise InteropError(f"The example input shape '{text}' is not a list of whole numbers, "
                           "e.g. 1, 28, 28.") from None


def _export(kind: str, doc, weights, path: Path) -> str:
    """Runs off the GUI thread; returns the status line to show."""
    from engine.interop.code_export import export_weights, write_pytorch
    if kind == "onnx":
        from engine.interop.onnx_export import export_onnx
        result = export_onnx(doc, path, weights)
        check = (f"onnxruntime matches torch to {result.max_abs_diff:.1g}" if result.max_abs_diff is not None
                 else result.note)
        return f"Wrote ONNX for '{doc.name}' ({weights.origin}) to {path}; {check}."
    if kind == "pytorch":
        side = path.with_suffix(".safetensors")
        code = write_pytorch(doc, path, weights, side)
        return (f"Wrote {code.class_name} to {path} and its weights ({weights.origin}) to {side.name}: "
                f"model.load_state_dict(safetensors.torch.load_file('{side.name}')).")
    export_weights(doc, weights, path)
    return f"Wrote {len(weights.weights)} weight tensors ({weights.origin}) to {path}."
