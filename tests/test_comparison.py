"""Tests of `tfxfer.compare_transfer` and its summaries and plot."""

import keras
import matplotlib
import numpy as np
import pandas as pd
import pytest

import tfxfer
from tfxfer.comparison import (
    COLUMNS,
    LabeledSubset,
    first_match,
    summarize_comparison,
)
from tfxfer.errors import InvalidDataError

matplotlib.use("Agg")


class _Constant:
    """A stand-in model that always predicts one class (no training cost)."""

    def __init__(self, label, num_classes):
        self.label = label
        self.num_classes = num_classes

    def predict(self, x, batch_size=None, verbose=0):
        out = np.zeros((len(x), self.num_classes), "float32")
        out[:, self.label] = 1.0
        return out


@pytest.fixture
def id_data():
    """Training rows hold their own index (>= 0), test rows negative ids."""
    y_train = np.repeat([0, 1, 2], 20)
    x_train = np.arange(60, dtype="float32").reshape(60, 1)
    y_test = np.array([0, 0, 1, 2])
    x_test = -1.0 - np.arange(4, dtype="float32").reshape(4, 1)
    return x_train, y_train, x_test, y_test


def _recording(seen, name, label=0, epochs=3):
    def strategy(subset):
        seen.append((name, subset))
        return _Constant(label, subset.num_classes), epochs

    return strategy


def test_compare_transfer_returns_one_row_per_run(id_data):
    seen = []
    results = tfxfer.compare_transfer(
        {"scratch": _recording(seen, "scratch"), "other": _recording(seen, "other", 1)},
        *id_data,
        fractions=(0.25, 1.0),
        seeds=(0, 1, 2),
        verbose=0,
    )
    assert list(results.columns) == list(COLUMNS)
    assert len(results) == 2 * 3 * 2
    assert results["n_labels"].tolist()[:2] == [15, 15]
    assert set(results.loc[results["fraction"] == 1.0, "n_labels"]) == {60}
    # Class 0 is half of the test set, class 1 a quarter.
    assert set(results.loc[results["strategy"] == "scratch", "accuracy"]) == {0.5}
    assert set(results.loc[results["strategy"] == "other", "accuracy"]) == {0.25}
    assert results["epochs"].tolist() == [3] * 12
    assert (results["train_seconds"] >= 0).all()


def test_compare_transfer_same_subset_for_every_strategy_and_no_test_rows(id_data):
    seen = []
    tfxfer.compare_transfer(
        {"scratch": _recording(seen, "scratch"), "other": _recording(seen, "other")},
        *id_data,
        fractions=(0.25, 0.5),
        seeds=(0, 1),
        verbose=0,
    )
    assert len(seen) == 8
    for (_, first), (_, second) in zip(seen[::2], seen[1::2]):
        assert np.array_equal(first.x, second.x)
        assert np.array_equal(first.x_val, second.x_val)
    for _, subset in seen:
        ids = np.concatenate([subset.x[:, 0], subset.x_val[:, 0]])
        assert (ids >= 0).all()  # never a test row
        assert len(np.unique(ids)) == len(ids)  # fit and validation disjoint
        # The labels travel with their rows.
        assert np.array_equal(
            subset.y, np.repeat([0, 1, 2], 20)[subset.x[:, 0].astype(int)]
        )
        assert subset.n_labels == len(ids)
    # Stratified: 25% of 20 rows per class is 5 per class.
    quarter = seen[0][1]
    counts = np.bincount(np.concatenate([quarter.y, quarter.y_val]), minlength=3)
    assert counts.tolist() == [5, 5, 5]
    assert len(quarter.y_val) == 3  # ceil(0.2 * 15)
    # Different seeds give different subsets.
    assert not np.array_equal(seen[0][1].x, seen[2][1].x)


def test_compare_transfer_is_reproducible(id_data):
    runs = []
    for _ in range(2):
        seen = []
        tfxfer.compare_transfer(
            {"scratch": _recording(seen, "scratch")},
            *id_data,
            fractions=0.5,
            seeds=3,
            verbose=0,
        )
        runs.append(seen[0][1].x)
    assert np.array_equal(runs[0], runs[1])


