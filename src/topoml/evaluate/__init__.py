"""Evaluation: the one accuracy and its breakdowns (:mod:`topoml.evaluate.metrics`) and lattices → Chern
numbers by a network (:mod:`topoml.evaluate.predict`). Importing the package does not import torch."""

from topoml.evaluate.metrics import (accuracy, accuracy_breakdown, chern_baselines, confidence_table, mean_spread,
                                     per_label_accuracy)
from topoml.evaluate.predict import (check_lattices, check_net_size, load_chern_model, load_lattices,
                                     packaged_weights, predict_chern)

__all__ = [
    "accuracy", "per_label_accuracy", "mean_spread", "chern_baselines", "accuracy_breakdown", "confidence_table",
    "check_lattices", "load_lattices", "load_chern_model", "check_net_size", "packaged_weights", "predict_chern",
]
