"""Training speed under tf.distribute: `tfxfer.train` with one step per
compiled call against several (`steps_per_execution` 8, 32, "auto"), with
and without XLA, and against Keras `fit` under the same strategy at each of
the same settings (its best is the fastest that runs).

Strategies: the default one (no strategy) and `MirroredStrategy` over 2
logical CPU devices. Keras 3 `fit` does not run under
`MultiWorkerMirroredStrategy` (keras-team/keras#20585), so that strategy has
no `fit` to compare with and is left out here (tests/test_distributed.py
checks that tfxfer trains under it).

Workload: MLP 64-256-256-10 (relu, softmax), 8,192 samples, global batch 64
(128 steps per epoch, small enough that the cost of each compiled call
shows), Adam, sparse categorical cross-entropy, `shuffle=False`.

Each strategy runs in its own process (logical devices must be set before
TensorFlow starts). There each method trains its own model, reused across
repetitions; a repetition is one 2-epoch call of which the second epoch is
timed (the first compiles; tfxfer's "auto" measures its step there). Every
repetition runs all methods one after the other (interleaved, so a load
change hits them all); ratios are computed per repetition, then summarized
as median, minimum and maximum. A method that fails is reported with its
error, not hidden.

On a 2-core CPU the 2 replicas share the same two cores: no speed-up from
the strategy is expected; the point is what one compiled call per step
costs, and what several save.

    python benchmarks/bench_distributed.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    strategy_name, repeats, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import numpy as np
    import tensorflow as tf
    if strategy_name == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import tfxfer

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    x = rng.random((samples, 64), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    if strategy_name == "mirrored":
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.get_strategy()
    LOSS = "sparse_categorical_crossentropy"
    KW = dict(batch_size=64, epochs=2, shuffle=False, verbose=0)

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.began = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.began

    def model(compile_kwargs=None):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            m = keras.Sequential([
                keras.Input((64,)),
                keras.layers.Dense(256, activation="relu"),
                keras.layers.Dense(256, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ])
            if compile_kwargs is not None:
                m.compile("adam", LOSS, **compile_kwargs)
        return m

    def train(spe, jit):
        m = model()
        def run(timer):
            tfxfer.train(m, x, y, loss=LOSS, steps_per_execution=spe,
                         jit_compile=jit, callbacks=[timer], **KW)
        return run

    def fit(spe, jit):
        m = model(dict(steps_per_execution=spe, jit_compile=jit))
        def run(timer):
            m.fit(x, y, callbacks=[timer], **KW)
        return run

    METHODS = {
        "tfxfer spe=1": lambda: train(1, False),
        "tfxfer spe=8": lambda: train(8, False),
        "tfxfer spe=32": lambda: train(32, False),
        "tfxfer spe=auto": lambda: train("auto", False),
        "tfxfer spe=32, XLA": lambda: train(32, True),
        "fit spe=1": lambda: fit(1, False),
        "fit spe=8": lambda: fit(8, False),
        "fit spe=32": lambda: fit(32, False),
        "fit spe=1, XLA": lambda: fit(1, True),
        "fit spe=32, XLA": lambda: fit(32, True),
    }
    runs, failures = {}, {}
    for name, make in METHODS.items():
        try:
            run = make()
            run(EpochTimer())  # warm-up: traces, compiles, builds the optimizer
            runs[name] = run
        except Exception as error:  # reported in the table, not hidden
            lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
            text = next((ln for ln in lines if "Error" in ln or "must" in ln),
                        lines[-1] if lines else type(error).__name__)
            failures[name] = f"{type(error).__name__}: {text}"[:150]
    rates = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            timer = EpochTimer()
            run(timer)
            rates[name].append(samples / timer.seconds)
    print(json.dumps({"rates": rates, "failures": failures,
                      "replicas": strategy.num_replicas_in_sync}))
    """
)


def _run(strategy: str, repeats: int, samples: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, strategy, str(repeats), str(samples)],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if result.returncode:
        raise RuntimeError(f"{strategy} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _summary(values: list[float], digits: str) -> str:
    return (
        f"{statistics.median(values):{digits}} "
        f"[{min(values):{digits}}-{max(values):{digits}}]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    repeats, samples = (1, 1024) if args.quick else (args.repeats, 8192)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{repeats} interleaved repetitions; {os.cpu_count()} CPUs; "
        f"load average {load:.1f} at start"
    )
    print(
        "| strategy | method | samples/s, median [min-max] | "
        "ratio to tfxfer spe=1 | ratio to fit at its best |"
    )
    print("|---|---|---:|---:|---:|")
    for strategy in ("default", "mirrored"):
        out = _run(strategy, repeats, samples)
        rates, failures = out["rates"], out["failures"]
        label = f"{strategy} ({out['replicas']} replica{'s' * (out['replicas'] > 1)})"
        fits = [name for name in rates if name.startswith("fit")]
        best = max(fits, key=lambda n: statistics.median(rates[n]), default=None)
        base = rates.get("tfxfer spe=1")
        for name in [*rates, *failures]:
            if name in failures:
                print(f"| {label} | {name} | fails: {failures[name]} | - | - |")
                continue
            values = rates[name]
            to_base = to_best = "-"
            if base is not None:
                to_base = _summary(
                    [v / b for v, b in zip(values, base, strict=True)], ".2f"
                )
            if best is not None:
                ratios = [v / b for v, b in zip(values, rates[best], strict=True)]
                to_best = _summary(ratios, ".2f")
            rate = _summary(values, ",.0f")
            print(f"| {label} | {name} | {rate} | {to_base} | {to_best} |")
        if best is not None:
            print(f"| {label} | (fit at its best: {best}) | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
