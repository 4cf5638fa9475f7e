"""`tfxfer demo`: does transfer beat training from scratch? Measured, offline.

Three comparisons on bundled data, each a `tfxfer.compare_transfer` run of a
from-scratch baseline against transfer strategies (`tfxfer.comparison`'s,
on `tfxfer.Trainer` and `tfxfer.FineTuner`: no Keras `fit`), over growing
fractions of the target task's training labels and several seeds:

- `domain-shift` (`domain_shift.py`): a digits CNN pretrained on clean
  digits, transferred to *other* digits images with Gaussian pixel noise.
  Same classes, shifted inputs: the case where transfer is expected to help.
- `digits` (`digits.py`): the bundled CNN pretrained on digits 0-4,
  transferred to digits 5-9. Related images, new classes: it may not help.
- `text` (`text.py`): E7's news -> product reviews on Kim (2014)'s
  sentence sets: bodies pretrained on MR (movie reviews) and MPQA (news
  opinions), Word2Vec vectors pretrained on unlabeled text, GloVe 6B 50d,
  and the real pretrained sentence encoder all-MiniLM-L6-v2 (frozen,
  features cached on disk, and fine-tuned where 2 CPU cores afford it),
  transferred to CR (product reviews); against scratch and a TF-IDF +
  logistic regression baseline.

Every scenario reports the test accuracy per strategy and label fraction,
the training time, a verdict in plain words (`tfxfer.comparison.summary`)
and the smallest fraction at which each transfer strategy reached the
baseline's full-data accuracy. `run_demo` returns them; `tfxfer demo` prints
them and writes CSV, Markdown and PNG files (`outputs.py`).

Before training, every scenario also scores its transfer sources with
`tfxfer.transferability`'s LogME, LEEP, NCE and H-score on the labels each
fraction trains on, and reports how well each score ranked the sources by
their measured accuracy (`scores.py`).
"""

from tfxfer.comparison import format_matches, format_table, write_verdict
from tfxfer.demo.outputs import (
    format_report,
    format_scenario,
    plot_scenario,
    save_outputs,
)
from tfxfer.demo.run import (
    SCENARIO_BUILDERS,
    SCENARIOS,
    prepare_process,
    run_demo,
    run_scenario,
)
from tfxfer.demo.settings import BASELINE, Scenario, ScenarioResult, Settings

__all__ = [
    "BASELINE",
    "SCENARIOS",
    "SCENARIO_BUILDERS",
    "Scenario",
    "ScenarioResult",
    "Settings",
    "format_matches",
    "format_report",
    "format_scenario",
    "format_table",
    "plot_scenario",
    "prepare_process",
    "run_demo",
    "run_scenario",
    "save_outputs",
    "write_verdict",
]
