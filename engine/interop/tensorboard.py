"""A session's scalars as TensorBoard event files (``tensorboard --logdir DIR`` shows them).

Written after the run from the session file, never during training (TensorBoard's writer
costs a training loop a quarter of its speed here: see ../shared/ENVIRONMENT.md). Uses
tensorboardX, which writes the event format without TensorFlow; it is an optional extra:
``pip install 'neurostudio[tensorboard]'``. Each series keeps its name as the tag
("train/loss"), its steps and its recorded wall times.
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from ..session import SessionReader
from .errors import InteropError

INSTALL = "pip install 'neurostudio[tensorboard]'"


def tensorboard_missing() -> str | None:
    """A sentence saying what to install, or None when TensorBoard export is available."""
    if importlib.util.find_spec("tensorboardX") is None:
        return f"TensorBoard export needs the optional package tensorboardX: {INSTALL}."
    return None


def write_tensorboard(reader: SessionReader, logdir: str | Path) -> int:
    """Write every scalar series of ``reader`` into an event file under ``logdir`` (created
    if needed); return the number of values written. NaN values are written as NaN."""
    problem = tensorboard_missing()
    if problem:
        raise InteropError(problem)
    from tensorboardX import SummaryWriter
    logdir = Path(logdir)
    try:
        logdir.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(logdir=str(logdir), flush_secs=3600, max_queue=4096)
    except OSError as exc:
        raise InteropError(f"Could not write TensorBoard files to {logdir}: {exc.strerror or exc}.") from None
    count = 0
    try:
        for name in reader.scalar_names():
            steps, values, walls = reader.scalar(name, with_wall=True)
            for step, value, wall in zip(steps.tolist(), values.tolist(), walls.tolist()):
                writer.add_scalar(name, value, int(step), walltime=wall if math.isfinite(wall) else None)
                count += 1
    finally:
        writer.close()
    return count
