"""The main window's way in and out of the PyTorch world (engine/interop): the network on
the canvas as PyTorch code, ONNX or safetensors weights, and an nn.Module from a Python file
imported as a new graph document. Slow steps run off the GUI thread."""
from __future__ import annotations

import re
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
        Importing runs the file's code: the user chose it. Weights load without unpickling."""
        from engine.interop.module_file import import_file
        shape = _shape(input_shape)
        if dialog is not None:
            dialog.busy(True)

        def done(imported) -> None:
            if dialog is not None:
                dialog.accept()
            if not self.maybe_save():
                return
            self._install(OpenDocument.new(imported.doc))
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

        run_in_background(lambda: import_file(path, class_name, args or None, shape, weights or None), done, failed)


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
    from engine.interop import weights as w
    from engine.interop.code_export import export_code
    if kind == "onnx":
        from engine.interop.onnx_export import export_onnx
        result = export_onnx(doc, path, weights)
        check = (f"onnxruntime matches torch to {result.max_abs_diff:.1g}" if result.max_abs_diff is not None
                 else result.note)
        return f"Wrote ONNX for '{doc.name}' ({weights.origin}) to {path}; {check}."
    code = export_code(doc)
    meta = {"format": "neurostudio.weights", "graph": doc.name, "origin": weights.origin, "class": code.class_name}
    if kind == "pytorch":
        path.write_text(code.source, encoding="utf-8")
        side = path.with_suffix(".safetensors")
        w.save_safetensors(code.rename_weights(weights.weights), side, meta)
        return (f"Wrote {code.class_name} to {path} and its weights ({weights.origin}) to {side.name}: "
                f"model.load_state_dict(safetensors.torch.load_file('{side.name}')).")
    w.save_safetensors(code.rename_weights(weights.weights), path, meta)
    return f"Wrote {len(weights.weights)} weight tensors ({weights.origin}) to {path}."
