"""Training speed: `tfxfer.train` against Keras `fit` (at its defaults and at its
best) and the textbook eager loop, side by side in one run.

Workloads, Adam(1e-3) everywhere:

- text: Embedding(20000, 100, frozen) -> GlobalAveragePooling1D -> Dense(64,
  relu) -> Dense(10, softmax); 200 token ids; batch 64; sparse
  categorical cross-entropy.
- autoencoder: 784-128-64-128-784 relu MLP; MSE; batch 256.
- cnn: 8x8x1 input, Conv2D 16 + BatchNormalization + MaxPooling + Conv2D 32
  + GlobalAveragePooling + Dense 10; batch 32; sparse cross-entropy.

Steady state (samples per second, higher is better). Each method trains its
own model, reused across repetitions; each repetition is one 2-epoch call of
which the second epoch is timed:

- `tfxfer.train` with its defaults (`jit_compile="auto"`,
  `steps_per_execution="auto"`), numpy input. Its model is warmed up with
  one call as long as "auto" waits before it switches to XLA (1,000 steps;
  5,000 for the CNN on a machine without a GPU), as a long run would be.
- `tfxfer.train`, finite checks off: the same engine with the check of loss
  and gradients disabled (an internal switch), to measure that check's cost.
- Keras `fit`, defaults: `compile(optimizer, loss)`, numpy input.
- Keras `fit` at its best: `compile(..., jit_compile=True,
  steps_per_execution=32)` (XLA also for the CNN), numpy input.
- The eager loop of source 001 (E6) with batching added: `for xb, yb in
  dataset.batch(b)`, `tf.GradientTape`, `apply_gradients`, no
  `tf.function`; timed on `--eager-samples` samples after one warm-up step.

Whole calls (seconds, lower is better), what a user feels in a notebook:

- fresh model, 2,048 samples x 3 epochs: `tfxfer.train` on a new model
  against `compile` + `fit` (defaults) on a new model;
- second call: a second identical `tfxfer.train` call on the same model
  (it reuses the compiled step) against the first one.

Every repetition runs all methods one after the other (interleaved, so a
load change hits them all); ratios are computed per repetition, then
summarized as median, minimum and maximum. The cost of the finite checks is
also given from the process CPU time of the same epochs, which CPU time
stolen by other virtual machines does not inflate.

Run: `python benchmarks/bench_training.py` (about 8-12 minutes on 2 CPU
cores), `--quick` for a smoke run, `--repeats N`, `--workload NAME`,
`--json FILE` to keep the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

import tfxfer
from tfxfer.training.step_functions import auto_xla_policy


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time and the process CPU time of every epoch."""

    def __init__(self):
        super().__init__()
        self.seconds, self.cpu_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.perf_counter()
        self._cpu_began = time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._began)
        self.cpu_seconds.append(time.process_time() - self._cpu_began)


def text_workload(num_samples, rng):
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


def autoencoder_workload(num_samples, rng):
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


