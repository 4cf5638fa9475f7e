"""Measure whether transfer beat training from scratch, and by how much.

- `runs`: `compare_transfer` trains a from-scratch baseline and any number
  of transfer strategies on seeded, stratified subsets of the *training*
  labels and scores every model on the same held-out test set.
- `strategies`: ready-made strategies on `tfxfer.Trainer` and
  `tfxfer.FineTuner` (scratch, frozen features, fine-tuning, the whole
  source model, a TF-IDF + logistic-regression baseline).
- `summary`: mean and spread per strategy and fraction, the first fraction
  at which a strategy matched the baseline's full-data accuracy, and the
  verdict in plain words.
- `report`: Markdown tables. `plot`: accuracy against the number of labels.
"""

from tfxfer.comparison.plot import plot_data_efficiency
from tfxfer.comparison.report import format_matches, format_table
from tfxfer.comparison.runs import (
    COLUMNS,
    LabeledSubset,
    Strategy,
    compare_transfer,
    predict_eagerly,
)
from tfxfer.comparison.strategies import (
    FitSettings,
    fine_tune_strategy,
    frozen_features_strategy,
    scratch_strategy,
    softmax_head,
    tfidf_strategy,
    whole_model_strategy,
)
from tfxfer.comparison.summary import (
    compare_to_baseline,
    first_match,
    summarize_comparison,
    write_verdict,
)

__all__ = [
    "COLUMNS",
    "FitSettings",
    "LabeledSubset",
    "Strategy",
    "compare_to_baseline",
    "compare_transfer",
    "fine_tune_strategy",
    "first_match",
    "format_matches",
    "format_table",
    "frozen_features_strategy",
    "plot_data_efficiency",
    "predict_eagerly",
    "scratch_strategy",
    "softmax_head",
    "summarize_comparison",
    "tfidf_strategy",
    "whole_model_strategy",
    "write_verdict",
]
