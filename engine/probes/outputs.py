"""Records about the model's outputs that the views need and the other probes do not take:

- ``boundary/extent`` (4,) float32 [x0, x1, y0, y1], ``boundary/points`` (M, 2) float32 and
  ``boundary/labels`` (M,) int64: for 2-D point datasets (dataset kind "points2d"), the
  grid's extent and up to ``max_points`` training points, once at the start;
- ``boundary/probs`` (G, G, C): the class probabilities over a G x G grid covering that
  extent (row = y, column = x, y and x increasing), with every heavy capture;
- ``val/confusion`` (C, C) int64: the validation confusion matrix (row = target class,
  column = predicted class), with every validation;
- ``sample/text`` (T + L,) int64: for language models (dataset kind "text"), the first
  probe window (T symbol ids) followed by L symbols generated greedily, one at a time,
  with every validation (L forward passes: too dear for the heavy rate).

All of it runs in eval mode without gradients and never touches ``p.grad``.
"""
from __future__ import annotations

import numpy as np
import torch

from ..train.metrics import predicted_classes


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(N, C) class probabilities; a single logit is a binary classifier (C = 2)."""
    if logits.shape[-1] == 1:
        p1 = torch.sigmoid(logits)
        return torch.cat([1 - p1, p1], dim=-1)
    return torch.softmax(logits, dim=-1)


class OutputCaptures:
    def __init__(self, trainer, grid: int = 64, max_points: int = 400, text_len: int = 80):
        self.trainer = trainer
        info = trainer.dataset.info
        self.kind = getattr(info, "kind", "table")
        self.grid, self.max_points, self.text_len = grid, max_points, text_len
        classifier = trainer.target_kind == "class"
        self.boundary = (classifier and self.kind == "points2d"
                         and tuple(trainer.x_train.shape[1:]) == (2,))
        self.text = classifier and self.kind == "text" and trainer.x_train.dim() == 2
        self._grid_x = None

    def once(self) -> dict[str, np.ndarray]:
        if not self.boundary:
            return {}
        x = self.trainer.x_train.detach().float().cpu()
        lo, hi = x.amin(0), x.amax(0)
        pad = 0.1 * (hi - lo).clamp(min=1e-6)
        lo, hi = lo - pad, hi + pad
        g = self.grid
        # Cell centres, so that an image of G x G pixels over the extent puts each value
        # at its own point.
        xs = lo[0] + (hi[0] - lo[0]) * (torch.arange(g) + 0.5) / g
        ys = lo[1] + (hi[1] - lo[1]) * (torch.arange(g) + 0.5) / g
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        self._grid_x = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1).to(self.trainer.device)
        k = min(self.max_points, len(x))
        idx = torch.linspace(0, len(x) - 1, k).round().long().unique()
        y = self.trainer.y_train.detach().cpu()
        return {"boundary/extent": torch.stack([lo[0], hi[0], lo[1], hi[1]]).numpy().astype(np.float32),
                "boundary/points": x[idx].numpy().astype(np.float32),
                "boundary/labels": y[idx].long().numpy()}

    @property
    def grid_x(self) -> torch.Tensor | None:
        """The (G·G, 2) grid points the boundary is drawn on, once :meth:`once` ran."""
        return self._grid_x if self.boundary else None

    def heavy(self) -> dict[str, torch.Tensor]:
        return boundary_probs(self.trainer.model, self.grid_x, self.grid)

    def validation(self, metrics: dict) -> dict[str, np.ndarray]:
        out = {}
        if metrics.get("confusion") is not None:
            out["val/confusion"] = np.asarray(metrics["confusion"], dtype=np.int64)
        if self.text:
            out["sample/text"] = self._generate().numpy()
        return out

    def _generate(self) -> torch.Tensor:
        t = self.trainer
        source = t.x_val if len(t.x_val) else t.x_train
        window = source[:1].clone()
        made = []
        with _eval(t.model) as model, torch.no_grad():
            for _ in range(self.text_len):
                nxt = predicted_classes(model(window)[:, -1])
                made.append(nxt)
                window = torch.cat([window[:, 1:], nxt.reshape(1, 1).to(window.dtype)], dim=1)
        return torch.cat([source[0].cpu(), torch.cat(made).cpu()]).long()


def boundary_probs(model, grid_x: torch.Tensor | None, grid: int) -> dict[str, torch.Tensor]:
    """``boundary/probs`` (G, G, C) of ``model`` over the grid (empty without a grid)."""
    if grid_x is None:
        return {}
    with _eval(model) as m, torch.no_grad():
        p = _probabilities(m(grid_x).float())
    return {"boundary/probs": p.reshape(grid, grid, -1)}


class _eval:
    """The model in eval mode for a block, back to its former mode afterwards."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.was = self.model.training
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        self.model.train(self.was)
