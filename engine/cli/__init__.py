"""Command-line dispatch. Each command lives in its own module of this package, exposing
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int`` (the exit code).
Modules are imported only when their command runs, so ``--help`` stays fast."""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "check": "Check a graph document: shapes, params and FLOPs per node.",
    "templates": "List the built-in templates.",
    "datasets": "List the built-in datasets.",
    "train": "Train a graph document headlessly.",
    "inspect": "Summarise a recorded session file.",
    "export": "Export a session's data, or a network as PyTorch code, ONNX or weights.",
    "import": "Import a PyTorch nn.Module class as a graph document.",
    "serve": "Serve training runs to windows that connect over the network.",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Neurostudio engine (headless).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the chosen command's module is imported
            try:
                modules[name] = importlib.import_module(f"engine.cli.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"engine.cli.{name}":
                    raise
                print(f"The '{name}' command is not available in this build.", file=sys.stderr)
                return 2
            modules[name].add_arguments(p)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(modules[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: not an error worth a traceback
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
