"""Start-up time: the `tfxfer` command against importing TensorFlow.

Each repetition runs, one after the other (interleaved, so a load change
hits them all), as fresh processes from a folder outside the checkout:

- `tfxfer --version` and `tfxfer --help` (the console script of this
  environment);
- `python -c "import tensorflow"`, the floor any command that imports
  TensorFlow pays;
- `python -c "import tfxfer"`: TensorFlow and Keras imported (quietly),
  tfxfer's classes registered;
- `python -c "pass"`: the interpreter alone.

Reported: wall-clock seconds per command (median, minimum, maximum over the
repetitions) and the ratio of each to `import tensorflow`, computed per
repetition, then summarized the same way.

    python benchmarks/bench_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time


def _commands() -> dict[str, list[str]]:
    script = str(pathlib.Path(sys.executable).parent / "tfxfer")
    return {
        "tfxfer --version": [script, "--version"],
        "tfxfer --help": [script, "--help"],
        "import tensorflow": [sys.executable, "-c", "import tensorflow"],
        "import tfxfer": [sys.executable, "-c", "import tfxfer"],
        "python (nothing)": [sys.executable, "-c", "pass"],
    }


def _time(command: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, timeout=300)
    return time.perf_counter() - start


def _summary(values: list[float], unit: str = "") -> str:
    return (
        f"{statistics.median(values):.3g}{unit} [{min(values):.3g}-{max(values):.3g}]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    commands = _commands()
    times = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as outside:
        for command in commands.values():  # warm the file cache once
            _time(command, outside)
        for _ in range(args.repeats):
            for name, command in commands.items():
                times[name].append(_time(command, outside))
    floor = times["import tensorflow"]
    print(
        f"{args.repeats} interleaved repetitions; median [min-max]; "
        f"{os.cpu_count()} CPUs; python {sys.version.split()[0]}"
    )
    print("| command | seconds | ratio to `import tensorflow` |")
    print("|---|---:|---:|")
    for name, values in times.items():
        ratios = [value / base for value, base in zip(values, floor, strict=True)]
        print(f"| `{name}` | {_summary(values)} | {_summary(ratios, 'x')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
