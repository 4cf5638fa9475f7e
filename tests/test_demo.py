"""Tests of `tfxfer demo` and the comparison strategies it runs: verdict
wording on known numbers, reused Trainers, and the quick run end to end in a
fresh process (the text scenario with Keras `fit` disabled)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pandas as pd
import pytest

import tfxfer
from tfxfer import cli, demo
from tfxfer.comparison import (
    COLUMNS,
    FitSettings,
    LabeledSubset,
    fine_tune_strategy,
    first_match,
    frozen_features_strategy,
    scratch_strategy,
    softmax_head,
    summarize_comparison,
    tfidf_strategy,
    whole_model_strategy,
)


def _results(rows):
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


@pytest.fixture
def known():
    rows = []
    for seed, noise in enumerate((-0.01, 0.01)):
        rows += [
            ("scratch", 0.1, 10, seed, 0.50 + noise, 1.0, 5),
            ("scratch", 1.0, 100, seed, 0.86 + noise, 2.0, 7),
            ("fine-tune", 0.1, 10, seed, 0.87 + noise, 3.0, 9),
            ("fine-tune", 1.0, 100, seed, 0.90 + noise, 4.0, 11),
            ("frozen", 0.1, 10, seed, 0.40 + noise, 1.0, 2),
            ("frozen", 1.0, 100, seed, 0.855 + noise, 1.0, 2),
        ]
    return _results(rows)


def test_write_verdict_names_wins_losses_and_first_match(known):
    summary = summarize_comparison(known)
    verdict = demo.write_verdict(summary, first_match(known), n_test=300)
    lines = verdict.splitlines()
    assert lines[0] == "Transfer beat training from scratch in some settings:"
    assert lines[1].startswith(
        "- fine-tune: beat scratch with 10% and 100% of the labels "
        "(by +0.370 and +0.040 accuracy)."
    )
    assert (
        "first reached scratch's accuracy with all labels (0.860, 100 labels) "
        "with 10% of them (10 labels: 0.870)"
    ) in lines[1]
    assert lines[2].startswith(
        "- frozen: was worse with 10% of the labels (by -0.100 accuracy)"
    )
    assert "was within noise of it with 100%" in lines[2]
    assert "never reached scratch's accuracy with all labels (0.860)" in lines[2]
    assert "mean over 2 seeds" in lines[3]


def test_write_verdict_no_win_when_within_one_test_example(known):
    # 0.5 + 0.002 is less than one example of 50 above scratch: not a win.
    close = known.copy()
    close.loc[close["strategy"] == "fine-tune", "accuracy"] = [0.492, 0.85, 0.512, 0.87]
    close = close[close["strategy"] != "frozen"]
    verdict = demo.write_verdict(summarize_comparison(close), first_match(close), 50)
    assert verdict.startswith("Transfer did not beat training from scratch at any")
    assert "was within noise of it with 10% and 100%" in verdict


def test_format_table_has_a_row_per_strategy_and_a_column_per_fraction(known):
    table = demo.format_table(summarize_comparison(known))
    lines = table.splitlines()
    assert lines[0] == "| strategy | 10% (10 labels) | 100% (100 labels) |"
    assert lines[2] == "| scratch | 0.500 ± 0.010 (1.0 s) | 0.860 ± 0.010 (2.0 s) |"
    assert len(lines) == 5


def test_single_seed_has_no_spread_and_no_verdict(known):
    one = known[known["seed"] == 0]
    summary = summarize_comparison(one)
    table = demo.format_table(summary)
    assert "±" not in table
    assert "| scratch | 0.490 (1.0 s) | 0.850 (2.0 s) |" in table
    verdict = demo.write_verdict(summary, first_match(one), n_test=300)
    assert verdict.startswith("Single seed:")
    for claim in ("beat", "worse", "within noise", "did not"):
        assert claim not in verdict
    assert "- fine-tune: scored higher than scratch with 10% and 100%" in verdict
    assert "one seed" in verdict.splitlines()[-1]


def test_run_demo_rejects_unknown_task():
    with pytest.raises(ValueError, match="`tasks` must be one of"):
        demo.run_demo(["imagenet"])


def test_run_demo_rejects_bad_jobs():
    with pytest.raises(ValueError, match="`jobs` must be a positive integer"):
        demo.run_demo(["digits"], jobs=0)


def _tiny_source(num_classes=3):
    inputs = keras.Input((6,))
    features = keras.layers.Dense(4, activation="relu", name="features")(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(
        features
    )
    return keras.Model(inputs, outputs)


def _tiny_strategies(settings):
    keras.utils.set_random_seed(7)
    source = _tiny_source()
    extractor = tfxfer.feature_extractor(source, "features")

    def with_new_head(num_classes):
        inputs = keras.Input((6,))
        base = keras.models.clone_model(extractor)
        base.set_weights(extractor.get_weights())
        body = keras.Model(base.inputs[0], base.outputs[0], name="base")
        head = softmax_head(4, num_classes)
        return keras.Model(inputs, head(body(inputs)))

    return {
        "scratch": scratch_strategy(_tiny_source, 3, settings),
        "frozen": frozen_features_strategy(extractor, 3, settings),
        "fine-tune": fine_tune_strategy(with_new_head, "base", 3, settings),
        "source head": whole_model_strategy(source, settings),
    }


def test_reused_trainers_give_each_run_the_result_of_a_fresh_model():
    # Strategies keep one Trainer (or FineTuner) and reset it for every run:
    # a run must give the same result whether or not other runs came before.
    rng = np.random.default_rng(0)
    x = rng.random((90, 6), dtype=np.float32)
    y = (x[:, 0] * 3).astype("int64").clip(0, 2)
    settings = FitSettings(
        max_epochs=3, patience=1, min_epochs=1, batch_size=16, min_epoch_examples=32
    )
    data = (x[:60], y[:60], x[60:], y[60:])
    after_others = tfxfer.compare_transfer(
        _tiny_strategies(settings), *data, fractions=(0.5, 1.0), seeds=(0, 1)
    )
    alone = tfxfer.compare_transfer(
        _tiny_strategies(settings), *data, fractions=(1.0,), seeds=(1,), verbose=0
    )
    later = after_others[
        (after_others["fraction"] == 1.0) & (after_others["seed"] == 1)
    ]
    assert list(later["strategy"]) == list(alone["strategy"])
    np.testing.assert_array_equal(later["accuracy"], alone["accuracy"])
    np.testing.assert_array_equal(later["epochs"], alone["epochs"])
    # The fine-tuned runs trained both stages (head, then everything).
    fine_tuned = after_others[after_others["strategy"] == "fine-tune"]
    assert (fine_tuned["epochs"] > 3).all()


def test_strategies_do_not_call_keras_fit(monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("keras.Model.fit was called")

    monkeypatch.setattr(keras.Model, "fit", no_fit)
    rng = np.random.default_rng(1)
    x = rng.random((60, 6), dtype=np.float32)
    y = (x[:, 0] * 3).astype("int64").clip(0, 2)
    settings = FitSettings(max_epochs=2, patience=1, min_epochs=1, batch_size=16)
    results = tfxfer.compare_transfer(
        _tiny_strategies(settings),
        x[:40],
        y[:40],
        x[40:],
        y[40:],
        fractions=(1.0,),
        seeds=(0,),
        verbose=0,
    )
    assert len(results) == 4


def test_tfidf_strategy_on_token_ids():
    # Class 0 sentences use ids 2-4, class 1 ids 5-7: TF-IDF + logistic
    # regression separates them; padding (0) and OOV (1) are ignored.
    rng = np.random.default_rng(0)
    y = np.arange(80) % 2
    x = np.where(
        y[:, None] == 0, rng.integers(2, 5, (80, 6)), rng.integers(5, 8, (80, 6))
    )
    x[:, 4:] = 0
    x[:, 3] = 1
    results = tfxfer.compare_transfer(
        {"scratch": tfidf_strategy(), "again": tfidf_strategy()},
        x[:60],
        y[:60],
        x[60:],
        y[60:],
        fractions=(1.0,),
        seeds=(0,),
        verbose=0,
    )
    assert (results["accuracy"] == 1.0).all()
    assert results["epochs"].isna().all()


def test_demo_command_rejects_unknown_task(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--task", "imagenet"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err


def _run_demo_command(tmp_path, *arguments):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-m", "tfxfer.cli", "demo", *arguments],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.slow
def test_demo_numbers_do_not_depend_on_jobs(tmp_path):
    # With one scenario and two processes, its fractions are split between
    # the processes; the numbers must be those of a single process.
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs-{jobs}"
        result = _run_demo_command(
            tmp_path, "--quick", "--task", "digits", "--jobs", jobs, "--out", str(out)
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"{jobs} process" in result.stdout
        runs[jobs] = pd.read_csv(out / "results.csv")
    columns = ["strategy", "fraction", "seed", "accuracy", "epochs"]
    pd.testing.assert_frame_equal(runs["1"][columns], runs["2"][columns])


def test_demo_command_rejects_bad_jobs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--jobs", "0"])
    assert exit_info.value.code == 2
    assert "must be a positive integer, got '0'" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path):
    out = tmp_path / "demo-out"
    result = _run_demo_command(tmp_path, "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    stdout = result.stdout
    for name in demo.SCENARIOS:
        assert f"### {name}" in stdout
        assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Progress: one line per training run, named by scenario.
    # domain-shift: 2 fractions x 5 strategies (the random CNN control too)
    assert "domain-shift [ 1/10] scratch" in stdout
    # One seed: a "Single seed" caveat per scenario, no spread, no verdict.
    assert stdout.count("Single seed:") == 3
    assert "±" not in stdout
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == ["scenario", *COLUMNS]
    assert set(results["scenario"]) == set(demo.SCENARIOS)
    assert set(results["fraction"]) == set(demo.Settings.quick_run().fractions)
    assert results["accuracy"].between(0, 1).all()
    for _, rows in results.groupby("scenario"):
        assert "scratch" in set(rows["strategy"])
        assert len(set(rows["strategy"])) >= 3
    summary = pd.read_csv(out / "summary.csv")
    assert {"accuracy_mean", "accuracy_std", "train_seconds"} <= set(summary.columns)
    report = (out / "report.md").read_text()
    assert report.count("| strategy |") == 3
    assert "quick (smoke) run: 1 seed" in report
    assert "This was a quick smoke run" in report
    for name in demo.SCENARIOS:
        assert f"![{name}]({name}.png)" in report
    assert "- **frozen features**: " in report
    # Transferability scores, before training, against measured accuracies.
    scored = pd.read_csv(out / "scores.csv")
    assert list(scored.columns) == list(demo.scores.TABLE_COLUMNS)
    sources = scored.groupby("scenario")["source"].agg(set).to_dict()
    assert sources == {
        "domain-shift": {"clean-digits CNN", "random CNN"},
        "digits": {"digits 0-4 CNN", "random CNN"},
        "text": {
            "MiniLM",
            "GloVe",
            "Word2Vec",
            "MR body",
            "MPQA body",
            "random body",
        },
    }
    assert len(scored) == 2 * (2 + 2 + 6)  # one row per fraction and source
    assert scored["logme"].notna().all() and scored["h_score"].notna().all()
    assert scored["accuracy"].between(0, 1).all()
    # LEEP and NCE only where there is a source head.
    headless = scored["source"].isin({"MiniLM", "GloVe", "Word2Vec"})
    assert scored.loc[headless, "leep"].isna().all()
    assert scored.loc[~headless, ["leep", "nce"]].notna().all().all()
    # Every source's accuracy is that of one of its strategies at that fraction.
    for _, row in scored.iterrows():
        runs = results[
            (results["scenario"] == row["scenario"])
            & (results["strategy"] == row["strategy"])
            & (results["fraction"] == row["fraction"])
        ]
        assert row["accuracy"] == pytest.approx(runs["accuracy"].mean(), abs=1e-4)
    correlation = pd.read_csv(out / "score_correlations.csv")
    assert list(correlation.columns) == list(demo.scores.CORRELATION_COLUMNS)
    text_logme = correlation[
        (correlation["scenario"] == "text") & (correlation["score"] == "logme")
    ]
    assert set(text_logme["fraction"]) == {"0.05", "1.0", "pooled"}
    assert (text_logme["n_points"] == [6, 6, 12]).all()
    assert text_logme["kendall_tau"].between(-1, 1).all()
    assert report.count("#### Transferability scores before training") == 3
    assert report.count("Where a score ranked wrong") == 3


_TEXT_WITHOUT_FIT = """
import sys
import keras

