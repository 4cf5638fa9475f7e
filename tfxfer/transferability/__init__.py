"""Transferability estimation: which pretrained source will transfer best,
from one forward pass over a labelled target sample, before any fine-tuning.

- `logme`: log maximum evidence of a linear model on the features (You et
  al., ICML 2021); classification or regression.
- `leep`: log expected empirical prediction of a source classifier's outputs
  (Nguyen et al., ICML 2020).
- `nce`: negative conditional entropy of the target labels given a source
  classifier's predicted labels (Tran et al., ICCV 2019).
- `h_score`: between-class over total covariance of the features (Bao et
  al., ICIP 2019).
- `score_sources`: all of them for several named candidates, as a ranked
  table.

The scores are computed in NumPy at float64 and equal the published
reference implementations (thuml/LogME, TLlib's `tllib/ranking`) on
well-conditioned inputs. How well a score ranks sources varies by task: check
it against accuracies measured on yours.
"""

from tfxfer.transferability.hscore import h_score
from tfxfer.transferability.leep import leep
from tfxfer.transferability.logme import logme
from tfxfer.transferability.nce import nce
from tfxfer.transferability.ranking import SCORES, score_sources

__all__ = ["SCORES", "h_score", "leep", "logme", "nce", "score_sources"]
