"""Running the demo's scenarios, in this process or in worker processes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfxfer.comparison import (
    compare_transfer,
    first_match,
    summarize_comparison,
    write_verdict,
)
from tfxfer.demo import digits, domain_shift, text
from tfxfer.demo.scores import correlations, score_fractions, source_table
from tfxfer.demo.settings import BASELINE, ScenarioResult, Settings
from tfxfer.utils.validation import (
    check_choice,
    check_non_negative_int,
    check_positive_int,
)

SCENARIO_BUILDERS = {
    "domain-shift": domain_shift.build,
    "digits": digits.build,
    "text": text.build,
}
SCENARIOS = tuple(SCENARIO_BUILDERS)
# Relative cost of the full scenarios (measured: seconds of one process on
# the 2-core development machine), to hand the longest out first.
SCENARIO_COST = {"text": 250, "domain-shift": 75, "digits": 60}

# Scenarios built in this process, kept for the next part of the same
# scenario: building one pretrains its source models and its strategies'
# Trainers.
_BUILT: dict[tuple, Any] = {}


def _measure_part(
    name: str,
    fractions: tuple[float, ...],
    quick: bool,
    seed: int,
    verbose: int,
    part: str = "",
) -> dict[str, Any]:
    """Runs a scenario's comparison for some of its label fractions.

    Runs in the calling process or in a worker process of `run_demo`. The
    runs of one fraction do not depend on which other fractions a process
    ran before them (every run is seeded and starts from reset weights and
    optimizer state), so a scenario split over several processes gives the
    same numbers as one process.
    """
    settings = Settings.get(quick)
    key = (name, seed, quick)
    prefix = f"{name}{part}"
    if key not in _BUILT:
        if verbose:
            print(
                f"== {prefix}: pretraining / loading the source model ...", flush=True
            )
        _BUILT[key] = SCENARIO_BUILDERS[name](seed, settings)
    scenario = _BUILT[key]
    if verbose:
        print(f"== {prefix}: {scenario.title}", flush=True)
    y_test = np.asarray(scenario.data[3])
    num_classes = int(max(np.max(scenario.data[1]), y_test.max())) + 1
    # Before any training: every source scored on the labels of the very
    # subsets the strategies are about to train on.
    scores = None
    if scenario.sources:
        scores = score_fractions(
            scenario.sources,
            scenario.data[1],
            fractions,
            settings.seeds(seed),
            num_classes,
        )
        if verbose:
            print(
                f"== {prefix}: scored {len(scenario.sources)} sources before "
                f"training in {scores['score_seconds'].sum():.1f} s",
                flush=True,
            )
    results = compare_transfer(
        scenario.strategies,
        *scenario.data,
        fractions=fractions,
        seeds=settings.seeds(seed),
        baseline=BASELINE,
        verbose=verbose,
        print_fn=lambda line: print(f"{prefix} {line}", flush=True),
        only_at=scenario.only_at,
    )
    counts = np.bincount(y_test)
    return {
        "title": scenario.title,
        "results": results,
        "pretrain_seconds": scenario.pretrain_seconds,
        "n_test": len(y_test),
        "descriptions": scenario.descriptions,
        "notes": scenario.notes,
        "no_transfer": scenario.no_transfer,
        "references": scenario.references,
        "majority": float(counts.max() / counts.sum()),
        "chance": 1.0 / num_classes,
        "scores": scores,
        "sources": {
            name: (source.strategies, source.seconds, source.features.shape[1])
            for name, source in scenario.sources.items()
        },
    }


def _scenario_result(
    name: str, parts: Sequence[dict[str, Any]], settings: Settings
) -> ScenarioResult:
    """Joins the parts of one scenario and writes its summary and verdict."""
    import pandas as pd

    results = pd.concat([part["results"] for part in parts], ignore_index=True)
    # The order one process would have produced: by fraction, then seed.
    results = results.sort_values("fraction", kind="stable", ignore_index=True)
    summary = summarize_comparison(results)
    matches = first_match(results, BASELINE)
    first = parts[0]
    table = correlation = None
    if first["sources"]:
        scored = pd.concat([part["scores"] for part in parts], ignore_index=True)
        table = source_table(name, scored, results, first["sources"])
        correlation = correlations(table)
    results.insert(0, "scenario", name)
    return ScenarioResult(
        name=name,
        title=first["title"],
        results=results,
        summary=summary,
        matches=matches,
        verdict=write_verdict(
            summary,
            matches,
            first["n_test"],
            BASELINE,
            no_transfer=first["no_transfer"],
        ),
        pretrain_seconds=max(part["pretrain_seconds"] for part in parts),
        n_test=first["n_test"],
        descriptions=first["descriptions"],
        majority=first["majority"],
        chance=first["chance"],
        settings=settings,
        notes=first["notes"],
        references=first["references"],
        scores=table,
        score_correlations=correlation,
    )


class _NotRetracing(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning.

    TensorFlow counts traces per Python function, across models: the demo
    compiles one Trainer per strategy (each traced once), which TensorFlow
    reports as excessive retracing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def prepare_process() -> None:
    """Sets up this process to run the demo: deterministic, one thread per op.

    Called by `tfxfer demo` and by `run_demo`'s worker processes before any
    TensorFlow operation runs. Deterministic kernels make a seed give the
    same numbers every time; one thread per operation is as fast for these
    small models and lets two processes share two cores without competing.
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    tf.get_logger().addFilter(_NotRetracing())


