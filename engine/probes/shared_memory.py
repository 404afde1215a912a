"""The shared-memory files the training process and its capture helper both map (one per
helper slot), and the layout of the tensors packed in them: each side makes its own views
of the same bytes from one layout list, so nothing is copied between them but the bytes."""
from __future__ import annotations

import os
import tempfile

import torch


def dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).replace("torch.", "")


def layout_of(tensors, offset: int = 0) -> tuple[list, int]:
    """[[name, dtype, shape, byte offset]] of ``tensors`` (name, tensor) packed from
    ``offset`` at 64-byte boundaries, and the end offset."""
    out = []
    for name, t in tensors:
        offset = -(-offset // 64) * 64
        out.append([name, dtype_name(t), list(t.shape), offset])
        offset += t.numel() * t.element_size()
    return out, offset


def views(flat: torch.Tensor, layout) -> list[torch.Tensor]:
    out = []
    for _, dtype, shape, offset in layout:
        dt = getattr(torch, dtype)
        n = dt.itemsize
        for d in shape:
            n *= d
        out.append(flat[offset:offset + n].view(dt).view(shape))
    return out


def _folder() -> str:
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def shared_file(size: int, kind: str) -> tuple[str, torch.Tensor]:
    """A new file mapped shared, named after this process (see :func:`sweep`)."""
    fd, path = tempfile.mkstemp(prefix=f"neurostudio-{os.getpid()}-{kind}-", dir=_folder())
    os.close(fd)
    return path, torch.from_file(path, shared=True, size=max(64, size), dtype=torch.uint8)


def sweep() -> None:
    """Remove the slot files of training processes that no longer exist (killed before
    their helper had mapped them; a file is unlinked as soon as both sides have it)."""
    try:
        names = os.listdir(_folder())
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) < 3 or parts[0] != "neurostudio" or not parts[1].isdigit():
            continue
        try:
            os.kill(int(parts[1]), 0)
        except ProcessLookupError:
            try:
                os.unlink(os.path.join(_folder(), name))
            except OSError:
                pass
        except OSError:
            pass  # alive (another user's): not ours to remove
