"""Datasets: built-in generators (``registry``), the user's files (``files``), and the one
entry point ``load_dataset(ref, seed, val_fraction)`` that splits and normalises them."""
from .augment import augment_batch
from .base import ArrayDataset, DataError, DatasetInfo
from .compat import check_compatible
from .load import load_dataset
from .paths import DataAccess
from .registry import DATASETS, DatasetSpec, describe, generate, resolve_params

__all__ = ["ArrayDataset", "DATASETS", "DataAccess", "DataError", "DatasetInfo", "DatasetSpec", "augment_batch",
           "check_compatible", "describe", "generate", "load_dataset", "resolve_params"]
