"""What the demo trains and what it hands back."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfxfer.comparison import FitSettings

BASELINE = "scratch"
BATCH_SIZE = 64
MIN_EPOCH_EXAMPLES = 512
STEPS_PER_EXECUTION = 16
IMAGE_SCENARIOS = ("domain-shift", "digits")


@dataclasses.dataclass(frozen=True)
class Settings:
    """How much the demo trains: label fractions, seeds and epoch budget.

    Attributes:
        fractions: Fractions of the target task's training labels.
        image_fractions: Fractions for the image scenarios, if they differ
            (their 2 % is about one label per class: noise, not a measure).
        num_seeds: Seeds per fraction (`seed`, `seed + 1`, ...).
        max_epochs: Most epochs per training stage.
        patience: Early-stopping patience, in epochs.
        min_epochs: Epochs run before early stopping may stop.
        quick: Whether this is the `--quick` smoke run.
    """

    fractions: tuple[float, ...]
    num_seeds: int
    max_epochs: int
    patience: int
    min_epochs: int
    quick: bool = False
    image_fractions: tuple[float, ...] | None = None

    @classmethod
    def full(cls) -> Settings:
        return cls(
            fractions=(0.02, 0.05, 0.25, 1.0),
            image_fractions=(0.05, 0.25, 1.0),
            num_seeds=3,
            max_epochs=10,
            patience=2,
            min_epochs=2,
        )

    @classmethod
    def quick_run(cls) -> Settings:
        return cls(
            fractions=(0.05, 1.0),
            num_seeds=1,
            max_epochs=3,
            patience=1,
            min_epochs=1,
            quick=True,
        )

    @classmethod
    def get(cls, quick: bool) -> Settings:
        return cls.quick_run() if quick else cls.full()

    @property
    def fit(self) -> FitSettings:
        """The per-run training settings of the strategies."""
        return FitSettings(
            max_epochs=self.max_epochs,
            patience=self.patience,
            min_epochs=self.min_epochs,
            batch_size=BATCH_SIZE,
            min_epoch_examples=MIN_EPOCH_EXAMPLES,
            steps_per_execution=STEPS_PER_EXECUTION,
        )

    def fractions_for(self, scenario: str) -> tuple[float, ...]:
        """The label fractions of one scenario."""
        if scenario in IMAGE_SCENARIOS and self.image_fractions is not None:
            return self.image_fractions
        return self.fractions

    def seeds(self, seed: int) -> tuple[int, ...]:
        return tuple(range(seed, seed + self.num_seeds))

    def describe(self) -> str:
        """One line: quick or full, seeds, fractions and epochs."""

        def percents(fractions):
            return ", ".join(f"{100 * f:g}%" for f in fractions)

        fractions = percents(self.fractions)
        if self.image_fractions is not None:
            fractions += f" (image scenarios: {percents(self.image_fractions)})"
        seeds = f"{self.num_seeds} seed{'s' if self.num_seeds > 1 else ''}"
        return (
            f"{'quick (smoke) run' if self.quick else 'full run'}: {seeds}; label "
            f"fractions {fractions}; at most {self.max_epochs} epochs per training "
            f"stage, early stopping on the validation loss (patience "
            f"{self.patience}, never before epoch {self.min_epochs}); an epoch "
            f"is at least {MIN_EPOCH_EXAMPLES} examples (a small subset is "
            "repeated)"
        )


@dataclasses.dataclass
class Scenario:
    """A built scenario: its strategies and data, ready for `compare_transfer`.

    Attributes:
        title: One-line description of source and target.
        strategies: Strategy name -> strategy (the baseline first).
        descriptions: Strategy name -> what it does, in one line.
        data: `(x_train, y_train, x_test, y_test)` of the target task.
        pretrain_seconds: Time spent pretraining on the source task(s) in
            the demo (0 when a bundled pretrained model was loaded).
        notes: Extra lines for the report (e.g. what the source models
            reached on their own task).
        no_transfer: Strategies besides the baseline that transfer nothing
            (never counted as transfer in the verdict).
        only_at: Strategies run only at some label fractions (too costly for
            all of them), mapped to those fractions (`compare_transfer`'s
            `only_at`).
        references: Published accuracies on the same target, `(who and
            what, accuracy)`, set beside the measured full-data ones in the
            report.
        sources: The transfer sources to score before training, by name
            (`tfxfer.demo.scores.TransferSource`: features of the training
            inputs, source-head probabilities, the strategies that start
            from it).
    """

    title: str
    strategies: dict[str, Any]
    descriptions: dict[str, str]
    data: tuple
    pretrain_seconds: float
    notes: tuple[str, ...] = ()
    no_transfer: tuple[str, ...] = ()
    only_at: dict[str, tuple[float, ...]] = dataclasses.field(default_factory=dict)
    references: tuple[tuple[str, float], ...] = ()
    sources: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ScenarioResult:
    """What the demo measured for one scenario.

    Attributes:
        name: Scenario name (`"domain-shift"`, `"digits"` or `"text"`).
        title: One-line description of source and target.
        results: One row per run (`compare_transfer`'s DataFrame).
        summary: Mean and spread per strategy and fraction
            (`summarize_comparison`).
        matches: Smallest fraction at which each transfer strategy reached
            the baseline's full-data accuracy, or `None` (`first_match`).
        verdict: The conclusion in plain words (`write_verdict`).
        pretrain_seconds: Time spent pretraining on the source task inside
            the demo (0 when a bundled pretrained model was loaded).
        n_test: Number of test examples every model was scored on.
        descriptions: Strategy name -> what it does, in one line.
        majority: Test accuracy of always predicting the most frequent class.
        chance: 1 / number of classes.
        settings: The `Settings` the scenario ran with.
        notes: Extra lines for the report.
        references: Published accuracies on the same target (see `Scenario`).
        scores: Each source's transferability scores beside the accuracy of
            its best strategy, one row per fraction and source
            (`tfxfer.demo.scores.source_table`), or `None`.
        score_correlations: Kendall's tau and Pearson's r of each score
            against that accuracy (`tfxfer.demo.scores.correlations`), or
            `None`.
    """

    name: str
    title: str
    results: Any
    summary: Any
    matches: dict[str, float | None]
    verdict: str
    pretrain_seconds: float
    n_test: int
    descriptions: dict[str, str] = dataclasses.field(default_factory=dict)
    majority: float | None = None
    chance: float | None = None
    settings: Settings | None = None
    notes: tuple[str, ...] = ()
    references: tuple[tuple[str, float], ...] = ()
    scores: Any = None
    score_correlations: Any = None
