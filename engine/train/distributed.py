"""Data-parallel training over several processes (torch.distributed, DDP), launched with
``torchrun``: ``torchrun --nproc-per-node 2 -m engine train GRAPH --distributed``.

Every process builds the same model from the same seed and draws the same global batch of
``batch_size x world_size`` samples; process r trains on the r-th share of it, and DDP
averages the gradients, so a step is the step one process would take on the whole global
batch (up to the order of float additions). CUDA processes talk over NCCL, each on the GPU
of its local rank; CPU processes over gloo.

What is recorded, and from where (docs/remote.md): rank 0 alone writes the session and
runs the probes (activations, captures: rank 0's share of the batch, and the fixed probe
batch). The training loss and batch accuracy are averaged over all ranks every step; the
gradient norm is the same on every rank once DDP has averaged the gradients; validation
runs on every rank over the whole validation split, so every rank makes the same
decisions (LR plateau, early stopping). Checkpoints come from rank 0's plain module (no
``module.`` prefix), so they load into a single-process run as they are.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import TrainError
from .trainer import Trainer

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class Group:
    """This process's place in the process group."""
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    backend: str
    device: str

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def close(self, finished: bool = False) -> None:
        """Leave the group. ``finished``: every rank ran to its end, so they first wait for
        each other (rank 0 comes last: it closes the session), and no rank tears its
        connections down while a peer still talks on them. After a failure a peer may never
        come, so a failed rank leaves at once."""
        import torch.distributed as dist
        if not dist.is_initialized():
            return
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def join_group(requested_device: str | None) -> Group:
    """Join the process group torchrun set up (its environment variables), on the device
    this process should use. TrainError with a sentence when not launched by torchrun or
    the device cannot do it."""
    missing = [k for k in ENV if k not in os.environ]
    if missing:
        raise TrainError("--distributed runs under torchrun, which sets " + ", ".join(missing) +
                         ": e.g. torchrun --nproc-per-node 2 -m engine train GRAPH --distributed.",
                         kind="settings")
    import torch.distributed as dist
    if not dist.is_available():
        raise TrainError("This torch build has no torch.distributed.", kind="settings")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    req = (requested_device or "auto").strip().lower()
    if req.startswith("mps"):
        raise TrainError("Distributed training runs on CUDA GPUs (NCCL) or CPUs (gloo), not on "
                         "Apple's MPS.", kind="device")
    if req in ("auto", "cuda") and torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise TrainError(f"Process {rank} has local rank {local_rank}, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s): start at most that many "
                             f"processes per node.", kind="device")
        device, backend = f"cuda:{local_rank}", "nccl"
        torch.cuda.set_device(local_rank)
    elif req.startswith("cuda"):
        device, backend = req, "nccl"  # select_device says it when CUDA is missing
    else:
        device, backend = "cpu", "gloo"
        if not os.environ.get("OMP_NUM_THREADS"):  # the node's cores shared by its processes
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    try:
        dist.init_process_group(backend=backend)
    except (RuntimeError, ValueError) as exc:
        raise TrainError(f"Could not join the process group ({backend}): {exc}", kind="settings") from None
    return Group(rank, world, local_rank, local_world, backend, device)


class DistributedTrainer(Trainer):
    """The Trainer with DDP (see the module's docstring). Only rank 0 should be given
    recording callbacks; every rank must run the same steps."""

    def __init__(self, group: Group, doc, overrides: dict | None = None, **kw):
        self.group = group
        self.world_size, self.rank = group.world_size, group.rank
        super().__init__(doc, overrides={**(overrides or {}), "device": group.device}, **kw)
        if self.rank:  # different dropout masks on every rank (the weights came from the seed)
            torch.manual_seed(self.seed + 7919 * self.rank)
        from torch.nn.parallel import DistributedDataParallel
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.train_module = DistributedDataParallel(self.model, device_ids=ids)
        self._accuracy = None

    def _loss_value(self, loss: torch.Tensor, pred, target) -> float:
        """The mean over ranks of the loss (and of the batch accuracy), in one all-reduce;
        equal shares make it the loss of the whole global batch."""
        import torch.distributed as dist
        parts = [loss.detach().float().reshape(1)]
        classes = self.target_kind == "class"
        if classes:
            from .metrics import batch_accuracy
            parts.append(batch_accuracy(pred.detach(), target).reshape(1))
        both = torch.cat(parts)
        dist.all_reduce(both, op=dist.ReduceOp.SUM)
        both /= self.world_size
        self._accuracy = both[1] if classes else None
        return float(both[0])

    def batch_accuracy_later(self):
        """The batch accuracy over every rank's share (computed with the loss)."""
        accuracy = self._accuracy
        return None if accuracy is None else lambda: accuracy
