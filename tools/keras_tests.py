"""Run Keras' own trainer and callback tests with `fit` routed to `tfxfer.train`.

    python tools/keras_tests.py MIRROR [--tag v3.15.1] [--workdir /tmp/keras_tests]
    python tools/keras_tests.py MIRROR --reuse  # print the table of the last run

MIRROR is a local git clone or mirror of keras-team/keras (nothing is
downloaded). The tool extracts `keras/src/trainers/trainer_test.py`,
`keras/src/callbacks/*_test.py`, Keras' root `conftest.py` and its
`pyproject.toml` (pytest settings: warnings as errors, as in Keras' CI) at
the tag into WORKDIR, which must lie outside this repository, then runs them
with pytest twice, each in its own process, with `KERAS_BACKEND=tensorflow`:

- `plain`: Keras as installed; the backend trainer's `fit` is wrapped only to
  record which tests reach it.
- `routed`: `fit` of every `keras.Model` calls `tfxfer.train(model, x, y,
  ...)` with fit's arguments mapped one to one (the model's `compile`
  supplies loss, metrics and optimizer, as `train` takes them when given
  none). Trainers that are not a `keras.Model` (trainer_test's
  `ExampleModel(Trainer, layers.Dense)`) keep Keras' `fit`.

It prints how many tests pass under Keras and reach `keras.Model.fit`, how
many of those pass through `train`, and each failure with a one-line reason.
Per-test outcomes are kept in WORKDIR/results-{plain,routed}.json.

This file is also the pytest plugin of both runs (`-p keras_tests`); its
module-level imports are the standard library only.

Where `jax` is not installed, trainer_test.py's top-level `import jax` (used
only when the backend is jax) is replaced by `jax = None`; the table says so.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib.util
import inspect
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
PLUGIN = pathlib.Path(__file__).stem
TEST_PATHS = ("keras/src/trainers/trainer_test.py", "keras/src/callbacks")
SUPPORT_FILES = ("conftest.py", "pyproject.toml")
# fit's arguments, each passed to `tfxfer.train` under the same name.
FIT_ARGUMENTS = (
    "batch_size",
    "epochs",
    "verbose",
    "callbacks",
    "validation_split",
    "validation_data",
    "shuffle",
    "class_weight",
    "sample_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
)
MODE_VARIABLE = "TFXFER_KERAS_TESTS_MODE"
OUT_VARIABLE = "TFXFER_KERAS_TESTS_OUT"
TIMEOUT_VARIABLE = "TFXFER_KERAS_TESTS_TEST_TIMEOUT"


class ToolError(Exception):
    """A problem with the tool's arguments or the mirror, reported in one line."""


# ---------------------------------------------------------------- extraction


def _git(mirror: pathlib.Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(mirror), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise ToolError(
            f"`git {' '.join(args)}` failed in the mirror {mirror}: "
            f"{result.stderr.strip()}"
        )
    return result.stdout


def extract(mirror: pathlib.Path, tag: str, workdir: pathlib.Path) -> list[str]:
    """Writes the test files of `tag` under `workdir`; returns notes on edits."""
    if not mirror.is_dir():
        raise ToolError(
            "`mirror` must be a local git clone or mirror of keras-team/keras "
            f"(nothing is downloaded). Received: mirror={str(mirror)!r}, "
            "which does not exist"
        )
    try:
        _git(mirror, "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}")
    except ToolError as error:
        raise ToolError(
            f"`tag` must name a commit of the mirror {mirror}. Received: tag={tag!r}"
        ) from error
    workdir = workdir.resolve()
    if workdir == REPO or REPO in workdir.parents:
        raise ToolError(
            "`workdir` must lie outside the tfxfer repository. "
            f"Received: workdir={str(workdir)!r}"
        )
    listed = _git(mirror, "ls-tree", "-r", "--name-only", tag, "--", *TEST_PATHS)
    tests = sorted(name for name in listed.split() if name.endswith("_test.py"))
    if not tests:
        raise ToolError(f"No test files under {TEST_PATHS} at tag {tag!r}")
    notes = []
    jax_missing = importlib.util.find_spec("jax") is None
    for name in (*SUPPORT_FILES, *tests):
        text = _git(mirror, "show", f"{tag}:{name}")
        if jax_missing and name.endswith("trainer_test.py"):
            text, count = re.subn(
                r"^import jax$",
                "jax = None  # keras_tests.py: jax is not installed",
                text,
                flags=re.MULTILINE,
            )
            if count:
                notes.append(f"{name}: top-level `import jax` -> `jax = None`")
        target = workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return notes


# ------------------------------------------------------------------- running


def run_pass(
    mode: str,
    workdir: pathlib.Path,
    files: list[str],
    pytest_args: list[str],
    test_timeout: int,
) -> float:
    """Runs pytest on `files` in `mode`; returns the seconds it took."""
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND="tensorflow",
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(REPO / "tools"), str(REPO), env.get("PYTHONPATH")])
        ),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env[MODE_VARIABLE] = mode
    env[OUT_VARIABLE] = str(workdir / f"results-{mode}.json")
    env[TIMEOUT_VARIABLE] = str(test_timeout)
    command = ["nice", "-n", "10", sys.executable, "-m", "pytest"]
    command += ["-p", PLUGIN, "-p", "no:cacheprovider", "-q", "-rN"]
    command += [*files, *pytest_args]
    log = workdir / f"pytest-{mode}.log"
    start = time.perf_counter()
    with open(log, "w") as stream:
        subprocess.run(
            command, cwd=workdir, env=env, stdout=stream, stderr=subprocess.STDOUT
        )
    seconds = time.perf_counter() - start
    if not (workdir / f"results-{mode}.json").exists():
        raise ToolError(f"The {mode} run wrote no results; see {log}")
    return seconds


