"""Image augmentation applied per training batch, in torch, on the batch's device."""
from __future__ import annotations

import torch

from .base import DataError, DatasetInfo

AUGMENT_OPTIONS = {
    "flip": "random horizontal flip (true/false)",
    "crop": "random crop after zero padding by this many pixels (0 = off)",
    "jitter": "random brightness and per-channel colour change of up to this much (0 = off)",
}


def check_augment_options(options, info: DatasetInfo) -> dict:
    """The augmentation options as a clean dict; DataError for a bad one or a non-image dataset."""
    if not options:
        return {}
    if not isinstance(options, dict):
        raise DataError(f"Augmentation options must be an object like {{\"flip\": true}}, got {options!r}.")
    if info.kind != "image" or len(info.input_shape) != 3:
        raise DataError(f"Augmentation applies to images only; dataset '{info.name}' gives {info.kind} samples.")
    for key, value in options.items():
        if key not in AUGMENT_OPTIONS:
            raise DataError(f"Unknown augmentation option '{key}'; the options are flip, crop and jitter.")
        if key == "flip" and not isinstance(value, bool):
            raise DataError(f"Augmentation option 'flip' must be true or false, got {value!r}.")
        if key == "crop" and (isinstance(value, bool) or not isinstance(value, int)
                              or not 0 <= value <= min(info.input_shape[1:]) // 2):
            raise DataError(f"Augmentation option 'crop' must be a whole number of pixels from 0 to "
                            f"{min(info.input_shape[1:]) // 2}, got {value!r}.")
        if key == "jitter" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                or not 0 <= value <= 1):
            raise DataError(f"Augmentation option 'jitter' must be a number from 0 to 1, got {value!r}.")
    return dict(options)


def _uniform(shape, generator: torch.Generator, device) -> torch.Tensor:
    # Draw on the generator's device (a CPU generator cannot fill a CUDA tensor), then move.
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def augment_batch(xb: torch.Tensor, options: dict, generator: torch.Generator) -> torch.Tensor:
    """A randomly augmented copy of an image batch (N, C, H, W). Every sample gets its own
    flip, crop offset and jitter; the whole batch is done in a few tensor ops."""
    if not options or xb.dim() != 4:
        return xb
    n, c, h, w = xb.shape
    dev = xb.device
    if options.get("flip"):
        flip = _uniform((n, 1, 1, 1), generator, dev) < 0.5
        xb = torch.where(flip, xb.flip(-1), xb)
    pad = int(options.get("crop", 0) or 0)
    if pad > 0:
        padded = torch.nn.functional.pad(xb, (pad, pad, pad, pad))
        offsets = (_uniform((n, 2), generator, dev) * (2 * pad + 1)).long().clamp_(max=2 * pad)
        rows = (offsets[:, :1] + torch.arange(h, device=dev))[:, None, :, None]   # (N, 1, H, 1)
        cols = (offsets[:, 1:] + torch.arange(w, device=dev))[:, None, None, :]   # (N, 1, 1, W)
        batch = torch.arange(n, device=dev)[:, None, None, None]
        chan = torch.arange(c, device=dev)[None, :, None, None]
        xb = padded[batch, chan, rows, cols]
    amount = float(options.get("jitter", 0) or 0)
    if amount > 0:
        scale = 1 + amount * (2 * _uniform((n, 1, 1, 1), generator, dev) - 1)
        scale = scale * (1 + 0.5 * amount * (2 * _uniform((n, c, 1, 1), generator, dev) - 1))
        shift = amount * (2 * _uniform((n, 1, 1, 1), generator, dev) - 1)
        xb = xb * scale.to(xb.dtype) + shift.to(xb.dtype)
    return xb