def cnn_workload(num_samples, rng):
    def make_model():
        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                keras.layers.BatchNormalization(),
                keras.layers.MaxPooling2D(),
                keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )

    x = rng.random((num_samples, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=num_samples).astype("int32")
    return make_model, x, y, "sparse_categorical_crossentropy", 32


WORKLOADS = {
    "text": text_workload,
    "autoencoder": autoencoder_workload,
    "cnn": cnn_workload,
}
STEADY = (
    "tfxfer.train",
    "tfxfer.train, finite checks off",
    "keras fit, defaults",
    "keras fit at best (XLA, steps_per_execution=32)",
    "eager GradientTape loop",
)
CALLS = (
    "tfxfer.train, fresh model",
    "keras fit defaults, fresh model",
    "tfxfer.train, first call",
    "tfxfer.train, second call",
)


class Runner:
    """The models and data of one workload."""

    def __init__(self, workload, num_samples, eager_samples, small_samples):
        rng = np.random.default_rng(0)
        make_model, x, y, loss, batch_size = WORKLOADS[workload](num_samples, rng)
        self.make_model, self.loss, self.batch_size = make_model, loss, batch_size
        self.x, self.y = x, y
        self.small = (x[:small_samples], y[:small_samples])
        self.num_samples, self.eager_samples = num_samples, eager_samples
        self.cpu = {"checked": [], "unchecked": []}  # CPU seconds per epoch

        self.train_model = make_model()
        self.unchecked_model = make_model()
        self.unchecked = tfxfer.Trainer(self.unchecked_model, loss=loss)
        self.unchecked.steps.check_finite = False
        policy = auto_xla_policy(self.train_model)
        min_steps = 0 if policy is None else policy[1]
        warm = max(2, -(-min_steps * batch_size // num_samples))
        for run in (self._train, self._unchecked):
            run(epochs=warm)  # a long first run: "auto" switches to XLA

        self.fit_model = make_model()
        self.fit_model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        self.best_model = make_model()
        self.best_model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=loss,
            jit_compile=True,
            steps_per_execution=32,
        )
        self.eager_model = make_model()
        self.eager_optimizer = keras.optimizers.Adam(1e-3)
        self.eager_loss = keras.losses.get(loss)
        self.eager_dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(
            batch_size
        )

    # -- steady state (samples/s) ---------------------------------------

    def _timed(self, fit, epochs=2, cpu_key=None):
        """Runs `fit(x, y, ...)` for `epochs`; samples/s of the last epoch."""
        timer = EpochTimer()
        fit(
            self.x,
            self.y,
            epochs=epochs,
            batch_size=self.batch_size,
            callbacks=[timer],
            verbose=0,
        )
        if cpu_key is not None:
            self.cpu[cpu_key].append(timer.cpu_seconds[-1])
        return self.num_samples / timer.seconds[-1]

    def _train(self, epochs=2):
        def fit(x, y, **kwargs):
            tfxfer.train(self.train_model, x, y, loss=self.loss, **kwargs)

        return self._timed(fit, epochs, "checked")

    def _unchecked(self, epochs=2):
        return self._timed(self.unchecked.fit, epochs, "unchecked")

    def _fit(self, model):
        return self._timed(model.fit)

    def _eager(self):
        model, optimizer, loss_fn = (
            self.eager_model,
            self.eager_optimizer,
            self.eager_loss,
        )
        seen, began = 0, None
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

    def steady(self):
        return {
            STEADY[0]: self._train,
            STEADY[1]: self._unchecked,
            STEADY[2]: lambda: self._fit(self.fit_model),
            STEADY[3]: lambda: self._fit(self.best_model),
            STEADY[4]: self._eager,
        }

    # -- whole calls (seconds) ------------------------------------------

    def calls(self):
        x, y = self.small
        args = {"epochs": 3, "batch_size": self.batch_size, "verbose": 0}
        out = {}
        model = self.make_model()
        began = time.perf_counter()
        tfxfer.train(model, x, y, loss=self.loss, **args)
        out[CALLS[0]] = out[CALLS[2]] = time.perf_counter() - began
        began = time.perf_counter()
        tfxfer.train(model, x, y, loss=self.loss, **args)
        out[CALLS[3]] = time.perf_counter() - began
        model = self.make_model()
        began = time.perf_counter()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=self.loss)
        model.fit(x, y, **args)
        out[CALLS[1]] = time.perf_counter() - began
        return out


def summarize(values):
    return statistics.median(values), min(values), max(values)


def ratios(numerators, denominators):
    return [a / b for a, b in zip(numerators, denominators)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    parser.add_argument("--json", help="write the raw numbers to this file")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick and args.repeats == 5 else args.repeats
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    sizes = {"text": (8192, 2048), "autoencoder": (16384, 4096), "cnn": (8192, 2048)}
    if args.quick:
        sizes = {k: (n // 4, e // 4) for k, (n, e) in sizes.items()}

    print(
        f"tfxfer {tfxfer.__version__}, TensorFlow {tf.__version__}, Keras "
        f"{keras.__version__}, {os.cpu_count()} CPUs, "
        f"GPUs: {len(tf.config.list_physical_devices('GPU'))}, {repeats} repetitions"
    )
    results = {}
    for workload in workloads:
        num_samples, eager_samples = sizes[workload]
        runner = Runner(workload, num_samples, eager_samples, small_samples=2048)
        steady, calls = runner.steady(), {name: [] for name in CALLS}
        for method in steady.values():  # warm-up
            method()
        runner.cpu = {"checked": [], "unchecked": []}
        values = {name: [] for name in steady}
        for repeat in range(repeats):
            for name, method in steady.items():
                values[name].append(method())
            for name, seconds in runner.calls().items():
                calls[name].append(seconds)
            print(
                f"  {workload} {repeat + 1}/{repeats}: "
                + ", ".join(f"{n} {v[-1]:,.0f}/s" for n, v in values.items())
                + "; "
                + ", ".join(f"{n} {v[-1]:.2f}s" for n, v in calls.items()),
                file=sys.stderr,
                flush=True,
            )
        results[workload] = {"steady": values, "calls": calls, "cpu": runner.cpu}

    head = f"{'median':>9} {'min':>9} {'max':>9}"
    print()
    print(f"{'workload':<12} {'steady state, samples/s':<50} {head}")
    for workload, result in results.items():
        for name, values in result["steady"].items():
            m, lo, hi = summarize(values)
            print(f"{workload:<12} {name:<50} {m:>9,.0f} {lo:>9,.0f} {hi:>9,.0f}")
    print()
    print(f"{'workload':<12} {'ratio (per repetition)':<50} {head}")
    for workload, result in results.items():
        steady, calls = result["steady"], result["calls"]
        rows = [
            ("train / fit at best", ratios(steady[STEADY[0]], steady[STEADY[3]])),
            ("train / fit defaults", ratios(steady[STEADY[0]], steady[STEADY[2]])),
            ("train / eager loop", ratios(steady[STEADY[0]], steady[STEADY[4]])),
            (
                "train / train without finite checks",
                ratios(steady[STEADY[0]], steady[STEADY[1]]),
            ),
            (
                "same, from CPU time (unchecked s / checked s)",
                ratios(result["cpu"]["unchecked"], result["cpu"]["checked"]),
            ),
            (
                "fresh call: fit defaults s / train s",
                ratios(calls[CALLS[1]], calls[CALLS[0]]),
            ),
            (
                "train: first call s / second call s",
                ratios(calls[CALLS[2]], calls[CALLS[3]]),
            ),
        ]
        for label, values in rows:
            m, lo, hi = summarize(values)
            print(f"{workload:<12} {label:<50} {m:>9.2f} {lo:>9.2f} {hi:>9.2f}")
    print()
    print(f"{'workload':<12} {'whole call, seconds':<50} {head}")
    for workload, result in results.items():
        for name, values in result["calls"].items():
            m, lo, hi = summarize(values)
            print(f"{workload:<12} {name:<50} {m:>9.2f} {lo:>9.2f} {hi:>9.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