# -------------------------------------------------------------------- report


def _load(workdir: pathlib.Path, mode: str) -> dict:
    path = workdir / f"results-{mode}.json"
    if not path.exists():
        raise ToolError(
            f"No results of the {mode} run in {workdir}; run without --reuse"
        )
    return json.loads(path.read_text())


def report(workdir: pathlib.Path, tag: str, notes: list[str]) -> dict:
    """Prints the table from the results of both runs; returns its numbers."""
    plain, routed = _load(workdir, "plain"), _load(workdir, "routed")
    tests, rtests = plain["tests"], routed["tests"]

    def count(results, outcome):
        return sum(r["outcome"] == outcome for r in results.values())

    print(f"Keras {tag}: {len(plain['files'])} test files, TensorFlow backend")
    for note in notes:
        print(f"  note: {note}")
    for name, results in (("plain", plain), ("routed", routed)):
        summary = ", ".join(
            f"{count(results['tests'], o)} {o}" for o in ("passed", "failed", "skipped")
        )
        print(f"  {name:6} run: {summary} ({results['seconds']:.0f} s)")
    for error in plain["collection_errors"]:
        print(f"  collection error (plain): {error}")
    broken = collections.Counter(
        r["reason"].split(" [")[0][:100]
        for r in tests.values()
        if r["outcome"] == "failed"
    )
    if broken:
        print(f"  failing under Keras itself (not counted): {sum(broken.values())}")
        for reason, times in broken.most_common():
            print(f"    {times:3d} x {reason}")
    model_fit = sorted(
        n for n, r in tests.items() if r["outcome"] == "passed" and r["reached"]
    )
    trainer_only = sorted(
        n
        for n, r in tests.items()
        if r["outcome"] == "passed" and not r["reached"] and r["reached_trainer"]
    )
    passing = [n for n in model_fit if rtests.get(n, {}).get("outcome") == "passed"]
    failing = [n for n in model_fit if n not in passing]
    print(
        f"Passing under Keras and reaching keras.Model.fit: {len(model_fit)}"
        f" (another {len(trainer_only)} reach only the fit of a Trainer that is"
        " not a keras.Model, not routed)"
    )
    print(f"  of those, passing through tfxfer.train: {len(passing)}")
    print(f"  failing through tfxfer.train: {len(failing)}")
    for name in failing:
        result = rtests.get(name, {"outcome": "missing", "reason": "not run"})
        print(f"    {name}")
        print(f"        {result['outcome']}: {result['reason']}")
    changed = sorted(
        n
        for n, r in rtests.items()
        if r["outcome"] == "failed"
        and n not in model_fit
        and tests.get(n, {}).get("outcome") == "passed"
    )
    if changed:
        print(f"  also failing when routed though they do not reach fit: {changed}")
    return {"model_fit": len(model_fit), "passing": len(passing), "failing": failing}


# -------------------------------------------------------- the pytest plugin

_STATE = {"nodeid": None, "reached": set(), "reached_trainer": set()}
_ROUTING = threading.local()


