"""Fork: start a new run from a checkpoint recorded in a session, with edited settings.

The child trains the parent's graph from the parent's weights and optimizer state
(momentum, Adam moments) at the checkpoint's step, and keeps counting steps from there,
so parent and child share one step axis. Edited hyperparameters (lr, momentum, weight
decay, clipping, ...) take effect; the optimizer's accumulated state is kept unless the
optimizer kind itself changed. The child's session records ``parent = {"path", "step"}``
and a checkpoint at the fork step taken from the restored trainer.

Headless: ``python -m engine train --fork PARENT.session[:STEP] --record CHILD.session
--steps N --set clip_norm=1.0``. API::

    fork = load_fork("parent.session", step=120)      # nearest checkpoint at or before 120
    doc = fork.document()
    trainer = Trainer(doc, overrides=fork.overrides({"clip_norm": 1.0, "steps": 400}))
    fork.apply(trainer)
    writer = open_writer("child.session", doc, trainer.settings, trainer.dataset.info,
                         parent=fork.parent)
    ...; fork.record_start(recorder, trainer); trainer.run()

Data order after the fork is drawn afresh from the seed: a fork replays the parent's
weights, not its exact future batches.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..graph.settings import TRAINING_PARAMS, inherited_settings
from .errors import TrainError

_KNOWN = {p.name for p in TRAINING_PARAMS}
#: settings whose change makes the parent's LR schedule state meaningless
_SCHEDULE_KEYS = ("lr", "schedule", "step_size", "gamma", "warmup_steps", "plateau_patience")


def parse_fork_ref(ref: str) -> tuple[str, int | None]:
    """``"run.session:120"`` -> ("run.session", 120); ``"run.session"`` -> (..., None)."""
    m = re.fullmatch(r"(.+?):(\d+)", str(ref))
    if m and not Path(ref).exists():
        return m.group(1), int(m.group(2))
    return str(ref), None


def parse_setting_edits(items) -> dict:
    """``["clip_norm=1.0", "optimizer=sgd"]`` -> {"clip_norm": 1.0, "optimizer": "sgd"};
    values are JSON (``null`` clears), else taken as text."""
    out = {}
    for item in items or ():
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise TrainError(f"Setting edit {item!r} is not KEY=VALUE (e.g. clip_norm=1.0).")
        if key not in _KNOWN:
            raise TrainError(f"Training setting '{key}' is unknown.")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text.strip()
    return out


@dataclass
class ForkPoint:
    path: Path
    step: int
    graph: dict
    settings: dict
    weights: dict
    optimizer: dict | None

    @property
    def parent(self) -> dict:
        """The child session's ``parent`` meta value."""
        return {"path": str(self.path.resolve()), "step": self.step}

    def document(self):
        from ..graph.document import GraphDocument
        return GraphDocument.from_dict(self.graph, source=f"the graph of {self.path.name}")

    def overrides(self, edits: dict | None = None) -> dict:
        """The parent's settings with ``edits`` on top, as Trainer overrides."""
        return inherited_settings(self.settings, edits)

    def apply(self, trainer) -> None:
        """Put the parent's weights and optimizer state into ``trainer`` (built from
        :meth:`document` and :meth:`overrides`), at the fork step."""
        if trainer.total_steps <= self.step:
            raise TrainError(f"The fork starts at step {self.step} of {self.path.name}, but the step "
                             f"budget is {trainer.total_steps}: set steps above {self.step}.",
                             kind="settings")
        new = trainer.settings
        opt = dict(self.optimizer) if self.optimizer is not None else None
        if opt is not None and self.settings.get("optimizer") != new["optimizer"]:
            opt = None  # Adam moments mean nothing to SGD: start the new rule fresh
            trainer.event("note", self.step, f"The optimizer changed from {self.settings.get('optimizer')} "
                          f"to {new['optimizer']}: its state starts fresh, the weights are the parent's.")
        if opt is not None and any(self.settings.get(k) != new[k] for k in _SCHEDULE_KEYS):
            opt.pop("schedule", None)
        trainer.restore(self.weights, opt)
        trainer.step = self.step
        _reapply_hyperparameters(trainer)

    def record_start(self, recorder, trainer) -> None:
        """The child's first records: a 'fork' event and a checkpoint of the restored
        trainer (so the child's file alone shows where it started)."""
        recorder.writer.event("fork", trainer.step, f"Forked from {self.path.name} at step {self.step}.",
                              self.parent)
        recorder.checkpoint(trainer)
        recorder.commit()


def _reapply_hyperparameters(trainer) -> None:
    """torch's load_state_dict also restores the parent's param-group hyperparameters
    (momentum, weight decay, betas): put the child's settings back, keep the state."""
    import torch

    from .optim import build_optimizer
    fresh = build_optimizer(trainer.settings, [torch.nn.Parameter(torch.zeros(1))])
    defaults = {k: v for k, v in fresh.param_groups[0].items() if k != "params"}
    for group in trainer.optimizer.param_groups:
        group.update(defaults)
    trainer._set_lr(trainer.schedule.lr(trainer.step))


def load_fork(path, step: int | None = None) -> ForkPoint:
    """The checkpoint of session ``path`` at the largest checkpoint step <= ``step``
    (the last checkpoint when ``step`` is None). TrainError with one sentence if none."""
    from ..session import SessionError, SessionReader
    path = Path(path)
    try:
        with SessionReader(path) as r:
            steps = r.checkpoint_steps()
            if not steps:
                raise TrainError(f"{path.name} holds no checkpoint to fork from (a run saves one at its "
                                 f"end and when asked).", kind="settings")
            chosen = steps[-1] if step is None else r.checkpoint_at_or_before(step)
            if chosen is None:
                raise TrainError(f"{path.name} has no checkpoint at or before step {step} (its first "
                                 f"is at step {steps[0]}).", kind="settings")
            weights, optimizer = r.checkpoint(chosen)
            return ForkPoint(path, chosen, r.graph, r.settings, weights, optimizer)
    except SessionError as exc:
        raise TrainError(str(exc), kind="settings") from None

