"""`tfxfer demo`: measure transfer against training from scratch, offline."""

from __future__ import annotations

import argparse
import os
import time

from tfxfer.commands import _shared

SCENARIO_NAMES = ("domain-shift", "digits", "text")


def run(args: argparse.Namespace) -> int:
    # Deterministic kernels make TensorFlow log harmless C++ "errors" about
    # tf.data attributes; the demo's output is its table. Set before
    # TensorFlow is imported (by the first `from tfxfer import`), unless the
    # user chose a level.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tfxfer import demo

    # Same seeds, same numbers: deterministic kernels (small models, no cost
    # worth noticing); the worker processes of --jobs are set up the same way.
    demo.prepare_process()
    tasks = SCENARIO_NAMES if args.task == "all" else (args.task,)
    start = time.perf_counter()
    mode = "quick" if args.quick else "full"
    print(
        f"tfxfer demo ({mode}): {', '.join(tasks)}; {args.jobs} process"
        f"{'es' if args.jobs > 1 else ''}; results go to {args.out}/",
        flush=True,
    )
    scenarios = demo.run_demo(
        tasks,
        quick=args.quick,
        seed=args.seed,
        verbose=0 if args.quiet else 1,
        jobs=args.jobs,
    )
    written = demo.save_outputs(scenarios, args.out)
    print()
    print(f"Settings: {scenarios[0].settings.describe()}.")
    print()
    for scenario in scenarios:
        print(demo.format_scenario(scenario, plot=False))
    print("Wrote " + ", ".join(str(path) for path in written))
    print(f"Total time: {time.perf_counter() - start:.0f} s")
    return 0


# How `tfxfer.cli` registers the sub-command (`subparsers.add_parser`).
PARSER_OPTIONS = {
    "help": "measure transfer learning against training from scratch (offline)",
    "description": (
        "Train from scratch and with transfer on growing fractions of a "
        "target task's labels, on bundled data, and report test accuracy "
        "(mean ± std over seeds), training time, a plain-words verdict, and "
        "CSV and PNG files. Scenarios: domain-shift (clean digits -> noisy "
        "digits), digits (0-4 -> 5-9), text (MR movie reviews and MPQA news, "
        "Word2Vec, GloVe and the MiniLM sentence encoder -> CR product reviews, "
        "against a TF-IDF baseline). Before training, each transfer source is "
        "scored with LogME, LEEP, NCE and H-score, and the report says how well "
        "each score ranked the sources against the measured accuracies."
    ),
}


def add_arguments(parser) -> None:
    parser.add_argument(
        "--task",
        choices=("all", *SCENARIO_NAMES),
        default="all",
        help="scenario to run (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 2 label fractions, 1 seed, at most 3 epochs per stage "
        "(shows that it runs, not what transfer does)",
    )
    parser.add_argument(
        "--seed",
        type=_shared.non_negative_int,
        default=0,
        help="first seed (default: 0)",
    )
    parser.add_argument(
        "--jobs",
        type=_shared.positive_int,
        default=min(2, os.cpu_count() or 1),
        help="processes to share the training runs (default: 2, or 1 on a "
        "one-core machine); the numbers do not depend on it",
    )
    parser.add_argument(
        "--out",
        default="tfxfer-demo",
        help="directory for results.csv, summary.csv, scores.csv, "
        "score_correlations.csv, report.md and the PNG plots "
        "(default: ./tfxfer-demo)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress line per training run"
    )
