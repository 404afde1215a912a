"""Import a model from a user's Python file: load the file, find the class, build it with the
user's arguments, load their weights, and hand it to ``fx_import.import_module``.

Loading a .py runs it, like ``python model.py`` would: the user chose the file. Its folder
is on ``sys.path`` while it loads and traces, so it can import modules beside it. Weights
files never run code (see weights.load_weights_file). Every failure is an InteropError
naming the file, and the line where there is one.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import traceback
from pathlib import Path

from torch import nn

from .errors import InteropError
from .fx_import import ImportedModule, import_module
from .weights import load_weights_file


def module_classes(path: str | Path) -> list[str]:
    """The names of the nn.Module subclasses defined in ``path`` (runs the file)."""
    module = _load(Path(path))
    return [name for name, value in vars(module).items() if _is_model_class(value, module)]


def import_file(path: str | Path, class_name: str, args=None, input_shape=None, weights: str | Path | None = None,
                *, input_dtype: str = "auto", loss: str = "auto") -> ImportedModule:
    """Build ``class_name`` from the file ``path`` with ``args`` (a list of positional
    arguments, a dict of keyword arguments, or JSON text of either), load ``weights`` (a
    .safetensors or state-dict file) into it, and import it with an example input of
    ``input_shape`` (one sample, without the batch)."""
    path = Path(path)
    module = _load(path)
    cls = getattr(module, class_name, None)
    if not _is_model_class(cls, module, own=False):
        found = [n for n, v in vars(module).items() if _is_model_class(v, module)]
        raise InteropError(f"{path.name} has no nn.Module class named '{class_name}'"
                           + (f" (it defines {', '.join(found)})." if found else " (it defines none)."))
    model = _construct(cls, parse_args(args), path)
    if weights is not None:
        load_into(model, weights)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        return import_module(model, input_shape, input_dtype=input_dtype, loss=loss, name=class_name)
    finally:
        _remove_path(folder)


def parse_args(args):
    """Constructor arguments: None, a list, a dict, or JSON text of a list or a dict."""
    if args is None or args == "":
        return [], {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError as exc:
            raise InteropError(f"The constructor arguments {args!r} are not JSON ({exc.msg}); write e.g. "
                               f"[10] or {{\"num_classes\": 10}}.") from None
    if isinstance(args, dict):
        return [], dict(args)
    if isinstance(args, (list, tuple)):
        return list(args), {}
    return [args], {}


def load_into(model: nn.Module, weights: str | Path) -> None:
    """Load a weights file into ``model``; a mismatch is one sentence naming the first names."""
    state = load_weights_file(weights)
    result = model.load_state_dict(state, strict=False)
    name = Path(weights).name
    if result.missing_keys:
        raise InteropError(f"The weights in {name} do not fit {type(model).__name__}: they lack "
                           f"{', '.join(result.missing_keys[:3])}"
                           f"{' and more' if len(result.missing_keys) > 3 else ''}.")
    if result.unexpected_keys:
        raise InteropError(f"The weights in {name} do not fit {type(model).__name__}: it has no "
                           f"{', '.join(result.unexpected_keys[:3])}"
                           f"{' and more' if len(result.unexpected_keys) > 3 else ''}.")


def _is_model_class(value, module, own=True) -> bool:
    return (isinstance(value, type) and issubclass(value, nn.Module)
            and (not own or value.__module__ == module.__name__))


def _load(path: Path):
    if not path.is_file():
        raise InteropError(f"Python file {path} does not exist.")
    if path.suffix != ".py":
        raise InteropError(f"{path.name} is not a Python file (.py).")
    name = "neurostudio_import_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.modules[name] = module  # classes look themselves up here (dataclasses, pickling)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise InteropError(f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}.", line=exc.lineno) from None
    except BaseException as exc:  # noqa: BLE001 - the user's code may raise anything, even SystemExit
        del sys.modules[name]
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _user_error(f"Running {path.name}", exc, path) from None
    finally:
        _remove_path(folder)
    return module


def _construct(cls, args_kwargs, path: Path) -> nn.Module:
    args, kwargs = args_kwargs
    try:
        return cls(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise _user_error(f"Building {cls.__name__}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})",
                          exc, path) from None


def _user_error(what: str, exc: BaseException, path: Path) -> InteropError:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = frames[-1].lineno if frames else None
    where = f" at line {line}" if line else ""
    return InteropError(f"{what} raised {type(exc).__name__}{where}" + (f": {text}" if text else "") + ".", line=line)


def _remove_path(folder: str) -> None:
    try:
        sys.path.remove(folder)
    except ValueError:
        pass