def test_compare_transfer_trains_real_keras_models(tiny_tabular, capsys):
    x, y = tiny_tabular

    def scratch(subset):
        model = tfxfer.MLPClassifier(num_classes=subset.num_classes, hidden_units=(4,))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(subset.x, subset.y, epochs=2, verbose=0)
        return model

    def two_stage(subset):
        model = tfxfer.MLPClassifier(num_classes=subset.num_classes, hidden_units=(4,))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        first = model.fit(subset.x, subset.y, epochs=1, verbose=0)
        second = model.fit(subset.x, subset.y, epochs=2, verbose=0)
        return model, [first, second]

    results = tfxfer.compare_transfer(
        {"scratch": scratch, "two-stage": two_stage},
        x[:24],
        y[:24],
        x[24:],
        y[24:],
        fractions=(1.0,),
        seeds=(0,),
    )
    # A bare model reports the epochs of its last fit; a list is summed.
    assert results["epochs"].tolist() == [2, 3]
    assert results["accuracy"].between(0, 1).all()
    out = capsys.readouterr().out
    assert "[1/2] scratch" in out and "[2/2] two-stage" in out


def test_compare_transfer_epochs_missing_when_not_reported(id_data):
    results = tfxfer.compare_transfer(
        {"scratch": lambda s: _Constant(0, s.num_classes)},
        *id_data,
        fractions=1.0,
        seeds=0,
        verbose=0,
    )
    assert results["epochs"].isna().all()


def test_compare_transfer_accepts_whole_float_labels(id_data):
    x_train, y_train, x_test, y_test = id_data
    results = tfxfer.compare_transfer(
        {"scratch": _recording([], "scratch")},
        x_train,
        y_train.astype(float),
        x_test,
        y_test,
        fractions=1.0,
        seeds=0,
        verbose=0,
    )
    assert results["accuracy"].iloc[0] == 0.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"strategies": {}}, "`strategies` must be a non-empty dict"),
        ({"strategies": {"scratch": 3}}, r"strategies\['scratch'\]=3"),
        ({"strategies": {"fine": lambda s: s}}, "`baseline` must name one of"),
        (
            {"fractions": (0.0, 1.0)},
            r"`fractions` must contain only numbers in \(0, 1\]",
        ),
        ({"fractions": (1.5,)}, "`fractions` must contain only numbers"),
        ({"fractions": (0.5, 0.5)}, "`fractions` must not repeat"),
        ({"fractions": ()}, "`fractions` must be a non-empty sequence"),
        ({"seeds": (-1,)}, "`seeds` must contain only integers >= 0"),
        ({"seeds": (1, 1)}, "`seeds` must not repeat"),
        ({"validation_split": 1.0}, "`validation_split` must be a number in"),
        ({"print_fn": "stdout"}, "`print_fn` must be a function"),
        (
            {"baseline": "base"},
            r"`baseline` must name one of `strategies` .*baseline='base'\. "
            r"Strategies: \['scratch'\]",
        ),
        (
            {"only_at": {"scratch": (1.0,)}},
            r"other than the baseline 'scratch' \(\[\]\)\. Received: only_at "
            r"with unknown keys \['scratch'\]",
        ),
    ],
)
def test_compare_transfer_rejects_bad_arguments(id_data, kwargs, match):
    arguments = {
        "strategies": {"scratch": _recording([], "scratch")},
        "fractions": (1.0,),
        "seeds": (0,),
        "verbose": 0,
    }
    arguments.update(kwargs)
    strategies = arguments.pop("strategies")
    with pytest.raises(ValueError, match=match):
        tfxfer.compare_transfer(strategies, *id_data, **arguments)


