"""`tfxfer finetune`'s defaults against TF-IDF + logistic regression (issue 24).

Runs the command line itself, at its defaults, on the same rows as
scikit-learn's `TfidfVectorizer` + `LogisticRegression`:

- `templated`: 200 reviews "The X is great/terrible." (14 products, 7
  positive and 7 negative adjectives, 5 templates), a stratified quarter held
  out (`--test-split 0.25`), with `--vectors sentences`;
- `cr`: CR's training split cut to a stratified fraction of its labels,
  tested on CR's whole test split (1,132 sentences), with each `--vectors`
  name and `--encoder minilm` asked for.

Each row is one seed (the CLI's `--seed` and the subset's). With
`--encoder minilm` each run encodes its rows with the transformer: about
2-4 minutes a run on a busy 2-core machine.

Run: `python benchmarks/bench_finetune.py templated` or `python
benchmarks/bench_finetune.py cr --fractions 0.25 1 --sources sentences minilm`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import pathlib
import random
import re
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from tfxfer import cli
from tfxfer.datasets import load_sentences, split_indices

PRODUCTS = [
    "kettle",
    "keyboard",
    "phone",
    "camera",
    "laptop",
    "blender",
    "toaster",
    "speaker",
    "monitor",
    "printer",
    "router",
    "charger",
    "headset",
    "mouse",
]
POSITIVE = [
    "great",
    "excellent",
    "wonderful",
    "good",
    "fantastic",
    "reliable",
    "perfect",
]
NEGATIVE = ["terrible", "awful", "bad", "poor", "useless", "broken", "disappointing"]
TEMPLATES = (
    "The {p} is {a}.",
    "This {p} is {a}.",
    "My new {p} is {a}.",
    "I think the {p} is {a}.",
    "Honestly, the {p} was {a}.",
)


def templated_reviews(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        adjective = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        texts.append(rng.choice(TEMPLATES).format(p=rng.choice(PRODUCTS), a=adjective))
        labels.append(label)
    return texts, labels


def write_csv(path: pathlib.Path, texts, labels) -> None:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))


def tfidf_lr(train_texts, train_labels, test_texts, test_labels) -> float:
    vectorizer = TfidfVectorizer()
    model = LogisticRegression(max_iter=2000)
    model.fit(vectorizer.fit_transform(train_texts), train_labels)
    predicted = model.predict(vectorizer.transform(test_texts))
    return float(np.mean(predicted == np.asarray(test_labels)))


def finetune(path, source: str, seed: int, out, *extra) -> tuple[float, str]:
    """Runs `tfxfer finetune`; returns its test accuracy and epochs line."""
    option = "--encoder" if source == "minilm" else "--vectors"
    argv = ["finetune", str(path), "--text-column", "text", option, source]
    argv += ["--seed", str(seed), "--out", str(out), "--overwrite", "--quiet"]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(argv + [str(a) for a in extra])
    text = buffer.getvalue()
    if code != 0:
        raise RuntimeError(f"tfxfer finetune failed:\n{text}")
    accuracy = float(re.search(r"Test accuracy ([0-9.]+)", text)[1])
    epochs = re.search(r"after (\d+ \+ \d+) epochs", text)[1]
    return accuracy, epochs


def summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return (
        f"{statistics.mean(values):.3f} +- {spread:.3f} "
        f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
    )


def run_templated(seeds, folder: pathlib.Path) -> None:
    ours, theirs = [], []
    for seed in seeds:
        texts, labels = templated_reviews(200, seed)
        path = folder / f"templated_{seed}.csv"
        write_csv(path, texts, labels)
        y = np.array([label == "pos" for label in labels], dtype=int)
        train, test = split_indices(y, test_size=0.25, seed=seed)  # as the CLI
        texts = np.array(texts, dtype=object)
        baseline = tfidf_lr(texts[train], y[train], texts[test], y[test])
        start = time.perf_counter()
        accuracy, epochs = finetune(
            path, "sentences", seed, folder / "m.keras", "--test-split", 0.25
        )
        print(
            f"templated seed {seed}: finetune {accuracy:.3f} ({epochs} epochs, "
            f"{time.perf_counter() - start:.0f} s), TF-IDF + LR {baseline:.3f}",
            flush=True,
        )
        ours.append(accuracy)
        theirs.append(baseline)
    print(f"templated: finetune {summary(ours)}; TF-IDF + LR {summary(theirs)}")


def run_cr(seeds, fractions, sources, folder: pathlib.Path) -> None:
    train, test = load_sentences("cr", "train"), load_sentences("cr", "test")
    names = np.array(["negative", "positive"])
    x, y = train["text"].to_numpy(object), train["label"].to_numpy()
    test_path = folder / "cr_test.csv"
    write_csv(test_path, test["text"], names[test["label"].to_numpy()])
    for fraction in fractions:
        results = {source: [] for source in sources}
        baselines = []
        for seed in seeds:
            if fraction < 1:
                rows, _ = split_indices(y, test_size=1 - fraction, seed=seed)
            else:
                rows = np.arange(len(y))
            path = folder / f"cr_{fraction}_{seed}.csv"
            write_csv(path, x[rows], names[y[rows]])
            baseline = tfidf_lr(x[rows], y[rows], test["text"], test["label"])
            baselines.append(baseline)
            for source in sources:
                start = time.perf_counter()
                accuracy, epochs = finetune(
                    path, source, seed, folder / "m.keras", "--test", test_path
                )
                results[source].append(accuracy)
                print(
                    f"CR {fraction:g} ({len(rows)} rows) seed {seed} {source}: "
                    f"{accuracy:.3f} ({epochs} epochs, "
                    f"{time.perf_counter() - start:.0f} s), TF-IDF + LR "
                    f"{baseline:.3f}",
                    flush=True,
                )
        for source, values in results.items():
            print(f"CR {fraction:g} {source}: {summary(values)}")
        print(f"CR {fraction:g} TF-IDF + LR: {summary(baselines)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=("templated", "cr"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25])
    parser.add_argument(
        "--sources",
        nargs="+",
        default=["sentences"],
        help="--vectors names, or minilm for --encoder minilm",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.task == "templated":
            run_templated(args.seeds, pathlib.Path(folder))
        else:
            run_cr(args.seeds, args.fractions, args.sources, pathlib.Path(folder))


if __name__ == "__main__":
    main()
