"""Training settings carried by a graph document: one schema, read by the document
validator, the settings panel and the trainer."""
from __future__ import annotations

from .catalogue.spec import Param

TRAINING_PARAMS: tuple[Param, ...] = (
    Param("optimizer", "choice", "adam", "The update rule.", choices=("sgd", "adam", "adamw", "rmsprop")),
    Param("lr", "float", 1e-3, "Learning rate: the step size of each update.", min=0.0, max=10.0),
    Param("momentum", "float", 0.9, "SGD/RMSprop momentum.", min=0.0, max=0.999),
    Param("nesterov", "bool", False, "Nesterov momentum (SGD only)."),
    Param("weight_decay", "float", 0.0, "L2 penalty on the weights (decoupled for AdamW).", min=0.0, max=1.0),
    Param("batch_size", "int", 64, "Samples per training step.", min=1, max=65536),
    Param("epochs", "int", 10, "Passes over the training split (unless steps is set).", min=1, max=100000),
    Param("steps", "int", None, "Stop after this many steps instead of after the epochs.", min=1, nullable=True),
    Param("schedule", "choice", "constant", "How the learning rate changes during training.",
          choices=("constant", "step", "cosine", "plateau")),
    Param("step_size", "int", 1000, "Step decay: multiply the LR by gamma every this many steps.", min=1, unit="steps"),
    Param("gamma", "float", 0.5, "Step decay / plateau factor.", min=0.0, max=1.0),
    Param("plateau_patience", "int", 3, "Reduce-on-plateau: validations without improvement before reducing.", min=1),
    Param("warmup_steps", "int", 0, "Linear warm-up of the LR over this many steps.", min=0, unit="steps"),
    Param("clip_norm", "float", None, "Clip the global gradient norm to this value.", min=0.0, nullable=True),
    Param("clip_value", "float", None, "Clip every gradient element to [-v, v].", min=0.0, nullable=True),
    Param("early_stopping", "int", None, "Stop after this many validations without a better validation loss.",
          min=1, nullable=True),
    Param("val_fraction", "float", 0.2, "Fraction of the data held out for validation.", min=0.0, max=0.9),
    Param("val_every", "int", None, "Validate every this many steps (empty: once per epoch).", min=1,
          nullable=True, unit="steps"),
    Param("seed", "int", 0, "Seed for weights, data order and generated datasets.", min=0),
    Param("device", "choice", "auto", "Where to train: auto picks CUDA, then Apple MPS, then CPU.",
          choices=("auto", "cpu", "cuda", "mps")),
    Param("mixed_precision", "bool", False, "Use float16 autocast (CUDA only)."),
    Param("init_weights", "str", None, "Start from the weights in this .safetensors file (named as in the "
          "exported PyTorch code: File > Export > Network Weights, or an imported module's) instead of a "
          "fresh initialisation; a relative path starts at the graph's folder.", nullable=True),
    Param("checkpoint_every", "int", 0, "Save a checkpoint (weights and optimizer) every this many steps, to "
          "fork from later (0: only at the end and when asked).", min=0, unit="steps"),
    Param("checkpoint_each_epoch", "bool", False, "Save a checkpoint at the end of every epoch."),
    Param("checkpoint_best", "bool", False, "Save a checkpoint whenever the validation loss is the best so far."),
    Param("keep_checkpoints", "int", 0, "Keep only the last this many checkpoints (and the best one); 0 keeps "
          "them all.", min=0),
    Param("threads", "int", None, "CPU threads for torch (empty: all cores but one, so the window and "
          "the other processes keep a core).", min=1, max=1024, nullable=True),
)

TRAINING_DEFAULTS = {p.name: p.default for p in TRAINING_PARAMS}


def inherited_settings(parent: dict, edits: dict | None = None) -> dict:
    """A fork's training settings: the parent run's (training settings only) with ``edits``
    on top, as Trainer overrides."""
    known = {p.name for p in TRAINING_PARAMS}
    return {k: v for k, v in parent.items() if k in known} | dict(edits or {})
