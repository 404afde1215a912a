"""The switches that change float results, which the capture helper copies from the
training process so that it computes bit for bit what inline would."""
from __future__ import annotations

import torch


def numerics() -> dict:
    """The switches that change float results (TF32, deterministic kernels, cuDNN's
    algorithm choice): the helper copies them, so that it computes what inline would."""
    return {"tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "matmul_precision": torch.get_float32_matmul_precision(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark, "cudnn": torch.backends.cudnn.enabled,
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled()}


def apply_numerics(n: dict) -> None:
    torch.backends.cuda.matmul.allow_tf32 = n["tf32_matmul"]
    torch.backends.cudnn.allow_tf32 = n["tf32_cudnn"]
    torch.set_float32_matmul_precision(n["matmul_precision"])
    torch.backends.cudnn.deterministic = n["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = n["cudnn_benchmark"]
    torch.backends.cudnn.enabled = n["cudnn"]
    torch.use_deterministic_algorithms(n["deterministic"], warn_only=n["deterministic_warn_only"])
