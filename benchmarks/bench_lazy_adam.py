"""Sparse embedding updates: `tfxfer.LazyAdam` against Keras' Adam.

The model is the demo's text classifier: a `TextClassifier` with a
trainable 21,500 x 50 embedding (the review scenario's vocabulary), mean
pooling and Dense 64, on random token ids (sentences of 20 tokens padded
to 50), batches of 128, one thread per operation (as the demo runs). Each
repetition times, one after the other (interleaved, so a load change hits
them all), 5 epochs of 16 steps after a warm-up epoch:

- Keras `fit` with `keras.optimizers.Adam` (`steps_per_execution=16`, no
  XLA: the peer at its best settings for this model on the CPU);
- `tfxfer.Trainer` with `keras.optimizers.Adam`;
- `tfxfer.Trainer` with `tfxfer.LazyAdam`.

Reported: milliseconds per step (median, minimum, maximum over the
repetitions) and the ratio of each to Keras `fit`, computed per repetition.

    python benchmarks/bench_lazy_adam.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VOCABULARY, DIM, LENGTH, TOKENS, ROWS, BATCH, EPOCHS = 21_500, 50, 50, 20, 2048, 128, 5


def _setup(kind: str):
    import keras
    import numpy as np

    import tfxfer

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(2, VOCABULARY, (ROWS, LENGTH))
    x[:, TOKENS:] = 0
    y = rng.integers(0, 2, ROWS)
    model = tfxfer.TextClassifier(
        VOCABULARY, DIM, 2, hidden_units=(64,), embedding_trainable=True
    )
    loss = "sparse_categorical_crossentropy"
    if kind == "keras fit + Adam":
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=loss,
            steps_per_execution=16,
            jit_compile=False,
        )

        def run(epochs):
            model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)

    else:
        optimizer = (
            tfxfer.LazyAdam(1e-3) if "LazyAdam" in kind else keras.optimizers.Adam(1e-3)
        )
        trainer = tfxfer.Trainer(
            model,
            loss=loss,
            optimizer=optimizer,
            jit_compile=False,
            steps_per_execution=16,
        )

        def run(epochs):
            trainer.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)

    run(1)  # tracing and warm-up
    return run


def _summary(values) -> str:
    return f"{statistics.median(values):.3g} [{min(values):.3g}-{max(values):.3g}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    kinds = ("keras fit + Adam", "Trainer + Adam", "Trainer + LazyAdam")
    runners = {kind: _setup(kind) for kind in kinds}
    steps = EPOCHS * ROWS // BATCH
    times = {kind: [] for kind in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            start = time.perf_counter()
            runners[kind](EPOCHS)
            times[kind].append(1000 * (time.perf_counter() - start) / steps)
    print(f"{args.repeats} repetitions, {steps} steps each, batch {BATCH}")
    print("| run | ms per step | ratio to Keras fit |")
    print("|---|---:|---:|")
    for kind in kinds:
        ratios = [t / k for t, k in zip(times[kind], times[kinds[0]])]
        print(f"| {kind} | {_summary(times[kind])} | {_summary(ratios)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
