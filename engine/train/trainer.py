"""The training loop. Lean on purpose: the data sit on the device as tensors, batches are
taken by index, and the only per-step host sync is the loss value (needed to catch a
NaN before it reaches the weights). Everything else (progress, recording, probes,
the worker's commands) hangs off callbacks and the ``gate``."""
from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from functools import partial

import torch

from ..graph.compile import compile_graph
from ..graph.document import GraphDocument
from . import checkpoint as ckpt
from .callbacks import Callback
from .data_prep import prepare_split
from .device import select_device
from .errors import TrainError
from .metrics import ClassificationTally, ValueTally, batch_accuracy, tensor_norms
from .optim import LRSchedule, build_optimizer
from .settings import resolve_settings


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def oom_message(device, batch_size: int | None, amp: bool = False) -> str:
    """The one sentence a user gets for an out-of-memory error, with what to try."""
    where = f" on {device}" if device else ""
    tries = []
    if batch_size:
        tries.append(f"a smaller batch size ({max(1, batch_size // 2)} instead of {batch_size})")
    else:
        tries.append("a smaller batch size")
    if str(device).startswith("cuda") and not amp:
        tries.append("mixed precision (the mixed_precision setting)")
    tries.append("a smaller network")
    size = f" with batch size {batch_size}" if batch_size else ""
    return f"Out of memory{where}{size}: try {', '.join(tries[:-1])} or {tries[-1]}."