def no_fit(*args, **kwargs):
    raise AssertionError("keras.Model.fit was called")

keras.Model.fit = no_fit
from tfxfer import cli

sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_demo_quick_text_without_keras_fit(tmp_path):
    # The demo trains only through tfxfer's Trainer / FineTuner: with
    # keras.Model.fit replaced by a function that fails, the quick text
    # scenario still runs (one process, so the replacement applies).
    out = tmp_path / "text"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _TEXT_WITHOUT_FIT,
            "demo",
            "--quick",
            "--task",
            "text",
            "--jobs",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = pd.read_csv(out / "results.csv")
    # MiniLM fine-tuned runs only in the full demo (too slow for --quick).
    assert set(results["strategy"]) == set(demo.text.DESCRIPTIONS) - {
        "MiniLM fine-tuned"
    }
    assert set(results["scenario"]) == {"text"}
    report = (out / "report.md").read_text()
    assert "MR movie reviews and MPQA news opinions -> CR product reviews" in report
    assert "majority class" not in report  # the plot says it, the text says:
    assert "Always predicting the most frequent test class scores 0.638" in report


def test_source_pretraining_is_seeded_before_the_model_is_built():
    # The source model's initial weights come from the seed too: two
    # pretrainings with the same seed give the same model, bit for bit.
    from tfxfer.demo.source import pretrain

    rng = np.random.default_rng(0)
    x = rng.random((80, 6), dtype=np.float32)
    y = (x[:, 0] * 3).astype("int64").clip(0, 2)
    settings = FitSettings(max_epochs=2, patience=1, min_epochs=1, batch_size=16)
    weights = []
    for before in (123, 456):
        keras.utils.set_random_seed(before)  # the state before must not matter
        model, reached = pretrain(_tiny_source, x, y, seed=5, settings=settings)
        weights.append(model.get_weights())
        assert reached["epochs"] >= 1
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