def test_compare_transfer_print_fn_receives_the_progress_lines(id_data, capsys):
    lines = []
    tfxfer.compare_transfer(
        {"scratch": _recording([], "scratch"), "other": _recording([], "other")},
        *id_data,
        fractions=(0.5, 1.0),
        seeds=(0,),
        print_fn=lines.append,
    )
    assert len(lines) == 4
    assert lines[0].startswith("[1/4] scratch  fraction 0.5")
    assert "accuracy 0.500" in lines[0]
    assert capsys.readouterr().out == ""


def test_compare_transfer_rejects_bad_labels(id_data):
    x_train, y_train, x_test, y_test = id_data
    strategies = {"scratch": _recording([], "scratch")}
    with pytest.raises(
        InvalidDataError, match="`y_train` must hold integer class labels"
    ):
        tfxfer.compare_transfer(
            strategies, x_train, y_train + 0.5, x_test, y_test, verbose=0
        )
    with pytest.raises(InvalidDataError, match=r"one label per input row \(4\)"):
        tfxfer.compare_transfer(strategies, x_train, y_train, x_test, y_test[:3])
    with pytest.raises(InvalidDataError, match="class indices >= 0"):
        tfxfer.compare_transfer(strategies, x_train, y_train - 1, x_test, y_test)


def test_compare_transfer_rejects_strategy_without_model(id_data):
    with pytest.raises(
        ValueError, match="Strategy 'scratch' must return a trained model"
    ):
        tfxfer.compare_transfer(
            {"scratch": lambda subset: "nothing"},
            *id_data,
            fractions=1.0,
            seeds=0,
            verbose=0,
        )


def test_compare_transfer_subset_too_small_for_validation():
    x = np.arange(4, dtype="float32").reshape(4, 1)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(InvalidDataError, match="too small to carve a validation split"):
        tfxfer.compare_transfer(
            {"scratch": _recording([], "scratch")},
            x,
            y,
            x,
            y,
            fractions=0.5,
            seeds=0,
            validation_split=0.9,
            verbose=0,
        )


def _frame(rows):
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


@pytest.fixture
def handmade():
    rows = []
    for seed, (a, b, c, d) in enumerate([(0.5, 0.8, 0.7, 0.9), (0.7, 0.8, 0.9, 0.9)]):
        rows += [
            ("scratch", 0.1, 10, seed, a, 1.0, 5),
            ("scratch", 1.0, 100, seed, c, 2.0, 7),
            ("fine-tune", 0.1, 10, seed, b, 3.0, 9),
            ("fine-tune", 1.0, 100, seed, d, 4.0, 11),
            ("frozen", 0.1, 10, seed, 0.1, 1.0, 2),
            ("frozen", 1.0, 100, seed, 0.2, 1.0, 2),
        ]
    return _frame(rows)


def test_summarize_comparison_means_and_spread(handmade):
    summary = summarize_comparison(handmade)
    assert (
        summary["strategy"].tolist()
        == ["scratch"] * 2 + ["fine-tune"] * 2 + ["frozen"] * 2
    )
    row = summary.iloc[0]
    assert row["accuracy_mean"] == pytest.approx(0.6)
    assert row["accuracy_std"] == pytest.approx(0.1)
    assert row["runs"] == 2 and row["n_labels"] == 10
    assert summary.iloc[3]["train_seconds"] == pytest.approx(4.0)
    assert summary.iloc[3]["epochs"] == pytest.approx(11.0)


def test_first_match_smallest_fraction_reaching_full_data_baseline(handmade):
    # scratch with all labels: 0.8; fine-tune reaches 0.8 with 10%.
    assert first_match(handmade) == {"fine-tune": 0.1, "frozen": None}
    # frozen: 0.2 with all labels is within 0.65 of 0.8, 0.1 with 10% is not.
    assert first_match(handmade, tolerance=0.65) == {"fine-tune": 0.1, "frozen": 1.0}


def test_first_match_rejects_unknown_baseline(handmade):
    with pytest.raises(
        ValueError, match="`baseline` must name a strategy in `results`"
    ):
        first_match(handmade, baseline="nope")


