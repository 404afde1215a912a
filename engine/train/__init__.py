"""Training: device choice, optimizers and LR schedules, the Trainer loop with its
callback interface, checkpoints as plain arrays."""
from .callbacks import Callback
from .checkpoint import load_checkpoint, save_checkpoint
from .device import select_device
from .errors import TrainError
from .optim import LRSchedule, build_optimizer
from .settings import resolve_settings
from .trainer import Trainer

__all__ = ["Callback", "LRSchedule", "TrainError", "Trainer", "build_optimizer", "load_checkpoint",
           "resolve_settings", "save_checkpoint", "select_device"]