class Trainer:
    """Train one graph document on one dataset.

    ``dataset`` is an ArrayDataset; when None it is loaded from the document's dataset
    entry. ``overrides`` replace training settings (e.g. {"steps": 100, "device": "cpu"}).
    ``nan_policy``: "stop" ends the run on a NaN/Inf loss; "pause" sets
    ``pause_requested`` and lets the gate (the worker) pause. ``gate(trainer)`` is called
    before every step; it may block (a paused worker) or call ``request_stop``.
    """

    #: data-parallel training (engine/train/distributed.py): this process's share of every
    #: batch is ``batch_size`` samples, the ``rank``-th of ``world_size`` such shares
    world_size, rank = 1, 0

    def __init__(self, doc: GraphDocument, dataset=None, overrides: dict | None = None,
                 callbacks=(), nan_policy: str = "stop", gate=None, base_dir=None):
        self.doc = doc
        self.settings = resolve_settings(doc.training, overrides)
        s = self.settings
        self.callbacks: list[Callback] = list(callbacks)
        self.nan_policy, self.gate = nan_policy, gate
        self.device = select_device(s["device"])
        self.seed = int(s["seed"])
        if dataset is None:
            dataset = _load_dataset(doc, self.seed, float(s["val_fraction"]), base_dir)
        self.dataset = dataset
        torch.manual_seed(self.seed)  # fresh weights and dropout masks follow the seed
        self.compiled = compile_graph(doc, self.device)
        self.model, self.loss_fn = self.compiled.model, self.compiled.loss
        self.train_module = self.model  # what a training step calls (a DDP wrapper of it)
        if s.get("init_weights"):  # a pretrained or imported start instead of the seed's
            from .init_weights import load_initial_weights
            load_initial_weights(self.model, doc, s["init_weights"], base_dir)
        self.target_kind = self.compiled.target_kind
        self.num_classes = 0
        if self.target_kind == "class":
            pred_shape = self.compiled.info[self.compiled.loss_node].in_shapes[0]
            self.num_classes = int(pred_shape[-1]) if pred_shape else 0
        self._load_data()
        self.batch_size = min(int(s["batch_size"]), max(1, self.n_train // self.world_size))
        self.steps_per_epoch = max(1, self.n_train // (self.batch_size * self.world_size))
        self.total_steps = int(s["steps"]) if s["steps"] else int(s["epochs"]) * self.steps_per_epoch
        self.optimizer = build_optimizer(s, self.model.parameters())
        self.schedule = LRSchedule(s, self.total_steps)
        self.clip_norm, self.clip_value = s["clip_norm"], s["clip_value"]
        self.use_amp = bool(s["mixed_precision"]) and self.device.type == "cuda"
        # bfloat16 where the GPU has it: float32's range, so no loss scaling (whose
        # overflow check reads a flag back from the device on every step).
        self.amp_dtype = (torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported()
                          else torch.float16)
        self.scaler = (torch.amp.GradScaler("cuda") if self.use_amp and self.amp_dtype == torch.float16
                       else None)
        self.step = 0
        self._gen = torch.Generator().manual_seed(self.seed)
        self._perm, self._pos = None, 0
        self.stop_reason: str | None = None
        self.failure: str | None = None
        self.pause_requested = False
        self.last_val: dict | None = None
        self._best_val, self._bad_vals, self._last_val_step = math.inf, 0, -1
        self._recent = deque(maxlen=50)
        #: (step, wall time, loss, learning rate used) of every step, appended while set: the
        #: session recorder's buffer, so that it needs a call only on its detail steps
        self.step_log: list | None = None
        self._awake_at = 0   # the callbacks are called from this step on (Callback.quiet_until)
        self._last_pred = self._last_target = self._last_input = None
        self._unscaled = False
        #: the gradients' global norm before clipping, as clip_grad_norm_ measured it this
        #: step (None unless the step clipped by norm alone)
        self.clipped_norm: torch.Tensor | None = None
        self.params = list(self.model.parameters())
        self._grad_norms: tuple | None = None   # this step's, once asked for
        # The clip by norm can reuse them where it would compute the same: one device that
        # has fused kernels, one full-precision dtype (clip_grad_norm_ groups by both), and
        # no loss scaling (whose unscaling comes between).
        self._clip_reuses_norms = bool(self.device.type in ("cpu", "cuda") and self.scaler is None and self.params
                                   and len({(p.device, p.dtype) for p in self.params}) == 1
                                   and self.params[0].dtype in (torch.float32, torch.float64))
        self._set_lr(self.schedule.lr(0))

    # -- data ---------------------------------------------------------------------
    def _load_data(self) -> None:
        d, c = self.dataset, self.compiled
        shape = c.info[c.input_node].out_shape
        from ..data import check_compatible  # raises DataError naming both sides
        check_compatible(d.info, shape, c.input_dtype, c.info[c.loss_node].in_shapes[0],
                         self.target_kind, c.input_node)
        long_in = c.input_dtype == torch.long
        args = (shape, long_in, self.target_kind, self.num_classes, self.device)
        self.x_train, self.y_train = prepare_split(d.x_train, d.y_train, "training", *args)
        self.x_val, self.y_val = prepare_split(d.x_val, d.y_val, "validation", *args)
        self.n_train, self.n_val = len(self.x_train), len(self.x_val)
        if self.n_train == 0:
            raise TrainError(f"Dataset '{d.info.name}' has no training samples.", kind="data")
        self._augment = None
        if d.augment and any(d.augment.values()):
            from ..data import augment_batch  # only runs that augment need it
            gen = torch.Generator().manual_seed(self.seed + 1)
            self._augment = lambda xb: augment_batch(xb, d.augment, gen)

    def _next_batch(self):
        span = self.batch_size * self.world_size  # every process draws the same global batch
        if self._perm is None or self._pos + span > self.n_train:
            perm = torch.randperm(self.n_train, generator=self._gen)
            if self.device.type == "cuda":
                # Pinned and non-blocking: a pageable copy would make the host wait for the
                # device once an epoch. The host copy lives until the next epoch's.
                self._perm_host = perm = perm.pin_memory()
                self._perm = perm.to(self.device, non_blocking=True)
            else:
                self._perm = perm.to(self.device)
            self._pos = 0
        idx = self._perm[self._pos:self._pos + span]
        self._pos += span
        if self.world_size > 1:  # and trains on its own share of it
            idx = idx[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
        xb, yb = self.x_train.index_select(0, idx), self.y_train.index_select(0, idx)
        if self._augment is not None:
            xb = self._augment(xb)
        return xb, yb

    # -- public state ---------------------------------------------------------------
    @property
    def lr(self) -> float:
        """The LR the next step will use."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    def _set_lr(self, lr: float) -> None:
        for g in self.optimizer.param_groups:
            g["lr"] = lr

    def set_lr(self, lr: float) -> None:
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0):
            raise TrainError(f"Learning rate {lr!r} is not a number >= 0.")
        old = self.lr
        self.schedule.set_current(float(lr), self.step)
        self._set_lr(self.schedule.lr(self.step))
        self.event("lr_change", self.step, f"Learning rate set from {old:.4g} to {self.lr:.4g}.",
                   {"old": old, "new": self.lr})

    def set_clipping(self, norm: float | None = None, value: float | None = None) -> None:
        self.clip_norm, self.clip_value = norm, value
        self.event("clipping", self.step, f"Gradient clipping: norm {norm}, value {value}.",
                   {"norm": norm, "value": value})

    def request_stop(self, reason: str = "stopped") -> None:
        self.stop_reason = self.stop_reason or reason

    def event(self, kind: str, step: int, message: str = "", data: dict | None = None) -> None:
        for cb in self.callbacks:
            cb.on_event(kind, step, message, data)

    def batch_accuracy(self) -> float | None:
        """Accuracy on the last training batch (computed only when asked)."""
        t = self.batch_accuracy_tensor()
        return None if t is None else float(t)

    @property
    def last_loss(self) -> float | None:
        """The loss of the last step (None before the first)."""
        return self._recent[-1] if self._recent else None

    @property
    def recent_loss(self) -> float | None:
        """The mean loss of the last (up to) 50 steps (None before the first)."""
        return sum(self._recent) / len(self._recent) if self._recent else None

    def batch_accuracy_tensor(self) -> torch.Tensor | None:
        """The same as a 0-d tensor on the device (reading it is the caller's choice)."""
        later = self.batch_accuracy_later()
        return None if later is None else later()

    def batch_accuracy_later(self):
        """A function that computes the same later, from this batch's predictions and
        targets (kept, not copied: nothing changes them after the step), or None."""
        if self.target_kind != "class" or self._last_pred is None:
            return None
        return partial(batch_accuracy, self._last_pred, self._last_target)

    def grad_norm(self) -> float:
        """Global L2 norm of the current gradients (unscaled under mixed precision)."""
        return float(self.grad_norm_tensor())

    def grad_norms(self) -> tuple[list[int], list[torch.Tensor]]:
        """The L2 norm of every parameter's gradient now as 0-d tensors on the device, with
        the indices in :attr:`params` of those that have a gradient. Measured once between
        backward and clipping, in one fused call, and the clip by norm then reuses them (the
        norms clip_grad_norm_ would compute first); measured again after clipping."""
        if self._grad_norms is None:
            present = [i for i, p in enumerate(self.params) if p.grad is not None]
            grads = [self.params[i].grad for i in present]
            self._grad_norms = (present, tensor_norms(grads) if grads else [])
        return self._grad_norms

    def _clip_by_norm(self, model) -> torch.Tensor:
        """clip_grad_norm_, on the norms :meth:`grad_norms` measured this step if it did
        (the same calls on the same gradients: the same result)."""
        if (self._grad_norms is None or not self._clip_reuses_norms or not self._grad_norms[1]
                or self.clip_value is not None):  # clipped by value first
            return torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip_norm)
        total = torch.linalg.vector_norm(torch.stack(self._grad_norms[1]), 2.0)
        torch.nn.utils.clip_grads_with_norm_(model.parameters(), self.clip_norm, total)
        return total

    def clips_by_norm(self) -> bool:
        """Whether the update clips by norm alone, so that :attr:`clipped_norm` will hold
        the gradients' norm before clipping (asked after backward, before the clip)."""
        return self.clip_norm is not None and self.clip_value is None

    def grad_norm_tensor(self) -> torch.Tensor:
        """The same as a 0-d tensor on the device (from :meth:`grad_norms`)."""
        norms = self.grad_norms()[1]
        if not norms:
            return torch.zeros((), device=self.device)
        norm = torch.linalg.vector_norm(torch.stack(norms))
        if self.scaler is not None and not self._unscaled:
            norm = norm / self.scaler._get_scale_async()  # a tensor: no wait for the device
        return norm

    # -- the loop -------------------------------------------------------------------
    def _autocast(self):
        if self.use_amp:
            return torch.autocast(device_type="cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def train_step(self) -> float | None:
        """One update. Returns the loss, or None if the loss was NaN/Inf (no update made)."""
        xb, yb = self._next_batch()
        self._last_input = xb  # this step's batch (the probes' helper recomputes outputs from it)
        model, opt, step = self.train_module, self.optimizer, self.step + 1
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            pred = model(xb)
            loss = self.loss_fn(pred, yb)
        self._unscaled, self.clipped_norm, self._grad_norms = False, None, None
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        loss_value = self._loss_value(loss, pred, yb)
        if not math.isfinite(loss_value):
            opt.zero_grad(set_to_none=True)
            self._non_finite(loss_value, step)
            return None
        awake = step >= self._awake_at
        if awake:
            for cb in self.callbacks:
                cb.on_after_backward(self, step)
        if self.clip_norm is not None or self.clip_value is not None:
            if self.scaler is not None:
                self.scaler.unscale_(opt)
                self._unscaled = True
            if self.clip_value is not None:
                torch.nn.utils.clip_grad_value_(model.parameters(), self.clip_value)
            if self.clip_norm is not None:
                norm = self._clip_by_norm(model)
                if self.clips_by_norm():
                    self.clipped_norm = norm
            self._grad_norms = None  # the gradients have changed
        lr_used = self.lr
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        self.step = step
        self._set_lr(self.schedule.lr(step))
        self._last_pred, self._last_target = pred.detach(), yb
        self._recent.append(loss_value)
        now = time.perf_counter()
        if self.step_log is not None:
            self.step_log.append((step, time.time(), loss_value, lr_used))
        step_time, self._t_last = now - self._t_last, now
        if awake:
            metrics = {"loss": loss_value, "lr": lr_used, "epoch": self.epoch,
                       "batch_size": len(xb) * self.world_size, "step_time": step_time}
            for cb in self.callbacks:
                cb.on_step_end(self, step, metrics)
            self._awake_at = min([getattr(cb, "quiet_until", 0) for cb in self.callbacks], default=0)
        return loss_value

    def wake(self) -> None:
        """Call every callback at the next step (one's :attr:`Callback.quiet_until` changed)."""
        self._awake_at = 0

    def _loss_value(self, loss: torch.Tensor, pred, target) -> float:
        """The step's loss on the host (the one per-step sync); averaged over processes in
        data-parallel training."""
        return loss.item()

    def _non_finite(self, value: float, step: int) -> None:
        what = "NaN" if value != value else "infinite"
        msg = (f"The loss became {what} at step {step} with learning rate {self.lr:.3g}: the updates "
               f"are too large for this network. Lower the learning rate (e.g. to {self.lr / 10:.3g}) "
               f"or enable gradient clipping (e.g. clip norm 1.0).")
        self.event("nan", step, msg, {"loss": str(value), "lr": self.lr})
        if self.nan_policy == "pause":
            self.pause_requested = True
        else:
            self.failure = msg
            self.request_stop("nan")

    def _validation_due(self) -> bool:
        every = self.settings["val_every"] or self.steps_per_epoch
        return self.step % every == 0

    def validate(self) -> dict | None:
        if self.n_val == 0:
            return None
        tally = (ClassificationTally(self.num_classes, self.device) if self.target_kind == "class"
                 else ValueTally(self.device))
        bs = max(self.batch_size, 256)
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                for i in range(0, self.n_val, bs):
                    xb, yb = self.x_val[i:i + bs], self.y_val[i:i + bs]
                    pred = self.model(xb)
                    tally.add(pred, yb, self.loss_fn(pred, yb))
        finally:
            self.model.train()
        res = tally.result(self.dataset.info.class_names)
        self.last_val, self._last_val_step = res, self.step
        for cb in self.callbacks:
            cb.on_validation(self, self.step, res)
        if self.schedule.observe(res["loss"]):
            old = self.lr
            self._set_lr(self.schedule.lr(self.step))
            self.event("lr_change", self.step, f"Validation loss stopped improving: learning rate "
                       f"lowered from {old:.4g} to {self.lr:.4g}.", {"old": old, "new": self.lr})
        if res["loss"] < self._best_val:
            self._best_val, self._bad_vals = res["loss"], 0
        else:
            self._bad_vals += 1
            patience = self.settings["early_stopping"]
            if patience and self._bad_vals >= patience:
                self.event("early_stop", self.step, f"Stopped early: the validation loss has not improved "
                           f"for {patience} validations (best {self._best_val:.4g}).")
                self.request_stop("early_stopping")
        return res

    def run(self) -> dict:
        """Train until the step budget, a stop request, early stopping or a NaN (policy
        "stop"). Returns a summary dict; raises TrainError for out-of-memory."""
        t0 = self._t_last = time.perf_counter()
        for cb in self.callbacks:
            cb.on_start(self)
        self.wake()
        self.event("start", self.step, f"Training on {self.device.type} for {self.total_steps} steps.")
        if self.settings["mixed_precision"] and not self.use_amp:
            self.event("note", self.step, f"Mixed precision is only used on CUDA; training in float32 "
                       f"on {self.device.type}.")
        try:
            while self.step < self.total_steps and self.stop_reason is None:
                if self.gate is not None:
                    self.gate(self)
                    if self.stop_reason is not None:
                        break
                if self.train_step() is not None and self._validation_due():
                    self.validate()
            if self.step != self._last_val_step and self.stop_reason != "nan":
                self.validate()
        except Exception as exc:
            if not _is_oom(exc):
                raise
            self._oom(exc)
        summary = self.summary(time.perf_counter() - t0)
        kind = {"finished": "finish", "failed": "failure"}.get(summary["status"], "stop")
        self.event(kind, self.step, summary["message"])
        for cb in self.callbacks:
            cb.on_end(self, summary)
        return summary

    def _oom(self, exc: BaseException) -> None:
        # Drop what the failed step held (its frames keep activations alive) before the
        # callbacks run their end-of-run work (a checkpoint, a last capture).
        exc.__traceback__ = None
        self._last_pred = self._last_target = self._last_input = None
        self.optimizer.zero_grad(set_to_none=True)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        self.failure = oom_message(self.device.type, self.batch_size, self.use_amp)
        self.request_stop("oom")

    def summary(self, seconds: float) -> dict:
        reason = self.stop_reason
        status = "failed" if reason in ("nan", "oom") else ("stopped" if reason == "stopped" else "finished")
        val = self.last_val or {}
        train_loss = self.recent_loss
        if status == "failed":
            message = self.failure or "Training failed."
        elif reason == "early_stopping":
            message = f"Stopped early at step {self.step}: the validation loss no longer improved."
        elif status == "stopped":
            message = f"Stopped at step {self.step}."
        else:
            message = f"Finished {self.step} steps."
        return {"status": status, "reason": reason or "budget", "message": message, "steps": self.step,
                "epochs": self.epoch, "train_loss": train_loss, "val_loss": val.get("loss"),
                "val_accuracy": val.get("accuracy"), "seconds": seconds, "device": str(self.device)}

    # -- checkpoints ------------------------------------------------------------------
    def checkpoint(self) -> tuple[dict, dict]:
        """(weights, optimizer state) as plain arrays / JSON-able data."""
        opt = ckpt.optimizer_state(self.optimizer)
        opt["schedule"] = self.schedule.state()
        opt["trainer_step"] = self.step
        return ckpt.model_weights(self.model), opt

    def restore(self, weights: dict, optimizer: dict | None = None) -> None:
        ckpt.load_model_weights(self.model, weights)
        if optimizer is not None:
            opt = dict(optimizer)
            schedule, step = opt.pop("schedule", None), opt.pop("trainer_step", None)
            ckpt.load_optimizer_state(self.optimizer, opt)
            if schedule is not None:
                self.schedule.load_state(schedule)
            if step is not None:
                self.step = int(step)
            self._set_lr(self.schedule.lr(self.step))


def _load_dataset(doc: GraphDocument, seed: int, val_fraction: float, base_dir=None):
    if not doc.dataset:
        raise TrainError(f"Graph '{doc.name}' names no dataset to train on.", kind="data")
    from ..data import load_dataset
    return load_dataset(doc.dataset, seed=seed, val_fraction=val_fraction, base_dir=base_dir)