def test_format_table_shows_spread_only_where_a_cell_has_several_runs(known):
    # Several seeds at the small fraction, one run with all the labels.
    mixed = known[(known["fraction"] < 1) | (known["seed"] == 0)]
    table = demo.format_table(summarize_comparison(mixed))
    assert "| scratch | 0.500 ± 0.010 (1.0 s) | 0.850 (2.0 s) |" in table
    assert "± 0.000" not in table


def test_fine_tune_strategy_l2sp_keeps_the_base_near_its_pretrained_weights():
    rng = np.random.default_rng(0)
    x = rng.random((64, 6), dtype=np.float32)
    y = (x[:, 0] * 3).astype("int64").clip(0, 2)
    subset = LabeledSubset(x[:48], y[:48], x[48:], y[48:], 1.0, 0, 3)
    settings = FitSettings(
        max_epochs=4, patience=4, min_epochs=4, batch_size=16, min_epoch_examples=32
    )
    keras.utils.set_random_seed(3)
    pretrained = tfxfer.feature_extractor(_tiny_source(), "features")
    start = [w.copy() for w in pretrained.get_weights()]

    def with_new_head(num_classes):
        inputs = keras.Input((6,))
        body = keras.models.clone_model(pretrained)
        body.set_weights(start)
        body = keras.Model(body.inputs[0], body.outputs[0], name="base")
        return keras.Model(inputs, softmax_head(4, num_classes)(body(inputs)))

    moved = {}
    for l2sp in (None, 100.0):
        strategy = fine_tune_strategy(
            with_new_head, "base", 3, settings, learning_rate=0.05, l2sp=l2sp
        )
        model, _ = strategy(subset)
        weights = model.get_layer("base").get_weights()
        moved[l2sp] = sum(float(np.sum((w - w0) ** 2)) for w, w0 in zip(weights, start))
    assert moved[None] > 0
    assert moved[100.0] < 0.5 * moved[None], moved