def run_scenario(
    name: str, *, quick: bool = False, seed: int = 0, verbose: int = 1, jobs: int = 1
) -> ScenarioResult:
    """Runs one scenario of the demo and returns what it measured.

    Args:
        name: One of `SCENARIOS`.
        quick: Fewer fractions, one seed and fewer epochs (a smoke run).
        seed: First seed; the full run uses `seed`, `seed + 1`, `seed + 2`.
        verbose: 0 for silence, 1 for a line per training run.
        jobs: Processes to spread the runs over (see `run_demo`).

    Returns:
        A `ScenarioResult`.

    Raises:
        ValueError: If `name` is not a scenario or `seed` is negative.
    """
    return run_demo([name], quick=quick, seed=seed, verbose=verbose, jobs=jobs)[0]


def run_demo(
    tasks: Sequence[str] = SCENARIOS,
    *,
    quick: bool = False,
    seed: int = 0,
    verbose: int = 1,
    jobs: int = 1,
) -> list[ScenarioResult]:
    """Runs the demo's scenarios and returns what each measured.

    With `jobs` > 1 the work is shared out among that many worker processes
    (started fresh, so they work from Jupyter too), which run one model each
    on one thread: whole scenarios, the longest first, when there are at
    least as many scenarios as processes; otherwise each scenario's label
    fractions are dealt out. The numbers are the same as with `jobs=1`, as
    every run is seeded on its own. Progress lines name the scenario and,
    when a scenario is split, its part (`text/1`, `text/2`).

    Args:
        tasks: Scenario names, a subset of `SCENARIOS`.
        quick: Fewer fractions, one seed and fewer epochs.
        seed: First seed.
        verbose: 0 for silence, 1 for a line per training run.
        jobs: Number of processes; 1 runs everything in this process.

    Returns:
        One `ScenarioResult` per task, in order.

    Raises:
        ValueError: If a task is not a scenario, `seed` is negative or
            `jobs` is not a positive integer.

    Example:

    A quick run of the digits scenario (about 10 s on 2 cores; the full
    demo of all three takes minutes):

    >>> import tfxfer.demo
    >>> results = tfxfer.demo.run_demo(["digits"], quick=True, verbose=0)
    >>> results[0].name, results[0].n_test
    ('digits', 225)
    >>> sorted(results[0].results["strategy"].unique())
    ['fine-tune', 'frozen features', 'random CNN, frozen features', 'scratch']
    """
    if isinstance(tasks, str):
        tasks = (tasks,)
    for task in tasks:
        check_choice("tasks", task, SCENARIOS)
    seed = check_non_negative_int("seed", seed)
    jobs = check_positive_int("jobs", jobs)
    settings = Settings.get(quick)
    # With at least as many scenarios as processes, each process runs whole
    # scenarios (building one pretrains its source models: done once), the
    # longest handed out first so the processes finish close together. With
    # fewer, a scenario's fractions are dealt out to the processes.
    chunks = 1 if jobs == 1 or len(tasks) >= jobs else jobs
    parts = []
    for name in sorted(tasks, key=lambda n: -SCENARIO_COST[n]):
        fractions = settings.fractions_for(name)
        count = min(chunks, len(fractions))
        parts += [
            (name, fractions[i::count], f"/{i + 1}" if count > 1 else "")
            for i in range(count)
        ]
    if jobs == 1:
        measured = [
            _measure_part(name, part, quick, seed, verbose, label)
            for name, part, label in parts
        ]
    else:
        import concurrent.futures
        import multiprocessing

        with concurrent.futures.ProcessPoolExecutor(
            jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=prepare_process,
        ) as pool:
            futures = [
                pool.submit(_measure_part, name, part, quick, seed, verbose, label)
                for name, part, label in parts
            ]
            measured = [future.result() for future in futures]
    return [
        _scenario_result(
            name,
            [m for (part_name, _, _), m in zip(parts, measured) if part_name == name],
            settings,
        )
        for name in tasks
    ]
