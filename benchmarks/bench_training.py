"""Training throughput: `tfxfer.train` vs Keras `fit` vs the textbook eager loop.

Workloads (issue 3, item 9), Adam(1e-3) everywhere:

- text: Embedding(20000, 100, frozen) -> GlobalAveragePooling1D -> Dense(64,
  relu) -> Dense(10, softmax); sequences of 200 token ids; batch 64; sparse
  categorical cross-entropy.
- autoencoder: 784-128-64-128-784 relu MLP; MSE; batch 256.

Methods:

- `tfxfer.train(..., verbose=0)` with its defaults (XLA where it compiles,
  data kept as tensors, several steps per compiled call).
- Keras `fit` after `compile` with its defaults, fed by
  `from_tensor_slices(...).shuffle(n).batch(b).prefetch(AUTOTUNE)`.
- The eager loop of source 001 (E6) with batching added:
  `for xb, yb in dataset.batch(b)`, `tf.GradientTape`, `apply_gradients`,
  no `tf.function`.

Each repetition runs the three methods one after the other (interleaved, so a
load change on a shared machine hits all three), each on the same number of
samples. `train` and `fit` run two epochs per repetition and only the second
is timed (steady state: the first includes tracing and compilation, reported
separately); the eager loop is timed on `--eager-samples` samples after one
warm-up step. Medians, minima and maxima are over the repetitions; ratios are
computed per repetition, then summarized.

Run: `python benchmarks/bench_training.py` (about 3-5 minutes on 2 CPU cores),
`--quick` for a smoke run, `--repeats N`, `--workload text|autoencoder|all`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

import tfxfer


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._began)


def text_workload(num_samples: int, rng):
    def make_model():
        return keras.Sequential(
            [
                keras.Input((200,), dtype="int32"),
                keras.layers.Embedding(20000, 100, trainable=False),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )

    x = rng.integers(0, 20000, size=(num_samples, 200)).astype("int32")
    y = rng.integers(0, 10, size=num_samples).astype("int32")
    return make_model, x, y, "sparse_categorical_crossentropy", 64


def autoencoder_workload(num_samples: int, rng):
    def make_model():
        return keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(128, activation="relu"),
                keras.layers.Dense(784),
            ]
        )

    x = rng.random((num_samples, 784), dtype=np.float32)
    return make_model, x, x, "mse", 256


WORKLOADS = {"text": text_workload, "autoencoder": autoencoder_workload}


class Runner:
    """One model per method, reused across repetitions."""

    def __init__(self, workload, num_samples, eager_samples, fit_spe):
        rng = np.random.default_rng(0)
        make_model, x, y, loss, batch_size = WORKLOADS[workload](num_samples, rng)
        self.x, self.y, self.loss, self.batch_size = x, y, loss, batch_size
        self.num_samples = num_samples
        self.eager_samples = eager_samples
        self.first_epoch = {"train": [], "fit": []}

        self.train_model = make_model()
        self.train_optimizer = keras.optimizers.Adam(1e-3)

        self.fit_model = make_model()
        self.fit_model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        self.fit_dataset = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(num_samples)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        self.fit_spe = fit_spe
        if fit_spe:
            self.spe_model = make_model()
            self.spe_model.compile(
                optimizer=keras.optimizers.Adam(1e-3),
                loss=loss,
                steps_per_execution=fit_spe,
            )

        self.eager_model = make_model()
        self.eager_optimizer = keras.optimizers.Adam(1e-3)
        self.eager_loss = keras.losses.get(loss)
        self.eager_dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(
            batch_size
        )

    def train(self) -> float:
        timer = EpochTimer()
        tfxfer.train(
            self.train_model,
            self.x,
            self.y,
            loss=self.loss,
            optimizer=self.train_optimizer,
            epochs=2,
            batch_size=self.batch_size,
            callbacks=[timer],
            verbose=0,
        )
        self.first_epoch["train"].append(timer.seconds[0])
        return self.num_samples / timer.seconds[1]

    def fit(self, model=None) -> float:
        timer = EpochTimer()
        (model or self.fit_model).fit(
            self.fit_dataset, epochs=2, callbacks=[timer], verbose=0
        )
        if model is None:
            self.first_epoch["fit"].append(timer.seconds[0])
        return self.num_samples / timer.seconds[1]

    def fit_steps_per_execution(self) -> float:
        return self.fit(self.spe_model)

    def eager(self) -> float:
        # Source 001's loop (E6), batched; one warm-up step first.
        model, optimizer, loss_fn = (
            self.eager_model,
            self.eager_optimizer,
            self.eager_loss,
        )
        seen = 0
        began = None
        for step, (x_batch, y_batch) in enumerate(self.eager_dataset):
            if step == 1:
                began = time.perf_counter()
            with tf.GradientTape() as tape:
                predictions = model(x_batch, training=True)
                loss = tf.reduce_mean(loss_fn(y_batch, predictions))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            if step >= 1:
                seen += int(x_batch.shape[0])
                if seen >= self.eager_samples:
                    break
        float(loss)  # wait for the last step
        return seen / (time.perf_counter() - began)


def summarize(values):
    return statistics.median(values), min(values), max(values)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--workload", choices=["text", "autoencoder", "all"], default="all"
    )
    parser.add_argument(
        "--fit-steps-per-execution",
        type=int,
        default=0,
        help="also time fit compiled with this steps_per_execution (0: off)",
    )
    args = parser.parse_args(argv)
    repeats = 1 if args.quick and args.repeats == 7 else args.repeats
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    sizes = {"text": (8192, 2048), "autoencoder": (16384, 4096)}
    if args.quick:
        sizes = {"text": (1024, 256), "autoencoder": (2048, 512)}

    print(
        f"tfxfer {tfxfer.__version__}, TensorFlow {tf.__version__}, "
        f"Keras {keras.__version__}, {os.cpu_count()} CPUs, {repeats} repetitions"
    )
    rows = []
    for workload in workloads:
        num_samples, eager_samples = sizes[workload]
        runner = Runner(
            workload, num_samples, eager_samples, args.fit_steps_per_execution
        )
        methods = {"tfxfer.train": runner.train, "keras fit": runner.fit}
        if args.fit_steps_per_execution:
            label = f"keras fit (steps_per_execution={args.fit_steps_per_execution})"
            methods[label] = runner.fit_steps_per_execution
        methods["eager GradientTape loop"] = runner.eager
        for method in methods.values():  # warm-up
            method()
        runner.first_epoch = {"train": [], "fit": []}
        results = {name: [] for name in methods}
        for repeat in range(repeats):
            for name, method in methods.items():
                results[name].append(method())
            print(
                f"  {workload} repetition {repeat + 1}/{repeats}: "
                + ", ".join(f"{n} {v[-1]:,.0f}" for n, v in results.items()),
                file=sys.stderr,
                flush=True,
            )
        rows.append((workload, runner, results))

    print()
    print(
        f"{'workload':<12} {'method':<48} {'median/s':>10} {'min/s':>10} {'max/s':>10}"
    )
    for workload, _, results in rows:
        for name, values in results.items():
            median, low, high = summarize(values)
            numbers = f"{median:>10,.0f} {low:>10,.0f} {high:>10,.0f}"
            print(f"{workload:<12} {name:<48} {numbers}")
    print()
    label = "ratio (per repetition)"
    print(f"{'workload':<12} {label:<48} {'median':>10} {'min':>10} {'max':>10}")
    for workload, _, results in rows:
        train_values = results["tfxfer.train"]
        for name, values in results.items():
            if name == "tfxfer.train":
                continue
            ratios = [t / v for t, v in zip(train_values, values)]
            median, low, high = summarize(ratios)
            label = f"train / {name}"
            print(
                f"{workload:<12} {label:<48} {median:>10.2f} {low:>10.2f} {high:>10.2f}"
            )
    print()
    print("First (untimed) epoch, median seconds, incl. tracing/compilation:")
    for workload, runner, _ in rows:
        parts = [
            f"{name} {statistics.median(values):.2f}s"
            for name, values in runner.first_epoch.items()
            if values
        ]
        print(f"  {workload}: " + ", ".join(parts))


if __name__ == "__main__":
    main()