def _install(mode: str) -> None:
    """Wraps the backend trainer's `fit` to record calls and, if routed, route."""
    import keras

    owner = next(c for c in keras.Model.__mro__ if "fit" in vars(c))
    original = owner.fit
    signature = inspect.signature(original)
    if mode == "routed":
        import tfxfer

    @functools.wraps(original)
    def fit(self, *args, **kwargs):
        nodeid = _STATE["nodeid"]
        if not isinstance(self, keras.Model):
            _STATE["reached_trainer"].add(nodeid)
            return original(self, *args, **kwargs)
        _STATE["reached"].add(nodeid)
        if mode != "routed" or getattr(_ROUTING, "active", False):
            return original(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        del arguments["self"]
        x, y = arguments.pop("x"), arguments.pop("y")
        unknown = {
            k: v
            for k, v in arguments.items()
            if k not in FIT_ARGUMENTS and v is not signature.parameters[k].default
        }
        if unknown:
            raise TypeError(f"keras_tests.py maps no fit argument {sorted(unknown)}")
        _ROUTING.active = True
        try:
            return tfxfer.train(self, x, y, **{k: arguments[k] for k in FIT_ARGUMENTS})
        finally:
            _ROUTING.active = False

    owner.fit = fit


def _short(path: str, lineno: int) -> str:
    parts = pathlib.Path(path).parts
    if "site-packages" in parts:
        parts = parts[parts.index("site-packages") + 1 :]
    elif "tfxfer" in parts:
        parts = parts[parts.index("tfxfer") :]
    else:
        parts = parts[-1:]
    return f"{'/'.join(parts)}:{lineno}"


def _reason(report) -> str:
    """The error's message, the test's line, and where it was raised."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is None:
        text = str(report.longrepr).strip().splitlines()
        return text[-1][:300] if text else ""
    message = " ".join(crash.message.split())
    if len(message) > 240:
        message = message[:237] + "..."
    places = []
    chain = getattr(report.longrepr, "chain", None)
    if chain:
        entries = getattr(chain[-1][0], "reprentries", [])
        locations = [e.reprfileloc for e in entries if getattr(e, "reprfileloc", 0)]
        tests = [loc for loc in locations if loc.path.endswith("_test.py")]
        if tests:
            places.append(f"test {_short(tests[-1].path, tests[-1].lineno)}")
        ours = [loc for loc in locations if "tfxfer" in pathlib.Path(loc.path).parts]
        if ours:
            places.append(f"tfxfer {_short(ours[-1].path, ours[-1].lineno)}")
    raised = _short(crash.path, crash.lineno)
    if not places or not places[-1].endswith(raised):
        places.append(f"raised {raised}")
    return f"{message} [{'; '.join(places)}]"


class _Recorder:
    def __init__(self, mode: str, out: str, timeout: int):
        self.mode, self.out, self.timeout = mode, out, timeout
        self.tests, self.files, self.collection_errors = {}, set(), []
        self.start = time.perf_counter()

    def pytest_configure(self, config):
        _install(self.mode)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {_reason(report)}")

    def pytest_runtest_logstart(self, nodeid, location):
        _STATE["nodeid"] = nodeid
        self.files.add(location[0])
        if self.timeout:
            signal.alarm(self.timeout)

    def pytest_runtest_logfinish(self, nodeid, location):
        signal.alarm(0)

    def pytest_runtest_logreport(self, report):
        result = self.tests.setdefault(
            report.nodeid, {"outcome": "passed", "reason": "", "phase": ""}
        )
        if result["outcome"] == "failed":
            return
        if report.failed:
            result.update(outcome="failed", reason=_reason(report), phase=report.when)
        elif report.skipped and result["outcome"] != "skipped":
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            result.update(outcome="skipped", reason=str(reason), phase=report.when)

    def pytest_sessionfinish(self, session):
        for nodeid, result in self.tests.items():
            result["reached"] = nodeid in _STATE["reached"]
            result["reached_trainer"] = nodeid in _STATE["reached_trainer"]
        data = {
            "mode": self.mode,
            "seconds": time.perf_counter() - self.start,
            "files": sorted(self.files),
            "collection_errors": self.collection_errors,
            "tests": self.tests,
        }
        path = pathlib.Path(self.out)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True))
        temporary.replace(path)


def _timeout(signum, frame):
    raise TimeoutError("the test ran past the per-test limit of keras_tests.py")


def pytest_configure(config):
    mode = os.environ.get(MODE_VARIABLE)
    if mode not in ("plain", "routed"):
        return
    timeout = int(os.environ.get(TIMEOUT_VARIABLE, "0"))
    signal.signal(signal.SIGALRM, _timeout)
    config.pluginmanager.register(
        _Recorder(mode, os.environ[OUT_VARIABLE], timeout), "keras_tests_recorder"
    )


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mirror", type=pathlib.Path, help="git mirror of Keras")
    parser.add_argument("--tag", default="v3.15.1")
    parser.add_argument(
        "--workdir", type=pathlib.Path, default=pathlib.Path("/tmp/keras_tests")
    )
    parser.add_argument(
        "--test-timeout", type=int, default=600, help="seconds per test (0: none)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="print the table of the last run"
    )
    parser.add_argument(
        "--only", choices=("plain", "routed"), help="run this pass alone"
    )
    parser.add_argument("-k", dest="keyword", help="run only the tests pytest -k picks")
    args = parser.parse_args(argv)
    try:
        notes = extract(args.mirror, args.tag, args.workdir)
        if not args.reuse:
            files = list(TEST_PATHS)
            for mode in ("plain", "routed"):
                if args.only in (None, mode):
                    extra = ["-k", args.keyword] if args.keyword else []
                    seconds = run_pass(
                        mode, args.workdir, files, extra, args.test_timeout
                    )
                    print(f"{mode} run: {seconds:.0f} s", flush=True)
        report(args.workdir, args.tag, notes)
    except ToolError as error:
        print(f"keras_tests.py: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
