"""Runs the README's Python examples, so the documented code keeps working.

Each ```python block must stand on its own, as a reader pastes it into a
fresh interpreter: it imports `tfxfer` first (TensorFlow then starts without
its C++ start-up lines), prints its result, and ends with the output it gave
on the development machine, as comment lines after a `# Prints here` line.
The slow test runs every block in a fresh process of its own and checks that
output: the text word for word, the numbers within a tolerance (accuracies
move a little between CPUs; a wrong README number does not pass).
"""

import ast
import concurrent.futures
import math
import os
import pathlib
import re
import subprocess
import sys

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"

# A thousands-grouped integer (19,855), or a decimal number (0.876, 1e-3).
_NUMBER = re.compile(
    r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE
)


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _expected_lines(block: str) -> list[str]:
    """The comment lines after `# Prints here...:`, without their `#`."""
    lines = block.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("# Prints here")]
    if not starts:
        return []
    expected = []
    for line in lines[starts[-1] + 1 :]:
        if not line.startswith("#   "):
            break
        expected.append(line[4:].strip())
    return expected


def _pieces(line: str) -> list:
    """A line split into text and numbers, e.g. ['acc ', 0.876, '']."""
    pieces = []
    position = 0
    for match in _NUMBER.finditer(line):
        pieces.append(" ".join(line[position : match.start()].split()))
        pieces.append(float(match.group().replace(",", "")))
        position = match.end()
    pieces.append(" ".join(line[position:].split()))
    return pieces


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=0.05, abs_tol=0.05)


def _matches(expected: str, printed: str) -> bool:
    """True if `printed` starts as `expected` does, numbers within tolerance.

    A long printed line may go on past what the README quotes of it.
    """
    want, got = _pieces(expected), _pieces(printed)
    if len(got) < len(want):
        return False
    for i, (w, g) in enumerate(zip(want, got)):
        if isinstance(w, float):
            if not _close(g, w):
                return False
        elif i == len(want) - 1:
            if not g.startswith(w):
                return False
        elif g != w:
            return False
    return True


def test_readme_has_python_examples():
    assert len(_python_blocks()) >= 8


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_block_stands_alone_and_says_what_it_prints(index):
    """Imports tfxfer before anything else, prints, and quotes its output."""
    block = _python_blocks()[index]
    tree = ast.parse(block)
    imports = [
        node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert imports, f"block {index} imports nothing"
    first = imports[0]
    names = (
        [alias.name for alias in first.names]
        if isinstance(first, ast.Import)
        else [first.module]
    )
    assert names == ["tfxfer"], f"block {index} imports {names} before tfxfer"
    calls = [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    ]
    assert "print" in calls, f"block {index} prints nothing"
    assert _expected_lines(block), f"block {index} has no '# Prints here' lines"


def test_output_matching_checks_text_and_numbers():
    assert _matches("test accuracy: 0.876", "test accuracy: 0.8711")
    assert not _matches("test accuracy: 0.876", "test accuracy: 0.611")
    assert not _matches("test accuracy: 0.876", "train accuracy: 0.876")
    assert _matches("params: 19,855 || x", "params: 19,860 || x")
    assert not _matches("3 epochs", "5 epochs")
    assert _matches("(3, 384) [[1.0, 0.61]]", "(3, 384) [[1.0, 0.62]]")
    assert _matches("the loss was nan.", "the loss was nan. The batch holds")
    assert not _matches("1 replica(s)", "2 replica(s)")


def _run_block(block: str, folder: pathlib.Path, cache: pathlib.Path):
    folder.mkdir()
    script = folder / "block.py"
    script.write_text(block)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TFXFER_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=900,
    )


@pytest.mark.slow
def test_readme_python_examples_run_alone_and_print_what_they_say(tmp_path):
    # Every block in a fresh process and folder of its own, two at a time.
    blocks = _python_blocks()
    cache = tmp_path / "cache"
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(
            pool.map(
                _run_block,
                blocks,
                [tmp_path / f"block{i}" for i in range(len(blocks))],
                [cache] * len(blocks),
            )
        )
    problems = []
    for index, (block, result) in enumerate(zip(blocks, results)):
        if result.returncode != 0:
            problems.append(f"block {index} failed:\n{result.stderr[-3000:]}")
            continue
        printed = result.stdout.splitlines()
        for expected in _expected_lines(block):
            if not any(_matches(expected, line) for line in printed):
                problems.append(
                    f"block {index} did not print {expected!r}; it printed:\n"
                    + "\n".join(printed[-15:])
                )
    assert not problems, "\n\n".join(problems)


def test_classroom_exercise_is_at_most_18_lines_of_public_api():
    """Issue 16: the exercise a teacher sets fits in a screen and draws its
    learning curves with `plot_history`; issue 24 added the scratch baseline
    it is compared with (it runs in the test above)."""
    text = README.read_text()
    section = text[text.index("## A classroom exercise") :]
    code = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)
    lines = [
        line
        for line in code.splitlines()
        if line.strip() and not line.startswith("#   ")
    ]
    lines = [line for line in lines if not line.startswith("# Prints here")]
    assert len(lines) <= 18, lines
    for name in ("sample_per_class", "fine_tune", "plot_history", "clone_model"):
        assert name in code
    assert "tfxfer._" not in code and "tfxfer.training" not in code
