"""Cost of tf.distribute on one machine: samples per second of `tfxfer.train`
on one device, under MirroredStrategy (2 logical CPU devices) and under
MultiWorkerMirroredStrategy (2 worker processes on 127.0.0.1), with Keras
`fit` under MirroredStrategy beside it, at its defaults and with
`steps_per_execution=32` (Keras 3 `fit` does not run under
MultiWorkerMirroredStrategy: keras-team/keras#20585).

Workload: MLP 64-256-256-10 (relu, softmax), 16,384 samples, global batch
256, Adam, sparse categorical cross-entropy, `shuffle=False`. Each method
runs in fresh processes (logical devices must be set before TensorFlow
starts); it trains 1 warm-up epoch, then 3 timed epochs. Every repetition
runs all methods one after the other (interleaved); reported are the median
and range of samples/s over the repetitions.

On a 2-core CPU no speed-up is expected: the replicas share the same two
cores. The point is what the machinery costs, measured honestly.

    python benchmarks/bench_distributed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    method, index, ports = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if method == "multiworker":
        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports.split(",")]},
            "task": {"type": "worker", "index": index},
        })
    import numpy as np
    import tensorflow as tf
    if method.startswith("mirrored"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import tfxfer

    rng = np.random.default_rng(0)
    x = rng.random((16384, 64), dtype=np.float32)
    y = rng.integers(0, 10, 16384)
    if method.startswith("mirrored"):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    elif method == "multiworker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
        if method == "mirrored-fit":
            model.compile("adam", "sparse_categorical_crossentropy")
        if method == "mirrored-fit-best":
            # Keras at its best here: 32 steps per compiled call.
            model.compile("adam", "sparse_categorical_crossentropy",
                          steps_per_execution=32)
    kw = dict(batch_size=256, shuffle=False, verbose=0)

    def run(epochs):
        if method.startswith("mirrored-fit"):
            model.fit(x, y, epochs=epochs, **kw)
        else:
            tfxfer.train(model, x, y, loss="sparse_categorical_crossentropy",
                         epochs=epochs, **kw)

    run(1)
    start = time.perf_counter()
    run(3)
    seconds = time.perf_counter() - start
    print(json.dumps({"samples_per_second": 3 * len(x) / seconds}))
    """
)

METHODS = ("one device", "mirrored", "multiworker", "mirrored-fit", "mirrored-fit-best")


def _free_ports(n: int) -> str:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ",".join(map(str, ports))


def _run(script: str, method: str) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    workers = 2 if method == "multiworker" else 1
    ports = _free_ports(2)
    processes = [
        subprocess.Popen(
            [sys.executable, script, method, str(i), ports],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(workers)
    ]
    try:
        outputs = [p.communicate(timeout=600) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(processes, outputs, strict=True):
        if p.returncode:
            raise RuntimeError(f"{method} failed:\n{err[-3000:]}")
    # Workers train the same global batches together: one worker's rate.
    return json.loads(outputs[0][0].strip().splitlines()[-1])["samples_per_second"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rates = {method: [] for method in METHODS}
    failures = {}
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "bench_worker.py")
        with open(script, "w", encoding="utf-8") as handle:
            handle.write(SCRIPT)
        for _ in range(args.repeats):
            for method in METHODS:
                if method in failures:
                    continue
                try:
                    rates[method].append(_run(script, method))
                except RuntimeError as error:  # reported, not hidden
                    lines = [ln for ln in str(error).splitlines() if ln.strip()]
                    failures[method] = next(
                        (ln.strip() for ln in lines if "Error" in ln), lines[-1]
                    )[:160]
    base = rates["one device"]
    print(f"{args.repeats} interleaved repetitions; {os.cpu_count()} CPUs")
    print("| method | samples/s, median [min-max] | ratio to one device |")
    print("|---|---:|---:|")
    for method, values in rates.items():
        if method in failures:
            print(f"| {method} | fails: {failures[method]} | - |")
            continue
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        print(
            f"| {method} | {statistics.median(values):,.0f} "
            f"[{min(values):,.0f}-{max(values):,.0f}] | "
            f"{statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
