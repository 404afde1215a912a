"""``python -m engine serve [--host H] [--port P] [--token-file F] [--runs-dir D] [--data DIR]``:
run training jobs for windows that connect (Run > Connect to Engine…). Listens on the
loopback interface unless ``--host`` says otherwise; every client must sign its messages
with the token (printed at start, or read from ``--token-file``). See docs/remote.md."""
from __future__ import annotations

import secrets
import signal
import sys
from pathlib import Path

HELP = "Serve training runs to windows that connect over the network."
DEFAULT_PORT = 7370
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1, this machine only; reach it "
                             "through an SSH tunnel). 0.0.0.0 listens on every interface: messages are "
                             "signed but not encrypted")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--token-file", metavar="FILE",
                        help="read the token from FILE (its first line) instead of making a new one")
    parser.add_argument("--runs-dir", metavar="DIR", default="neurostudio-runs",
                        help="where the runs' session files are written (default ./neurostudio-runs)")
    parser.add_argument("--data", action="append", metavar="DIR", default=[],
                        help="a folder graphs may read data files from (repeatable; the first is where "
                             "relative dataset paths start)")


def read_token(path: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"The token file {path} cannot be read: {getattr(exc, 'strerror', None) or exc}.") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(token) < 16:
        raise ValueError(f"The token in {path} is shorter than 16 characters; use a long random one "
                         f"(python -c 'import secrets; print(secrets.token_urlsafe(32))').")
    return token


def run(args) -> int:
    try:
        import zmq  # noqa: F401 — the [remote] extra
    except ImportError:
        print("The engine server needs pyzmq: pip install 'neurostudio[remote]'.", file=sys.stderr)
        return 2
    from ..remote.server import EngineServer
    try:
        token = read_token(args.token_file) if args.token_file else secrets.token_urlsafe(32)
        server = EngineServer(token, host=args.host, port=args.port, runs_dir=args.runs_dir,
                              data_dirs=args.data)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception as exc:  # zmq.ZMQError: the address is taken or not this machine's
        print(f"Cannot listen on {args.host}:{args.port}: {exc}.", file=sys.stderr)
        return 2
    print(f"Neurostudio engine on {server.host}:{server.port}; runs are recorded in "
          f"{Path(args.runs_dir).resolve()}.", flush=True)
    if args.token_file:
        print(f"Token: the first line of {args.token_file}.", flush=True)
    else:
        print(f"Token: {token}", flush=True)
    if args.host not in LOOPBACK:
        print(f"Listening on {args.host}, beyond this machine: anyone who can reach the port can try "
              "the token, and what travels is signed but not encrypted. An SSH tunnel to 127.0.0.1 "
              "is safer (docs/remote.md).", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