def _tiny_text_encoder(seed=0):
    import keras_hub

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "ok"]
    keras.utils.set_random_seed(seed)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=16,
        max_sequence_length=16,
    )
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
        keras_hub.models.BertTokenizer(vocabulary=vocabulary), sequence_length=8
    )
    return tfxfer.pretrained.TextEncoder(backbone, preprocessor)


def test_text_minilm_strategies_on_dict_inputs_with_a_tiny_encoder(tmp_path):
    # The text scenario's wiring on tiny data: dict inputs, each strategy on
    # its own column, cached frozen features + logistic regression, and the
    # LP-FT strategy (its head starts as the regression) only where only_at
    # says, through tfxfer.Trainer.
    from tfxfer.demo import text
    from tfxfer.pretrained import PretrainedTextClassifier, encode_cached

    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    words = np.where(y == 1, "good", "bad")
    texts = np.asarray(
        [f"{w} {rng.choice(['ok', 'good', 'bad'])} {w}" for w in words], dtype=object
    )
    ids = np.stack([np.where(y == 1, 5, 6), np.full(40, 7)], axis=1)
    encoder = _tiny_text_encoder()
    features = encode_cached(encoder, list(texts), cache_dir=tmp_path, verbose=0)
    lookup = text.TextFeatures(list(texts), features)
    model = PretrainedTextClassifier(encoder, 2, name="tiny_classifier")
    before = encoder.get_weights()
    strategies = {
        "scratch": text.on_input("ids", tfidf_strategy()),
        "frozen": text.on_input("text", text.frozen_head_strategy(lookup)),
        "lp-ft": text.on_input("text", text.lp_ft_strategy(lookup, model)),
    }
    x = {"ids": ids, "text": texts}
    split = {key: value[:30] for key, value in x.items()}
    test = {key: value[30:] for key, value in x.items()}
    results = tfxfer.compare_transfer(
        strategies,
        split,
        y[:30],
        test,
        y[30:],
        fractions=(0.5, 1.0),
        seeds=(0,),
        verbose=0,
        only_at={"lp-ft": (1.0,)},
    )
    runs = results.groupby("strategy")["fraction"].apply(sorted).to_dict()
    assert runs == {"scratch": [0.5, 1.0], "frozen": [0.5, 1.0], "lp-ft": [1.0]}
    assert results["accuracy"].between(0, 1).all()
    assert results.loc[results["strategy"] == "scratch", "accuracy"].eq(1.0).all()
    lp_ft = results[results["strategy"] == "lp-ft"]
    assert 1 <= int(lp_ft["epochs"].iloc[0]) <= text.MINILM_FINE_TUNE_EPOCHS
    # Every weight trained: the encoder moved away from its pretrained start.
    after = encoder.get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(after, before))


