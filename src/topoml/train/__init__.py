"""Training: the one training loop (:mod:`topoml.train.trainer`) and the network files
(:mod:`topoml.train.checkpoint`, safetensors, no pickles)."""

from topoml.train.checkpoint import (load_model, load_state_bytes, load_weights, model_bytes, read_model_metadata,
                                     state_bytes)
from topoml.train.trainer import (BatchSource, TrainConfig, Trainer, check_array, chern_class_loss, chern_loss, curves,
                                  decimation_batches, fit_arrays, l2_penalty, mse_loss, predict, regression_evaluator,
                                  run_net, symmetry_augmented, tensor_batches)

__all__ = [
    "TrainConfig", "Trainer", "BatchSource", "fit_arrays", "predict", "check_array", "run_net", "mse_loss",
    "chern_loss", "chern_class_loss", "l2_penalty", "regression_evaluator", "curves", "tensor_batches",
    "decimation_batches", "symmetry_augmented",
    "state_bytes", "load_state_bytes", "load_weights", "model_bytes", "load_model", "read_model_metadata",
]
