"""Speed of the transferability scores (issue 25: LogME on 20,000 x 384
features with 10 classes in under 5 s on 2 cores).

The features are float32, as a pretrained model's `predict` returns them:
class centres drawn at random, 0.3 apart in units of the Gaussian noise
around them (a sentence encoder's 384 dimensions, 10 classes). Each
repetition times `tfxfer.logme` once (conversion to float64 included), and,
for context, `tfxfer.h_score`, `tfxfer.leep` on 100-class softmax outputs
and `tfxfer.nce` on their argmax. BLAS threads are capped at `--threads`
(default 2) with threadpoolctl where it is installed.

Reported: seconds per call, median, minimum and maximum over the
repetitions.

    python benchmarks/bench_transferability.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SAMPLES, DIMS, CLASSES, SOURCE_CLASSES = 20_000, 384, 10, 100
LIMIT_SECONDS = 5.0


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, SAMPLES)
    centres = 0.3 * rng.normal(size=(CLASSES, DIMS))
    features = (centres[labels] + rng.normal(size=(SAMPLES, DIMS))).astype(np.float32)
    logits = rng.normal(size=(SAMPLES, SOURCE_CLASSES)).astype(np.float32)
    logits[np.arange(SAMPLES), labels] += 2.0
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return features, labels, probabilities


def _thread_limit(threads: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import tfxfer

    features, labels, probabilities = _data()
    source_labels = probabilities.argmax(axis=1)
    calls = {
        "logme": lambda: tfxfer.logme(features, labels),
        "h_score": lambda: tfxfer.h_score(features, labels),
        "leep": lambda: tfxfer.leep(probabilities, labels),
        "nce": lambda: tfxfer.nce(source_labels, labels),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    values = {}
    with _thread_limit(args.threads):
        for _ in range(args.repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                values[name] = call()
                times[name].append(time.perf_counter() - start)
    print(
        f"{SAMPLES} x {DIMS} float32 features, {CLASSES} classes, "
        f"{SOURCE_CLASSES} source classes; {args.repeats} repetitions, "
        f"BLAS threads <= {args.threads}, {os.cpu_count()} CPUs visible"
    )
    for name, seconds in times.items():
        print(
            f"{name:8s} {statistics.median(seconds):7.3f} s median "
            f"(min {min(seconds):.3f}, max {max(seconds):.3f})  "
            f"value {values[name]:.6f}"
        )
    median = statistics.median(times["logme"])
    verdict = "within" if median < LIMIT_SECONDS else "OVER"
    print(f"logme: {median:.3f} s, {verdict} the {LIMIT_SECONDS:.0f} s budget")


if __name__ == "__main__":
    main()
