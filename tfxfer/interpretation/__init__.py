"""Where a classifier goes wrong: its confusion matrix and worst examples.

- `show_results`: predicts a labelled set and returns a
  `ClassificationResults` (fastai's `ClassificationInterpretation` is the
  anchor): `accuracy`, `confusion` and `worst` as pandas DataFrames,
  `most_confused()` and a matplotlib `figure`.
- `results`: `ClassificationResults`. `plot`: its figure.
"""

from tfxfer.interpretation.results import ClassificationResults
from tfxfer.interpretation.show_results import show_results

__all__ = ["ClassificationResults", "show_results"]