def test_plot_data_efficiency_draws_one_curve_per_strategy(handmade):
    ax = tfxfer.plot_data_efficiency(handmade, title="t", majority=0.55, chance=0.5)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [
        "scratch",
        "fine-tune",
        "frozen",
        "scratch, all labels (0.800)",
        "majority class (0.550)",
        "chance (0.500)",
    ]
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "t"
    levels = {
        line.get_label(): line.get_ydata()[0]
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }
    assert levels["scratch, all labels (0.800)"] == pytest.approx(0.8)
    assert levels["majority class (0.550)"] == pytest.approx(0.55)
    # Ticks at the label counts run, written as plain numbers.
    assert list(ax.get_xticks()) == [10, 100]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "100"]
    matplotlib.pyplot.close(ax.figure)


def test_plot_data_efficiency_keeps_equal_curves_visible(handmade):
    # Two strategies with the same numbers: different markers, and their
    # points side by side instead of on top of each other.
    twin = handmade[handmade["strategy"] == "fine-tune"].assign(strategy="twin")
    ax = tfxfer.plot_data_efficiency(pd.concat([handmade, twin]))
    # Each curve is an errorbar container: its first line is the data line.
    curves = {c.get_label(): c.lines[0] for c in ax.containers}
    assert curves["fine-tune"].get_marker() != curves["twin"].get_marker()
    np.testing.assert_allclose(
        curves["fine-tune"].get_ydata(), curves["twin"].get_ydata()
    )
    assert (curves["twin"].get_xdata() > curves["fine-tune"].get_xdata()).all()
    # The legend sits outside the axes (right of them), off the data.
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().x0 > ax.get_window_extent().x1 - 1
    matplotlib.pyplot.close(ax.figure)


def test_plot_data_efficiency_no_error_bars_for_one_seed(handmade):
    one = handmade[handmade["seed"] == 0]
    ax = tfxfer.plot_data_efficiency(one)
    assert not any(c.has_yerr for c in ax.containers)
    matplotlib.pyplot.close(ax.figure)
    ax = tfxfer.plot_data_efficiency(handmade)
    assert all(c.has_yerr for c in ax.containers)
    matplotlib.pyplot.close(ax.figure)


def test_plot_data_efficiency_rejects_bad_results(handmade):
    with pytest.raises(ValueError, match="must be the DataFrame returned by"):
        tfxfer.plot_data_efficiency([1, 2])
    with pytest.raises(ValueError, match=r"without the columns \['epochs'\]"):
        tfxfer.plot_data_efficiency(handmade.drop(columns="epochs"))
    with pytest.raises(ValueError, match="must not be empty"):
        tfxfer.plot_data_efficiency(handmade.iloc[:0])
    with pytest.raises(ValueError, match="`baseline` must name a strategy"):
        tfxfer.plot_data_efficiency(handmade, baseline="nope")
    with pytest.raises(ValueError, match="`majority`"):
        tfxfer.plot_data_efficiency(handmade, majority=1.5)


def test_labeled_subset_counts_both_parts():
    subset = LabeledSubset(
        np.zeros((3, 1)), np.zeros(3), np.zeros((1, 1)), np.zeros(1), 0.5, 0, 2
    )
    assert subset.n_labels == 4


def test_compare_transfer_unknown_epochs_type(id_data):
    with pytest.raises(ValueError, match="epochs is an int"):
        tfxfer.compare_transfer(
            {"scratch": lambda s: (_Constant(0, 3), "many")},
            *id_data,
            fractions=1.0,
            seeds=0,
            verbose=0,
        )


def test_compare_transfer_history_counts(id_data):
    history = keras.callbacks.History()
    history.epoch = [0, 1, 2, 3]
    results = tfxfer.compare_transfer(
        {"scratch": lambda s: (_Constant(0, 3), history)},
        *id_data,
        fractions=1.0,
        seeds=0,
        verbose=0,
    )
    assert results["epochs"].iloc[0] == 4