def test_lp_ft_head_equals_the_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    from tfxfer.demo import text

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = (x[:, 0] + 0.3 * rng.normal(size=50) > 0).astype("int64")
    probe = LogisticRegression(C=1.0, solver="liblinear").fit(x, y)
    kernel, bias = text.head_from_logistic(probe, 2)
    logits = x @ kernel + bias
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, probe.predict_proba(x), atol=1e-5)


def test_text_features_refuses_a_sentence_it_has_no_vector_for():
    from tfxfer.demo import text

    lookup = text.TextFeatures(["a", "b"], np.eye(2, dtype="float32"))
    np.testing.assert_array_equal(lookup(["b", "a"]), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="Received: 'c'"):
        lookup(["a", "c"])


def test_compare_transfer_only_at_checks_its_names(known):
    x = np.zeros((10, 2), "float32")
    y = np.arange(10) % 2
    strategies = {"scratch": tfidf_strategy(), "other": tfidf_strategy()}
    with pytest.raises(ValueError, match="`only_at` must name strategies other"):
        tfxfer.compare_transfer(
            strategies, x, y, x, y, fractions=(1.0,), only_at={"scratch": (1.0,)}
        )
    with pytest.raises(ValueError, match="`only_at` must name strategies other"):
        tfxfer.compare_transfer(
            strategies, x, y, x, y, fractions=(1.0,), only_at={"nope": (1.0,)}
        )


def test_plot_y_axis_covers_the_strategies_not_a_far_chance_line(known):
    import matplotlib.pyplot

    ax = tfxfer.plot_data_efficiency(known, majority=0.45, chance=0.05)
    low, high = ax.get_ylim()
    # The curves span 0.39-0.91 (error bars included); chance 0.05 is far
    # below: off the axis, named so in the legend; majority 0.45 is inside.
    assert 0.3 < low < 0.39 and 0.91 < high < 0.95
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "chance, below the axis (0.050)" in labels
    assert "majority class (0.450)" in labels
    matplotlib.pyplot.close(ax.figure)


def test_report_sets_published_accuracies_beside_the_full_data_ones(known):
    summary = summarize_comparison(known)
    scenario = demo.ScenarioResult(
        name="t",
        title="t",
        results=known.assign(scenario="t"),
        summary=summary,
        matches=first_match(known),
        verdict="v",
        pretrain_seconds=0.0,
        n_test=300,
        references=(("Kim (2014) CNN-rand", 0.798),),
    )
    line = demo.outputs.format_references(scenario)
    assert line == (
        "Published on this target: Kim (2014) CNN-rand 0.798. Measured here with "
        "all 100 training labels: fine-tune 0.900, scratch 0.860, frozen 0.855."
    )
    assert line in demo.format_scenario(scenario, plot=False)


def test_write_verdict_says_where_a_strategy_ran_only_at_some_fractions(known):
    partial = known[~((known["strategy"] == "frozen") & (known["fraction"] == 1.0))]
    summary = summarize_comparison(partial)
    verdict = demo.write_verdict(summary, first_match(partial), n_test=300)
    assert (
        "never reached scratch's accuracy with all labels (0.860) (it ran only "
        "with 10%); its best mean was 0.400."
    ) in verdict
