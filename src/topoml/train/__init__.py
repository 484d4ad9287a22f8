"""Training: the one training loop (:mod:`topoml.train.trainer`) and the network files
(:mod:`topoml.train.checkpoint`, safetensors, no pickles).

The names below load on first use: importing the package (or :func:`read_model_metadata`, which reads a
file's JSON header) does not import torch.
"""

from __future__ import annotations

import importlib

_CHECKPOINT = ("state_bytes", "load_state_bytes", "load_weights", "model_bytes", "load_model", "read_model_metadata")
_TRAINER = ("TrainConfig", "Trainer", "BatchSource", "fit_arrays", "predict", "check_array", "run_net", "mse_loss",
            "chern_loss", "chern_class_loss", "chern_expected_loss", "l2_penalty", "regression_evaluator", "curves",
            "tensor_batches", "decimation_batches", "symmetry_augmented", "random_symmetries", "native_bfloat16", "resolve_precision",
            "auxiliary_loss", "auxiliary_targets", "StandardizedEnergies")
__all__ = [*_TRAINER, *_CHECKPOINT]


def __getattr__(name: str):
    if name in _CHECKPOINT or name in _TRAINER:
        module = "checkpoint" if name in _CHECKPOINT else "trainer"
        return getattr(importlib.import_module(f"topoml.train.{module}"), name)
    raise AttributeError(f"module 'topoml.train' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
