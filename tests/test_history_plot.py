"""Tests of tfxfer.plot_history (tfxfer/training/history_plot.py)."""

import numpy as np
import pytest

import tfxfer

pytest.importorskip("matplotlib")


def test_plot_history_refuses_a_metric_without_epochs():
    with pytest.raises(
        ValueError,
        match=r"`history` must hold at least one epoch of every metric to plot; "
        r"\['loss'\] hold none .*Received: \{'loss': \[\]\}",
    ):
        tfxfer.plot_history({"loss": []})
    with pytest.raises(ValueError, match=r"\['accuracy'\] hold none"):
        tfxfer.plot_history({"loss": [0.5], "accuracy": []}, ("loss", "accuracy"))


def test_plot_history_draws_one_point_per_epoch():
    figure = tfxfer.plot_history({"loss": np.array([0.9, 0.5, 0.4])})
    (line,) = figure.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
