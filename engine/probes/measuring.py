"""How a ProbeSet measures a step's statistics: arming the step (the forward's taps, or a
helper slot reserved for it), the gradients after backward, then either shipping the step to
the helper process (its weights, and its layer outputs or the batch they are recomputed from)
or finishing it here, and writing what comes back.

A mixin of :class:`.recorder.ProbeSet`, whose state it shares, as :mod:`.capturing` is for
where captures run: kept apart because it is one responsibility, what a step measures and
where.
"""
from __future__ import annotations

import numpy as np
import torch

from .process import ACCURACY_PRED, ACCURACY_TARGET, REPLAY_INPUT, HelperGone
from .stats import without_derived


class StepMeasuring:
    def _replay_here(self, trainer) -> None:
        """The step's layer outputs, recomputed here as the helper would have (the helper went
        away after the step was armed): the weights are still those before the update, and
        the batch-norm statistics the second forward moves are put back. Autograd on, as the
        helper runs it (see engine.probes.helper.Helper.replay); nothing goes backward."""
        model = trainer.model
        buffers = list(model.buffers())
        kept = [b.clone() for b in buffers]
        self.stats.armed = True
        try:
            model(trainer._last_input)
        finally:
            if buffers:
                torch._foreach_copy_(buffers, kept)

    def _gradients(self, trainer, step: int) -> None:
        """After backward, before clipping and the update: the gradients' norms, and the
        weights into the helper slot reserved when the step was armed (the outputs are there
        already, or the helper recomputes them), else measured here."""
        runner, stats = self._offpath, self.stats
        slot, self._slot_next = self._slot_next, None
        if slot is not None and runner is not None and runner.alive():
            before = runner.before_at(step)
            self._present, self._gnorms = stats.grad_norms()  # they go with the weights after the update
            runner.put_before(slot, before)
            self._slot, self._before_in = slot, before
            return
        if runner is not None and runner.mode == "process" and not runner.alive():
            self._drop_offpath(step, runner.gone)
        if slot is not None and not stats.armed:  # the helper was to recompute the outputs
            self._replay_here(trainer)
        stats.after_backward(True)

    def _ship(self, trainer, step: int, loss, heavy: bool) -> None:
        slot, self._slot = self._slot, None
        runner = self._offpath
        outs = self.stats.take_outputs()
        accuracy = self.basic_scalars and trainer.target_kind == "class" and trainer._last_pred is not None
        if self._replay:  # the batch, from which the helper recomputes the outputs
            acts = {REPLAY_INPUT: trainer._last_input}
            if accuracy:
                acts[ACCURACY_TARGET] = trainer._last_target
        else:
            acts = without_derived(self.targets, outs)
            if accuracy:
                acts[ACCURACY_PRED], acts[ACCURACY_TARGET] = trainer._last_pred, trainer._last_target
        here = outs if self._replay else acts  # what measuring here after all would measure
        copies = runner.output_copies(acts, slot)
        if copies is None:  # the outputs (or the batch) changed shape: measured here from now on
            self._ship_stats = False
            self._stats_here(trainer, step, loss, runner, slot, here)
            if heavy:
                self._heavy(step)
            return
        handover = self._handover() if heavy else None
        if heavy:
            self._step, self._last_heavy_step = step, step
        try:
            runner.send(slot, step, {"present": self._present, "gnorms": self._gnorms, "before": self._before_in,
                                     "acts": acts, "copies": copies, "loss": loss},
                        heavy, handover, self.settings.diagnostics)
            self.measured["helper"] += 1
        except HelperGone as exc:
            # measured here in part: the layers' outputs were the helper's to recompute, or
            # the weights before the update its to hold (the update ratio)
            partial = step if self._replay or self._before_in != "slot" else None
            self._drop_offpath(step, str(exc), partial)
            self._stats_here(trainer, step, loss, runner, slot, here)
            if heavy:
                self._heavy(step)

    def _stats_here(self, trainer, step: int, loss, runner, slot: int, acts: dict) -> None:
        """A step whose weights went to a slot, measured here after all (the gradients'
        norms were taken before clipping). Where the helper held the weights before the
        update, this step has no update ratio."""
        st = self.stats
        st._gpresent = self._present
        st._gnorms = self._gnorms or None
        st._have_before = self._before_in == "slot"
        if st._have_before:
            if st._before is None:
                st._before = [torch.empty_like(p) for p in st._flat]
            torch._foreach_copy_(st._before, runner._before[slot])
        st._outs = {n: a for n, a in acts.items() if n not in (ACCURACY_PRED, ACCURACY_TARGET)}
        self._finish_stats(trainer, step, loss)

    def _finish_stats(self, trainer, step: int, loss) -> None:
        extra = {}
        if self.basic_scalars and trainer.target_kind == "class" and trainer._last_pred is not None:
            from ..train.metrics import batch_accuracy
            extra["train/accuracy"] = batch_accuracy(trainer._last_pred, trainer._last_target)
        layout, pending = self.stats.finish(extra)
        self._pending.append((step, loss, layout, pending))
        self.measured["here"] += 1

    def _drain_stats(self, wait: bool) -> None:
        while self._pending and (wait or self._pending[0][3].ready()):
            step, loss, layout, pending = self._pending.popleft()
            self._write_stats(step, loss, self.stats.named(layout, pending.values()))

    def _write_stats(self, step: int, loss, values: dict) -> None:
        """A step measured here: written, and diagnosed here."""
        self._write_rows(list(values), [[step, *values.values()]])
        if self.settings.diagnostics:  # (with the global norm, even when another recorder writes it)
            self._report(step, self.diagnostician.check_step(step, loss, values))

    def _write_rows(self, names: list, rows) -> None:
        """Statistics of many steps at once: rows of [step, value per name] (a list or an array)."""
        if not self.basic_scalars and "grad_norm" in names:  # the other recorder writes it
            keep = [i for i, n in enumerate(names) if n != "grad_norm"]
            names, rows = [names[i] for i in keep], np.asarray(rows, dtype=np.float64)[:, [0, *(i + 1 for i in keep)]]
        self.writer.scalar_rows(names, rows)

    def _arm(self, step: int) -> None:
        """Statistics for ``step`` or not; when the helper takes them, reserve its slot now,
        so that the forward's taps copy the outputs straight into it (no taps where the
        helper recomputes the outputs from the batch)."""
        if self.stats is None:
            return
        armed = self._stats_ok and self.schedule.stats_due(step)
        if not armed and not self._measuring:
            return  # most steps at the default rates: nothing to change
        runner, self._slot_next, self.stats.copy_into = self._offpath, None, None
        taps = armed
        if (armed and runner is not None and runner.mode == "process" and runner.ready
                and runner.device.type == "cpu" and self._ship_stats is not False):
            slot = runner.free_slot()  # None: the helper is behind, this step is measured here
            if slot is not None:
                self._slot_next = slot
                if self._replay:
                    # the helper recomputes the outputs: no tap (one keeping a big output
                    # alive to the end of the step slowed LeNet's forward more than a copy)
                    taps = False
                else:
                    self.stats.copy_into = runner.acts_views(slot)  # the taps copy into the slot
        self.stats.armed, self._measuring = taps, armed
        if self.binary is not None:
            self.binary.armed = armed

    def _binary_stats(self, step: int, measured: bool, wait: bool) -> None:
        if measured:
            self.binary.after_update(step)
        for s, values in self.binary.ready(wait):
            self.writer.scalars(s, values)
